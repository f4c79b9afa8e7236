using UklLink.Inputs;

namespace UklLink.Rewrite;

/// <summary>How a syscall site was handled.</summary>
public enum SiteStrategy
{
    /// <summary>A window of at least 5 bytes around the site became <c>jmp trampoline</c>; the trampoline holds the
    /// moved instructions and enters the kernel with <c>call *%rcx</c>.</summary>
    JumpToTrampoline,

    /// <summary>No safe window: the 2 bytes were replaced in place by <c>int $SyscallTrapVector</c> (CD NN).</summary>
    IntFallback,

    /// <summary>The bytes decode as <c>syscall</c> on some path but were not proven to be reachable code
    /// (possibly data in the code section); they were left unchanged.</summary>
    Untouched,
}

/// <summary>
/// One <c>syscall</c> site of a section and what the rewriter did with it. For <see cref="SiteStrategy.JumpToTrampoline"/>
/// the window is [<see cref="WindowStart"/>, <see cref="WindowEnd"/>); otherwise <see cref="Reason"/> says why.
/// </summary>
public sealed record SyscallSite(
    InputSection Section,
    ulong Offset,
    InputSymbol? Function,
    SiteStrategy Strategy,
    ulong WindowStart,
    ulong WindowEnd,
    int? TrampolineIndex,
    int MovedBefore,
    int MovedAfter,
    string? Reason)
{
    /// <summary>The system call number the site passes, when the code before it makes it a constant (trampolines only).</summary>
    public int? Number { get; init; }

    /// <summary>The kernel symbol the trampoline enters through (trampolines only): the syscall entry or a bypass entry.</summary>
    public string? Entry { get; init; }

    /// <summary>Whether the site enters through a bypass entry (<c>--bypass</c>).</summary>
    public bool Bypass => UklLink.Kernel.SlotAbi.IsBypassEntry(Entry);

    /// <summary><c>file.o:(.text+0x12)</c>, with the enclosing function when known.</summary>
    public override string ToString()
    {
        string where = $"{Section.File.DisplayName}:({Section.Name}+0x{Offset:x})";
        if (Function is not null)
            where += Offset > Function.Value ? $" [{Function.Name}+0x{Offset - Function.Value:x}]" : $" [{Function.Name}]";
        return Strategy switch
        {
            SiteStrategy.JumpToTrampoline => $"{where}: trampoline {TrampolineIndex}, window 0x{WindowStart:x}-0x{WindowEnd:x} ({MovedBefore} before, {MovedAfter} after)"
                + (Bypass ? $", bypass {Entry}" : ""),
            _ => $"{where}: {Strategy}: {Reason}",
        };
    }
}
