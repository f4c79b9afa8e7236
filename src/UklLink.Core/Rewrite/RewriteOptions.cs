using UklLink.Kernel;

namespace UklLink.Rewrite;

/// <summary>Settings of a <see cref="SyscallRewriter"/>.</summary>
public sealed record RewriteOptions
{
    /// <summary>The symbol whose address the trampolines load into %rcx (R_X86_64_32S, so it must lie in the top or
    /// bottom 2 GiB).</summary>
    public string EntrySymbol { get; init; } = SlotAbi.SyscallEntrySymbol;

    /// <summary>How trampolines enter the kernel: <see cref="SyscallEntryForm.JumpRcx"/> for a slot ABI v2 kernel (the
    /// default), <see cref="SyscallEntryForm.CallRcx"/> for a v1 kernel.</summary>
    public SyscallEntryForm EntryForm { get; init; } = SyscallEntryForm.JumpRcx;

    /// <summary>
    /// <c>--bypass</c>: the kernel's bypass entries by system call number (<see cref="SlotAbi.BypassEntryPrefix"/>). A
    /// site whose number <see cref="SyscallNumber"/> finds and that has an entry here enters through it instead of
    /// <see cref="EntrySymbol"/>; empty (the default) means every site enters through <see cref="EntrySymbol"/>.
    /// </summary>
    public IReadOnlyDictionary<int, string> BypassEntries { get; init; } = new Dictionary<int, string>();

    /// <summary>The vector of the in-place <c>int $N</c> fallback.</summary>
    public byte TrapVector { get; init; } = SlotAbi.SyscallTrapVector;

    /// <summary>
    /// <c>--strict-rewrite</c>: report every site that did not get a trampoline (int fallback or left untouched) as an
    /// error instead of a warning. The rewrite itself is the same.
    /// </summary>
    public bool StrictRewrite { get; init; }
}
