using UklLink.Inputs;

namespace UklLink.Analysis;

/// <summary>What makes an offset of a code section a boundary (see <see cref="CodeMap"/>).</summary>
internal enum BoundaryKind
{
    /// <summary>A symbol is defined there (<see cref="BoundaryReason.Name"/>, empty for a nameless one).</summary>
    Symbol,
    /// <summary>A relocation of another section refers to it (at <see cref="BoundaryReason.Section"/>+At).</summary>
    Relocation,
    /// <summary>An unwind-table entry (.eh_frame FDE) starts there; its relocation is at Section+At.</summary>
    UnwindEntry,
    /// <summary>A PC-relative jump-table entry at Section+At points there.</summary>
    JumpTableEntry,
    /// <summary>An absolute relocation of the section onto itself, outside any instruction, at Section+At (data in code).</summary>
    CodePointer,
    /// <summary>A direct branch at section offset At jumps there.</summary>
    BranchTarget,
    /// <summary>A RIP-relative operand of the instruction at At addresses it.</summary>
    RipTarget,
    /// <summary>The instruction at At takes its absolute address.</summary>
    AddressTaken,
}

/// <summary>
/// Why an offset is a boundary, kept as facts and worded only when a message needs it: a section has a boundary per
/// symbol, branch and reference, and only the few that block a syscall rewrite window are ever shown.
/// </summary>
internal readonly record struct BoundaryReason(BoundaryKind Kind, ulong At, InputSection? Section = null, string? Name = null)
{
    public override string ToString() => Kind switch
    {
        BoundaryKind.Symbol => Name is { Length: > 0 } n ? $"symbol '{n}'" : "a nameless symbol",
        BoundaryKind.Relocation => $"relocation at {Section?.Name}+0x{At:x}",
        BoundaryKind.UnwindEntry => $"unwind entry (relocation at {Section?.Name}+0x{At:x})",
        BoundaryKind.JumpTableEntry => $"jump-table entry at {Section?.Name}+0x{At:x}",
        BoundaryKind.CodePointer => $"a code pointer at {Section?.Name}+0x{At:x}",
        BoundaryKind.BranchTarget => $"a branch target (from 0x{At:x})",
        BoundaryKind.RipTarget => $"a RIP-relative operand's target (from 0x{At:x})",
        _ => $"an address taken at 0x{At:x}",
    };
}
