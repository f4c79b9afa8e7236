using System.Buffers.Binary;
using UklLink.Inputs;

namespace UklLink.Layout;

public enum EhFrameEntryKind
{
    Cie,
    Fde,

    /// <summary>A zero length word (crtend.o's end marker).</summary>
    Terminator,
}

/// <summary>One CIE, FDE or terminator of an input .eh_frame section, and what ld does with it.</summary>
public sealed class EhFrameEntry
{
    internal EhFrameEntry(EhFrameSection owner, EhFrameEntryKind kind, ulong inputOffset, ulong inputSize)
    {
        Owner = owner;
        Kind = kind;
        InputOffset = inputOffset;
        InputSize = inputSize;
        TrimmedSize = inputSize;
    }

    public EhFrameSection Owner { get; }
    public InputSection Section => Owner.Section;
    public EhFrameEntryKind Kind { get; }

    /// <summary>Offset of the length word in the input section.</summary>
    public ulong InputOffset { get; }

    /// <summary>4 + the input length word.</summary>
    public ulong InputSize { get; }

    /// <summary>The bytes ld copies: the entry without its trailing DW_CFA_nop padding.</summary>
    public ulong TrimmedSize { get; internal set; }

    /// <summary>Not in the output: a CIE no kept FDE uses or that was merged, an FDE of a discarded function or with a
    /// zero address range, a terminator not in the last section.</summary>
    public bool Removed { get; internal set; } = true;

    /// <summary>For a removed CIE: the identical CIE (possibly in another section) its FDEs use instead.</summary>
    public EhFrameEntry? MergedInto { get; internal set; }

    /// <summary>For a kept FDE: the CIE its CIE pointer is rewritten to (possibly in an earlier section).</summary>
    public EhFrameEntry? Cie { get; internal set; }

    /// <summary>Offset in the section's new contents (kept entries only).</summary>
    public ulong OutputOffset { get; internal set; }

    /// <summary>The entry's size in the output: up to the next kept entry or the section's new end; its length word is
    /// rewritten to this minus 4 and the bytes after <see cref="TrimmedSize"/> are zeros (DW_CFA_nop).</summary>
    public ulong OutputSize { get; internal set; }

    // Parse results used while deciding.
    internal int RelocIndex;
    internal EhFrameEntry? LocalCie;
    internal CieInfo? CieData;
    internal byte FdeEncoding;
    internal bool ZeroRange;
    internal bool PersonalityAligned8;

    public override string ToString() => $"{Kind} {Section}+0x{InputOffset:x}";
}

/// <summary>What ld compares when it merges CIEs (bfd's struct cie).</summary>
internal sealed class CieInfo
{
    public uint Length;
    public byte Version;
    public string Augmentation = "";
    public ulong CodeAlign;
    public long DataAlign;
    public ulong RaColumn;
    public ulong AugmentationSize;
    public byte PersonalityEncoding = 0xff;
    public byte LsdaEncoding = 0xff;
    public byte FdeEncoding = 0xff;
    public byte InitialInsnLength;
    public byte[] InitialInstructions = Array.Empty<byte>();
    public int PersonalityRelocIndex = -1;
    public bool LocalPersonality;
    public object? Personality;

    public bool Matches(CieInfo o) =>
        Length == o.Length && Version == o.Version && LocalPersonality == o.LocalPersonality
        && Augmentation == o.Augmentation && Augmentation != "eh"
        && CodeAlign == o.CodeAlign && DataAlign == o.DataAlign && RaColumn == o.RaColumn
        && AugmentationSize == o.AugmentationSize && Equals(Personality, o.Personality)
        && PersonalityEncoding == o.PersonalityEncoding && LsdaEncoding == o.LsdaEncoding && FdeEncoding == o.FdeEncoding
        && InitialInsnLength == o.InitialInsnLength && InitialInsnLength <= 50
        && InitialInstructions.AsSpan(0, InitialInsnLength).SequenceEqual(o.InitialInstructions.AsSpan(0, InitialInsnLength));
}

/// <summary>One input .eh_frame section as ld lays it out.</summary>
public sealed class EhFrameSection
{
    internal EhFrameSection(InputSection section, InputContents contents)
    {
        Section = section;
        OutputSize = section.Size;
        _contents = contents;
    }

