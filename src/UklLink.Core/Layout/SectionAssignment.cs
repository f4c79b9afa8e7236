using UklLink.Inputs;
using UklLink.LinkerScript;

namespace UklLink.Layout;

/// <summary>What one script rule takes: an input section, or a piece the linker made (exactly one is set).</summary>
public readonly record struct Claim(InputSection? Section, SyntheticPiece? Synthetic)
{
    public string Name => Section?.Name ?? Synthetic!.Name;
    public ulong Alignment => Section is { } s ? Math.Max(1, s.Alignment) : Synthetic!.Alignment;
}

/// <summary>
/// The assign pass's result (<see cref="LayoutEngine.Assign"/>): for every input-section rule of the script what it
/// takes, in placement order; every claimed input section with its output section's name (what content transforms
/// need to know); sections no rule matched, and sections sent to /DISCARD/. Sizes and addresses come later.
/// </summary>
public sealed class SectionAssignment
{
    internal SectionAssignment(IReadOnlyDictionary<InputSectionDescription, IReadOnlyList<Claim>> matches,
        IReadOnlyList<(InputSection Section, string Output)> claims, IReadOnlyList<InputSection> orphans, IReadOnlySet<InputSection> discarded)
    {
        Matches = matches;
        Claims = claims;
        Orphans = orphans;
        Discarded = discarded;
    }

    /// <summary>Per input-section description of the script: what it places, in order (empty under /DISCARD/).</summary>
    public IReadOnlyDictionary<InputSectionDescription, IReadOnlyList<Claim>> Matches { get; }

    /// <summary>Every placed input section with the name of its output section, in claim order.</summary>
    public IReadOnlyList<(InputSection Section, string Output)> Claims { get; }

    /// <summary>Allocatable input sections no script rule matched.</summary>
    public IReadOnlyList<InputSection> Orphans { get; }

    /// <summary>Input sections sent to /DISCARD/.</summary>
    public IReadOnlySet<InputSection> Discarded { get; }
}
