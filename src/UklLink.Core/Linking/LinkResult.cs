using UklLink.Diagnostics;
using UklLink.Layout;

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

    public int GotEntries { get; internal set; }
}