    private readonly InputContents _contents;

    public InputSection Section { get; }

    /// <summary>The section's bytes and relocations, as the link's passes see them.</summary>
    internal byte[] Data => _contents.Data(Section);
    internal IReadOnlyList<InputRelocation> Relocations => _contents.Relocations(Section);

    /// <summary>
    /// Whether ld understood the section. When it did not (ParseError says why, and ld prints
    /// "error in FILE(.eh_frame); no .eh_frame_hdr table will be created"), the section is copied unchanged
    /// (only padded, see <see cref="OutputSize"/>) and its relocations apply at their original offsets.
    /// </summary>
    public bool Parsed => ParseError is null && Entries.Count > 0;

    public string? ParseError { get; internal set; }

    public IReadOnlyList<EhFrameEntry> Entries => EntryList;

    /// <summary>Size in the output, including the padding ld adds to every non-empty section but the last so that the
    /// next one starts at the output section's alignment without a zero gap (a gap would read as a terminator).</summary>
    public ulong OutputSize { get; internal set; }

    /// <summary>Size after editing, before that padding (bfd's size after _bfd_elf_discard_section_eh_frame).</summary>
    public ulong EditedSize { get; internal set; }

    /// <summary>An empty section at the end of the output section: ld excludes it (no space, no alignment).</summary>
    public bool Excluded { get; internal set; }

    internal readonly List<EhFrameEntry> EntryList = new();
    internal List<InputRelocation> SortedRelocations = new();

    /// <summary>The entry that contains <paramref name="offset"/> by the entries' trimmed extents (bfd's
    /// _bfd_elf_eh_frame_section_offset search), or null.</summary>
    internal EhFrameEntry? EntryCovering(ulong offset)
    {
        int lo = 0, hi = EntryList.Count;
        while (lo < hi)
        {
            int mid = (lo + hi) / 2;
            var e = EntryList[mid];
            if (offset < e.InputOffset)
                hi = mid;
            else if (offset >= e.InputOffset + e.TrimmedSize)
                lo = mid + 1;
            else
                return e;
        }
        return null;
    }

    /// <summary>The entry whose start is the last at or before <paramref name="offset"/> (bfd's offset_adjust).</summary>
    internal int EntryStartingBefore(ulong offset)
    {
        int i = 0;
        while (i + 1 < EntryList.Count && EntryList[i + 1].InputOffset <= offset)
            i++;
        return i;
    }

    internal ulong NextKeptOffset(int index)
    {
        for (int i = index + 1; i < EntryList.Count; i++)
            if (!EntryList[i].Removed)
                return EntryList[i].OutputOffset;
        return OutputSize;
    }
}

/// <summary>The result of <see cref="EhFrameBuilder.Build"/>: per input section, what ld keeps and where.</summary>
public sealed class EhFrameLayout
{
    private readonly Dictionary<InputSection, EhFrameSection> _bySection = new();

    internal EhFrameLayout(List<EhFrameSection> sections, bool traditional)
    {
        Sections = sections;
        Traditional = traditional;
        foreach (var s in sections)
            _bySection[s.Section] = s;
    }

    /// <summary>The live input sections in output order.</summary>
    public IReadOnlyList<EhFrameSection> Sections { get; }

    /// <summary>--traditional-format: ld edits nothing and concatenates the sections.</summary>
    public bool Traditional { get; }

    public EhFrameSection this[InputSection section] => _bySection[section];

    public bool Contains(InputSection section) => _bySection.ContainsKey(section);

    /// <summary>
    /// Where a relocation at <paramref name="offset"/> of an input section now applies, or null when its CIE/FDE was
    /// dropped (then the relocation is not applied). Applying the kept relocations at the new offsets (P = the new
    /// address) gives ld's bytes: ld relocates at the old place and then corrects PC-relative fields by the distance
    /// moved, which is the same except for a PC-relative field whose value was exactly 0.
    /// </summary>
    public ulong? MapRelocationOffset(InputSection section, ulong offset)
    {
        var s = _bySection[section];
        if (!s.Parsed || Traditional)
            return offset;
        if (offset >= section.Size)
            return offset - section.Size + s.OutputSize;
        var e = s.EntryCovering(offset);
        if (e is null || e.Removed)
            return null;
        return offset - e.InputOffset + e.OutputOffset;
    }

