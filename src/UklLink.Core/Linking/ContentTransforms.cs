using UklLink.Inputs;
using UklLink.Layout;
using UklLink.Symbols;
using static UklLink.Inputs.ElfConstants;

namespace UklLink.Linking;

/// <summary>
/// The two places where GNU ld rewrites input content instead of copying it — SHF_MERGE sections and the .eh_frame
/// output section — computed once every section's output section is known (docs/ld-content-transforms.md), and the
/// size of the .eh_frame_hdr that indexes the edited .eh_frame. Other sections keep their contents (as rewritten).
/// </summary>
internal sealed class ContentTransforms : ISectionSizes
{
    private const string EhFrame = ".eh_frame";

    private readonly IReadOnlyDictionary<InputSection, string> _outputOf;

    private readonly SectionContents _contents;
    private readonly SyntheticPiece? _ehFrameHeader;

    private ContentTransforms(MergedSections merged, EhFrameLayout? ehFrame, IReadOnlyDictionary<InputSection, string> outputOf,
        SectionContents contents, SyntheticPiece? ehFrameHeader)
    {
        Merged = merged;
        _ehFrame = ehFrame;
        _outputOf = outputOf;
        _contents = contents;
        _ehFrameHeader = ehFrameHeader;
    }

    public MergedSections Merged { get; }
    private readonly EhFrameLayout? _ehFrame;

    /// <summary>The edited .eh_frame output section's layout (null without .eh_frame input).</summary>
    public EhFrameLayout? EhFrameLayout => _ehFrame;

    /// <summary>The merge pass: from the assign pass's claims, over the live sections in link order.</summary>
    public static ContentTransforms Build(IReadOnlyList<(InputSection Section, string Output)> claims, IReadOnlyList<InputSection> linkOrder,
        Resolution resolution, SectionContents contents, SyntheticPiece? ehFrameHeader)
    {
        var live = linkOrder.ToHashSet();
        var outputOf = claims.ToDictionary(c => c.Section, c => c.Output);
        // Merged strings and .eh_frame read what the rewrite pass hands on, like every pass after it.
        var read = new InputContents(contents.Data, contents.Relocations);
        var merged = MergedSections.Build(linkOrder.Where(s => (s.Flags & SHF_MERGE) != 0 && outputOf.ContainsKey(s)),
            s => outputOf.TryGetValue(s, out var o) ? o : null, read);
        var eh = claims.Where(c => c.Output == EhFrame && c.Section.Name.StartsWith(EhFrame, StringComparison.Ordinal)).Select(c => c.Section).ToList();
        EhFrameLayout? layout = null;
        if (eh.Count > 0)
        {
            ulong align = claims.Where(c => c.Output == EhFrame).Select(c => Math.Max(1, c.Section.Alignment)).Max();
            layout = EhFrameBuilder.Build(eh, new EhFrameOptions
            {
                IsLive = live.Contains,
                OutputAlignment = align,
                Contents = read,
                ResolveGlobal = symbol => resolution.Definitions.TryGetValue(symbol.Name, out var def)
                    ? new GlobalDefinition(def.IsDefined, def.Section)
                    : new GlobalDefinition(false, null),
            });
        }
        return new ContentTransforms(merged, layout, outputOf, contents, ehFrameHeader);
    }

    public bool IsExcluded(InputSection section) =>
        Merged.IsExcluded(section) || _ehFrame is { } eh && eh.Contains(section) && eh[section].Excluded;

    public ulong SizeOf(InputSection section)
    {
        if (Merged.IsMerged(section))
            return Merged.SizeOf(section);
        if (_ehFrame is { } eh && eh.Contains(section))
            return eh[section].OutputSize;
        return section.Size;
    }

    public ulong SizeOf(SyntheticPiece piece) => piece == _ehFrameHeader ? EhFrameHeader.SizeFor(_ehFrame) : piece.Size;

    /// <summary>
    /// Copies the section's output bytes into <paramref name="destination"/> (as many as fit) and returns the relocations
    /// to apply to them (offsets in those bytes). A section no transform touches is copied straight from the input's
    /// mapping (or the rewrite's bytes), with no array in between.
    /// </summary>
    public IReadOnlyList<InputRelocation> CopyContents(InputSection section, Func<InputSection, ulong> offsetInOutput, Span<byte> destination)
    {
        (byte[] Data, IReadOnlyList<InputRelocation> Relocations) made;
        if (Merged.IsMerged(section))
            made = (Merged.ContentsOf(section), Array.Empty<InputRelocation>());
        else if (_ehFrame is { } eh && eh.Contains(section))
            made = (eh.ContentsOf(section, offsetInOutput), eh.RelocationsOf(section).Select(x => x.Relocation with { Offset = x.Offset }).ToList());
        else if (IsReversedTable(section))
            made = Reversed(section);
        else
        {
            var content = _contents.Content(section);
            content[..Math.Min(content.Length, destination.Length)].CopyTo(destination);
            return _contents.Relocations(section);
        }
        made.Data.AsSpan(0, Math.Min(made.Data.Length, destination.Length)).CopyTo(destination);
        return made.Relocations;
    }

    /// <summary>
    /// Old-style .ctors/.dtors run from the end; in .init_array/.fini_array they must run from the start, so ld
    /// reverses their 8-byte entries (and their relocations) when it puts them there.
    /// </summary>
    private bool IsReversedTable(InputSection section) =>
        (section.Name.StartsWith(".ctors", StringComparison.Ordinal) || section.Name.StartsWith(".dtors", StringComparison.Ordinal))
        && _outputOf.TryGetValue(section, out var output) && output is ".init_array" or ".fini_array" && section.Size % 8 == 0;

    private (byte[] Data, IReadOnlyList<InputRelocation> Relocations) Reversed(InputSection section)
    {
        var data = _contents.Data(section);
        var reversed = new byte[data.Length];
        for (int i = 0; i < data.Length; i += 8)
            data.AsSpan(i, 8).CopyTo(reversed.AsSpan(data.Length - 8 - i));
        var relocations = _contents.Relocations(section)
            .Select(r => r with { Offset = (ulong)data.Length - 8 - (r.Offset & ~7UL) + (r.Offset & 7) })
            .OrderBy(r => r.Offset).ToList();
        return (reversed, relocations);
    }

    /// <summary>Where an offset of an input section ended up: merged entries and .eh_frame entries move.</summary>
    public (InputSection Section, ulong Offset) MapDefinition(InputSection section, ulong offset)
    {
        if (Merged.IsMerged(section))
        {
            var m = Merged.Map(section, offset);
            return (m.Section, m.Offset);
        }
        if (_ehFrame is { } eh && eh.Contains(section))
            return eh.MapSymbol(section, offset);
        return (section, offset);
    }

    /// <summary>For a reference into a merged section: the location and the addend still to add (ld's rules).</summary>
    public (InputSection Section, ulong Offset, long Addend)? MapReference(InputSymbol symbol, long addend)
    {
        if (symbol.Section is not { } s || !Merged.IsMerged(s))
            return null;
        if (Merged.MapReference(symbol, addend) is not { } m)
            return null;
        return (m.Location.Section, m.Location.Offset, m.Addend);
    }
}
