using UklLink.Inputs;
using UklLink.Kernel;
using UklLink.LinkerScript;

namespace UklLink.Layout;

/// <summary>
/// What the layout pass needs: the script, the assign pass's result, the sizes content transforms decided, the slots
/// and symbol lookups. Everything is a value computed before layout; layout calls nothing back.
/// </summary>
public sealed class LayoutRequest
{
    public required Script Script { get; init; }

    /// <summary>Which rule takes which input section and linker-made piece (<see cref="LayoutEngine.Assign"/>).</summary>
    public required SectionAssignment Assignment { get; init; }

    /// <summary>Sizes after content transforms (merged strings, edited .eh_frame, the .eh_frame_hdr it indexes).</summary>
    public required ISectionSizes Sizes { get; init; }

    public required IReadOnlyList<Slot> Slots { get; init; }

    /// <summary>Value of a symbol defined outside the script (the kernel's symbols), or null.</summary>
    public required Func<string, ulong?> ExternalSymbol { get; init; }

    /// <summary>True when an application object defines the name (PROVIDE then leaves it alone).</summary>
    public required Func<string, bool> DefinedByApplication { get; init; }

    /// <summary>True when an application object references the name without defining it (PROVIDE then defines it).</summary>
    public required Func<string, bool> ReferencedByApplication { get; init; }
}

/// <summary>Sizes of input sections and linker-made pieces after content transforms.</summary>
public interface ISectionSizes
{
    bool IsExcluded(InputSection section);
    ulong SizeOf(InputSection section);

    /// <summary>A linker-made piece's size: as made, unless it indexes transformed content (.eh_frame_hdr).</summary>
    ulong SizeOf(SyntheticPiece piece) => piece.Size;
}