    /// <summary>The relocations of <paramref name="section"/> that still apply, with their offsets in the new contents.</summary>
    public IEnumerable<(InputRelocation Relocation, ulong Offset)> RelocationsOf(InputSection section)
    {
        foreach (var r in _bySection[section].Relocations)
            if (MapRelocationOffset(section, r.Offset) is { } at)
                yield return (r, at);
    }

    /// <summary>
    /// Where a symbol defined at <paramref name="offset"/> in an input .eh_frame section moves (bfd's offset_adjust,
    /// for globals and for local NOTYPE/OBJECT symbols; section symbols do not move). A symbol in a merged CIE moves
    /// into the CIE kept instead, possibly in another section; one in a dropped entry moves to the next kept entry.
    /// </summary>
    public (InputSection Section, ulong Offset) MapSymbol(InputSection section, ulong offset)
    {
        var s = _bySection[section];
        if (!s.Parsed || Traditional)
            return (section, offset);
        int i = s.EntryStartingBefore(offset);
        var e = s.EntryList[i];
        ulong within = offset - e.InputOffset;
        if (!e.Removed)
            return (section, e.OutputOffset + within);
        if (e.MergedInto is { } cie)
            return (cie.Section, cie.OutputOffset + within);
        return (section, s.NextKeptOffset(i) + within);
    }

    /// <summary>
    /// Offsets of the sections inside the output section when they are all it holds, in this order (each at its
    /// alignment, excluded ones skipped), and the output section's size.
    /// </summary>
    public (IReadOnlyDictionary<InputSection, ulong> Offsets, ulong Size) ContiguousOffsets()
    {
        var offsets = new Dictionary<InputSection, ulong>();
        ulong dot = 0;
        foreach (var s in Sections)
        {
            if (s.Excluded)
            {
                offsets[s.Section] = dot;
                continue;
            }
            ulong align = Math.Max(1UL, s.Section.Alignment);
            dot = (dot + align - 1) / align * align;
            offsets[s.Section] = dot;
            dot += s.OutputSize;
        }
        return (offsets, dot);
    }

    /// <summary>
    /// The section's new bytes before relocation: kept entries at their new offsets, trailing DW_CFA_nop padding
    /// re-created up to the next entry, length words rewritten, and each FDE's CIE pointer rewritten to its (possibly
    /// merged) CIE. The CIE pointer depends on where both sections sit in the output section, given by
    /// <paramref name="offsetInOutputSection"/> (any common origin). Then apply <see cref="RelocationsOf"/>.
    /// </summary>
    public byte[] ContentsOf(InputSection section, Func<InputSection, ulong> offsetInOutputSection)
    {
        var s = _bySection[section];
        var data = s.Data;
        var output = new byte[s.OutputSize];
        if (!s.Parsed || Traditional)
        {
            data.AsSpan(0, (int)Math.Min((ulong)data.Length, s.OutputSize)).CopyTo(output);
            return output;
        }

        ulong here = offsetInOutputSection(section);
        for (int i = 0; i < s.EntryList.Count; i++)
        {
            var e = s.EntryList[i];
            if (e.Removed)
                continue;
            data.AsSpan((int)e.InputOffset, (int)e.TrimmedSize).CopyTo(output.AsSpan((int)e.OutputOffset));
            if (e.Kind == EhFrameEntryKind.Terminator)
                continue;
            var at = output.AsSpan((int)e.OutputOffset);
            BinaryPrimitives.WriteUInt32LittleEndian(at, (uint)(e.OutputSize - 4));
            if (e.Kind == EhFrameEntryKind.Fde)
            {
                var cie = e.Cie!;
                ulong pointer = here + e.OutputOffset + 4 - (offsetInOutputSection(cie.Section) + cie.OutputOffset);
                BinaryPrimitives.WriteUInt32LittleEndian(at[4..], (uint)pointer);
            }
        }
        return output;
    }
}
