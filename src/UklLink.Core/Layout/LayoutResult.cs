using UklLink.Inputs;

namespace UklLink.Layout;

/// <summary>Addresses for everything: output sections in address order, where each input section went, script symbols.</summary>
public sealed class LayoutResult
{
    internal LayoutResult(IReadOnlyList<OutputSection> sections, IReadOnlyDictionary<InputSection, InputPiece> placed,
        IReadOnlyDictionary<string, ScriptSymbol> symbols, string? entry, IReadOnlyList<InputSection> orphans,
        IReadOnlySet<InputSection> discarded, IReadOnlyList<LayoutException> failedAsserts)
    {
        Sections = sections;
        Placed = placed;
        Symbols = symbols;
        Entry = entry;
        Orphans = orphans;
        Discarded = discarded;
        FailedAsserts = failedAsserts;
    }

    /// <summary>Non-empty output sections in script order.</summary>
    public IReadOnlyList<OutputSection> Sections { get; }

    public IReadOnlyDictionary<InputSection, InputPiece> Placed { get; }
    public IReadOnlyDictionary<string, ScriptSymbol> Symbols { get; }

    /// <summary>The script's ENTRY symbol, if it names one.</summary>
    public string? Entry { get; }

    /// <summary>Allocatable input sections no script rule matched.</summary>
    public IReadOnlyList<InputSection> Orphans { get; }

    /// <summary>Input sections sent to /DISCARD/.</summary>
    public IReadOnlySet<InputSection> Discarded { get; }

    public IReadOnlyList<LayoutException> FailedAsserts { get; }
}
