using UklLink.Diagnostics;
using UklLink.Layout;
using UklLink.Symbols;

namespace UklLink.Linking;

/// <summary>What a link produced: findings always; the layout and statistics when it got that far.</summary>
public sealed class LinkResult
{
    internal LinkResult(FindingBag findings) => Findings = findings;

    public FindingBag Findings { get; }

    /// <summary>True when the output file was written.</summary>
    public bool Written { get; internal set; }

    public IReadOnlyList<OutputSection> Sections { get; internal set; } = Array.Empty<OutputSection>();
    public ulong Entry { get; internal set; }

    /// <summary>Milliseconds per pass, in pass order (for -v).</summary>
    public List<(string Pass, long Milliseconds)> Timings { get; } = new();

    /// <summary>
    /// Every file the link read, for a make depfile: the linker script (unless the bundled one), the kernel, then the
    /// inputs and the members of thin archives. Filled as far as the link got.
    /// </summary>
    public List<string> FilesRead { get; } = new();

    public int GotEntries { get; internal set; }

    /// <summary>How the inputs' symbols resolved (null when the link stopped before the resolve pass).</summary>
    public Resolution? Resolution { get; internal set; }

    /// <summary>Syscall rewrite counts (null with --no-syscall-rewrite).</summary>
    public UklLink.Rewrite.RewriteTotals? Rewrite { get; internal set; }

    /// <summary>How the trampolines enter the kernel (the kernel's slot ABI version decides).</summary>
    public UklLink.Rewrite.SyscallEntryForm EntryForm { get; internal set; }

    public List<TrampolineInfo> Trampolines { get; } = new();
}

/// <summary>A syscall trampoline in the output: where it is, how big, and the site that jumps to it.</summary>
public sealed record TrampolineInfo(ulong Address, ulong Size, ulong SiteAddress, string Site)
{
    /// <summary>The system call number the site passes, when the code before it makes it a constant.</summary>
    public int? Number { get; init; }

    /// <summary>The kernel symbol the trampoline enters through (the syscall entry, or a bypass entry with --bypass).</summary>
    public string Entry { get; init; } = UklLink.Kernel.SlotAbi.SyscallEntrySymbol;

    /// <summary>Whether it enters through a bypass entry.</summary>
    public bool Bypass => UklLink.Kernel.SlotAbi.IsBypassEntry(Entry);

    /// <summary>"syscall 0 (read)", "syscall ?" when the number is not a constant.</summary>
    public string DescribeNumber() => Number is { } n ? $"syscall {n}{(UklLink.Rewrite.SyscallNames.Of(n) is { } name ? $" ({name})" : "")}" : "syscall ?";
}
