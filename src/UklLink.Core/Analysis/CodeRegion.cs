using UklLink.Inputs;
using static UklLink.Inputs.ElfConstants;

namespace UklLink.Analysis;

/// <summary>
/// A stretch of an executable section that starts at a known entry (a symbol or the section start) and runs to its
/// symbol's size or to the next entry. Decoding starts at region starts only, so data between functions never shifts
/// the instruction stream of the next function.
/// </summary>
public sealed record CodeRegion(InputSection Section, ulong Start, ulong End, InputSymbol? Symbol)
{
    public string Name => Symbol?.Name is { Length: > 0 } n ? n : $"{Section.Name}+0x{Start:x}";

    public static IReadOnlyList<CodeRegion> Find(InputSection section)
    {
        ulong size = (ulong)section.Data.LongLength;
        var entries = new SortedDictionary<ulong, InputSymbol?> { [0] = null };
        foreach (var sym in section.File.Symbols)
        {
            if (sym.Section != section || sym.Type is STT_SECTION or STT_FILE || sym.Value >= size)
                continue;
            // Prefer a function symbol over a plain label at the same address.
            if (!entries.TryGetValue(sym.Value, out var existing) || existing is null || (existing.Type != STT_FUNC && sym.Type == STT_FUNC))
                entries[sym.Value] = sym;
        }
        var starts = entries.Keys.ToList();
        var regions = new List<CodeRegion>(starts.Count);
        for (int i = 0; i < starts.Count; i++)
        {
            ulong start = starts[i];
            ulong next = i + 1 < starts.Count ? starts[i + 1] : size;
            if (next > start)
                regions.Add(new CodeRegion(section, start, next, entries[start]));
        }
        return regions;
    }

    /// <summary>The function symbol containing <paramref name="offset"/>, if any.</summary>
    public static InputSymbol? EnclosingSymbol(InputSection section, ulong offset)
    {
        InputSymbol? best = null;
        foreach (var sym in section.File.Symbols)
        {
            if (sym.Section != section || sym.Type is STT_SECTION or STT_FILE || sym.Name.Length == 0 || sym.Value > offset)
                continue;
            if (sym.Size > 0 && offset >= sym.Value + sym.Size)
                continue;
            if (best is null || sym.Value > best.Value || (sym.Value == best.Value && sym.Type == STT_FUNC))
                best = sym;
        }
        return best;
    }
}
