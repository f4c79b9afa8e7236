using UklLink.Inputs;
using UklLink.Kernel;
using UklLink.LinkerScript;

namespace UklLink.Layout;

/// <summary>What layout needs: the script, the live sections in link order, linker-made pieces, the slots and symbol lookups.</summary>
public sealed class LayoutRequest
{
    public required Script Script { get; init; }

    /// <summary>Allocatable input sections that take part in the link, in command-line order, each file's in index order.</summary>
    public required IReadOnlyList<InputSection> Sections { get; init; }

    /// <summary>Linker-made pieces, matched by name like input sections (".got", "COMMON", ".ukl.trampolines").</summary>
    public required IReadOnlyList<SyntheticPiece> Synthetic { get; init; }

    public required IReadOnlyList<Slot> Slots { get; init; }

    /// <summary>Value of a symbol defined outside the script (the kernel's symbols), or null.</summary>
    public required Func<string, ulong?> ExternalSymbol { get; init; }

    /// <summary>True when an application object defines the name (PROVIDE then leaves it alone).</summary>
    public required Func<string, bool> DefinedByApplication { get; init; }

    /// <summary>True when an application object references the name without defining it (PROVIDE then defines it).</summary>
    public required Func<string, bool> ReferencedByApplication { get; init; }

    /// <summary>
    /// Given every claimed input section (in claim order) with its output section's name, says which sections content
    /// transforms exclude and what size the others end up with (merged strings, edited .eh_frame); null: as read.
    /// </summary>
    public Func<IReadOnlyList<(InputSection Section, string Output)>, ISectionSizes>? Sizes { get; init; }
}

/// <summary>Sizes of input sections after content transforms.</summary>
public interface ISectionSizes
{
    bool IsExcluded(InputSection section);
    ulong SizeOf(InputSection section);
}
