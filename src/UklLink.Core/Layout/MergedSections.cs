using UklLink.Inputs;
using static UklLink.Inputs.ElfConstants;

namespace UklLink.Layout;

/// <summary>Where a byte of a SHF_MERGE input section ends up: an offset inside the new contents of <see cref="Section"/>.</summary>
/// <remarks>
/// <see cref="Section"/> may be a different input section than the one asked about: GNU ld keeps each distinct entry in
/// the first input section (in ld's input order) that contained it, and a string that is a suffix of a longer kept
/// string lives inside that string's section.
/// </remarks>
public readonly record struct MergedLocation(InputSection Section, ulong Offset);

/// <summary>One set of SHF_MERGE input sections whose entries ld de-duplicates together.</summary>
/// <remarks>
/// ld's key: the same output section, the same SHF_MERGE/SHF_STRINGS flags, the same sh_entsize and the same
/// alignment. Sections differing in alignment (.rodata.str1.1 vs .rodata.str1.8) never share entries.
/// </remarks>
public sealed class MergeGroup
{
    internal MergeGroup(object? output, bool strings, ulong entrySize, int alignmentPower)
    {
        Output = output;
        Strings = strings;
        EntrySize = entrySize;
        AlignmentPower = alignmentPower;
    }

    /// <summary>The output-section key the members share (see <see cref="MergedSections.Build(IEnumerable{InputSection}, Func{InputSection, object?})"/>).</summary>
    public object? Output { get; }

    public bool Strings { get; }
    public ulong EntrySize { get; }
    public int AlignmentPower { get; }
    public ulong Alignment => 1UL << AlignmentPower;

    /// <summary>The members in ld's input order (the order entries are first seen in).</summary>
    public IReadOnlyList<InputSection> Sections => SectionList;

    internal readonly List<InputSection> SectionList = new();
    internal readonly List<MergeEntry> Chain = new();
    internal readonly Dictionary<byte[], MergeEntry> Table = new(ByteArrayComparer.Instance);

    /// <summary>ld's htab->first after merging: the first kept entry (used for references into NUL padding).</summary>
    internal MergeEntry? First;
}

/// <summary>A distinct entry (a string with its terminator, or one fixed-size constant).</summary>
internal sealed class MergeEntry
{
    public MergeEntry(byte[] content, uint alignment)
    {
        Content = content;
        Length = content.Length;
        Alignment = alignment;
    }

    public byte[] Content { get; }

    /// <summary>Bytes, terminator included; 0 once replaced by a copy that needs more alignment.</summary>
    public int Length;

    /// <summary>Required alignment; 0 for an entry that was deleted or folded into a longer string.</summary>
    public uint Alignment;

    /// <summary>The member whose new contents hold the entry.</summary>
    public MergedMember? Owner;

    /// <summary>Offset in <see cref="Owner"/>'s new contents.</summary>
    public ulong Index;

    /// <summary>The longer string this one is a suffix of.</summary>
    public MergeEntry? Suffix;
}

/// <summary>Per input section state.</summary>
internal sealed class MergedMember
{
    public MergedMember(InputSection section, MergeGroup group, byte[] contents)
    {
        Section = section;
        Group = group;
        Contents = contents;
        Size = section.Size;
    }

    public InputSection Section { get; }
    public MergeGroup Group { get; }

    /// <summary>The original bytes; for strings followed by one extra zero character, as ld reads them.</summary>
    public byte[] Contents { get; }

    public MergeEntry? FirstStr;
    public ulong Size;
    public readonly List<MergeEntry> Kept = new();
    public byte[]? Output;
}

/// <summary>
/// GNU ld 2.40's SHF_MERGE processing (bfd/merge.c) for the input sections of one output section.
/// </summary>
/// <remarks>
/// <para>What ld does, measured and read from the source:</para>
/// <list type="bullet">
/// <item>There is no merged blob. Each input section stays where the script puts it, but shrinks to the entries it was
/// the first to contain (in ld's input order: input files in the order ld opened them, sections by header index).
/// A member left with no entry is excluded: it takes no space and no alignment padding.</item>
/// <item>Strings: a string that is a suffix of another kept string (with compatible alignment) is folded into it.
/// Each string needs the alignment its offset had in its input section (lowest set bit, capped at the section's
/// alignment); a duplicate needing more alignment than the first copy replaces it (the new copy goes with the later
/// section). Entries of a member keep first-seen order, padded to their alignment with zeros.</item>
/// <item>Fixed-size entries (cst4/8/16/32): exact duplicates removed, the rest packed in first-seen order.</item>
/// <item>If every member's original size was a multiple of its alignment, the member owning the last entry gets its new
/// size rounded up to the alignment (zero fill).</item>
/// <item>Not merged at all (kept as ordinary sections): size 0, sh_entsize 0, size not a multiple of sh_entsize,
/// sections with relocations, and sections whose alignment does not fit the entry size (entsize &lt; align unless a
/// power-of-two string character; entsize &gt; align unless a multiple of it).</item>
/// </list>
/// <para>References (<see cref="MapReference"/>): for a relocation against the STT_SECTION symbol of a merged section,
/// ld maps <c>st_value + addend</c> as one offset and uses the result with addend 0, for every relocation type
/// (bfd's _bfd_elf_rela_local_sym), so a PC-relative reference whose addend carries the -4 bias is mapped at the wrong
/// byte exactly as ld does. For any other symbol (named globals, locals such as gas's .LC0) ld maps <c>st_value</c>
/// and adds the addend afterwards.</para>
/// </remarks>
public sealed class MergedSections
{
    private readonly Dictionary<InputSection, MergedMember> _members = new();
    private readonly List<MergeGroup> _groups = new();
    private readonly Dictionary<(object, bool, ulong, int), MergeGroup> _groupIndex = new();

    private readonly InputContents _contents;

    private MergedSections(InputContents contents) => _contents = contents;

    /// <summary>The merge groups, in the order their first member was seen.</summary>
    public IReadOnlyList<MergeGroup> Groups => _groups;

    /// <summary>
    /// Merges the SHF_MERGE sections among <paramref name="sectionsInInputOrder"/>, which must all go to one output
    /// section and be live (not discarded COMDAT members, not /DISCARD/ed). Give them in ld's input order: files in
    /// the order ld loads them (command line order, archive members as they are pulled in), then by section index.
    /// Sections without SHF_MERGE are ignored.
    /// </summary>
    public static MergedSections Build(IEnumerable<InputSection> sectionsInInputOrder) =>
        Build(sectionsInInputOrder, _ => "");

    /// <summary>
    /// Merges the SHF_MERGE sections of a whole link at once: <paramref name="outputSectionOf"/> names each
    /// section's output section (any key with value equality, e.g. its name); sections it maps to null (discarded)
    /// are left out. Sections only merge with sections of the same output section.
    /// </summary>
    public static MergedSections Build(IEnumerable<InputSection> sectionsInInputOrder, Func<InputSection, object?> outputSectionOf,
        InputContents? contents = null)
    {
        var result = new MergedSections(contents ?? InputContents.AsRead);
        foreach (var section in sectionsInInputOrder)
            if ((section.Flags & SHF_MERGE) != 0 && outputSectionOf(section) is { } output)
                result.Add(section, output);
        foreach (var group in result._groups)
            Merge(group, result);
        return result;
    }

    /// <summary>Whether ld merges this section (it is SHF_MERGE and passes ld's checks).</summary>
    public bool IsMerged(InputSection section) => _members.ContainsKey(section);

    /// <summary>
    /// A merged section left without entries: ld excludes it, so it occupies nothing and adds no alignment padding
    /// (nor raises the output section's alignment).
    /// </summary>
    public bool IsExcluded(InputSection section) => _members.TryGetValue(section, out var m) && m.FirstStr is null;

    /// <summary>The section's size in the output (its original size when not merged; 0 when excluded).</summary>
    public ulong SizeOf(InputSection section)
    {
        if (!_members.TryGetValue(section, out var m))
            return section.Size;
        return m.FirstStr is null ? 0 : m.Size;
    }

    /// <summary>The section's bytes in the output (the original bytes when not merged; empty when excluded).</summary>
    public byte[] ContentsOf(InputSection section)
    {
        if (!_members.TryGetValue(section, out var m))
            return _contents.Data(section);
        if (m.FirstStr is null)
            return Array.Empty<byte>();
        return m.Output ??= Emit(m);
    }

    /// <summary>The group a merged section belongs to, or null.</summary>
    public MergeGroup? GroupOf(InputSection section) => _members.TryGetValue(section, out var m) ? m.Group : null;

    /// <summary>
    /// Where byte <paramref name="offset"/> of input section <paramref name="section"/> went (ld's
    /// _bfd_merged_section_offset). Identity for sections that are not merged. An offset at or past the section's
    /// original end maps to the end of the section's own new contents (0 if it was excluded); ld warns
    /// "access beyond end of merged section" for offsets past the end.
    /// </summary>
    public MergedLocation Map(InputSection section, ulong offset)
    {
        if (!_members.TryGetValue(section, out var m))
            return new MergedLocation(section, offset);
        if (offset >= section.Size)
            return new MergedLocation(section, m.FirstStr is not null ? m.Size : 0);

        var group = m.Group;
        int entsize = (int)group.EntrySize;
        long p;
        if (group.Strings)
        {
            p = (long)(offset / group.EntrySize) * entsize - entsize;
            while (p >= 0 && !IsZeroChar(m.Contents, p, entsize))
                p -= entsize;
            p += entsize;
        }
        else
        {
            p = (long)(offset / group.EntrySize) * entsize;
        }

        var key = group.Strings ? StringSpanAt(m.Contents, p, entsize) : m.Contents.AsSpan((int)p, entsize);
        if (!group.Table.GetAlternateLookup<ReadOnlySpan<byte>>().TryGetValue(key, out var entry))
        {
            // Only a reference into NUL padding that was never recorded as a string gets here; ld then points it at
            // the terminator of the group's first kept string.
            if (!group.Strings || m.Contents[p] != 0 || group.First is null)
                throw new InvalidOperationException($"{section}: offset 0x{offset:x} is in no merged entry");
            entry = group.First;
            p = ((long)(offset / group.EntrySize) + 1) * entsize - entry.Length;
        }
        return new MergedLocation(entry.Owner!.Section, entry.Index + (ulong)((long)offset - p));
    }

    /// <summary>
    /// The target of a reference to <paramref name="symbol"/> + <paramref name="addend"/> (a relocation or a symbol
    /// value): the location and the addend still to add to its address. For an STT_SECTION symbol of a merged
    /// section, <c>st_value + addend</c> is mapped as one offset and the remaining addend is 0; for every other symbol
    /// defined in a merged section <c>st_value</c> is mapped and the addend is kept. Null when the symbol is not
    /// defined in a merged section (nothing changes).
    /// </summary>
    public (MergedLocation Location, long Addend)? MapReference(InputSymbol symbol, long addend)
    {
        if (symbol.Section is not { } section || !_members.ContainsKey(section))
            return null;
        if (symbol.Type == STT_SECTION)
            return (Map(section, unchecked(symbol.Value + (ulong)addend)), 0);
        return (Map(section, symbol.Value), addend);
    }

    private void Add(InputSection section, object output)
    {
        if (!IsEligible(section, _contents.Relocations(section).Count, out int power) || _members.ContainsKey(section))
            return;
        bool strings = (section.Flags & SHF_STRINGS) != 0;
        var key = (output, strings, section.EntrySize, power);
        if (!_groupIndex.TryGetValue(key, out var group))
        {
            group = new MergeGroup(output, strings, section.EntrySize, power);
            _groups.Add(group);
            _groupIndex[key] = group;
        }
        var data = _contents.Data(section);
        var contents = data;
        if (strings)
        {
            // ld reads the section with one extra zero character, for strings without a terminator.
            contents = new byte[data.Length + (int)section.EntrySize];
            data.CopyTo(contents, 0);
        }
        group.SectionList.Add(section);
        _members[section] = new MergedMember(section, group, contents);
    }

    /// <summary>ld's _bfd_add_merge_section checks.</summary>
    private static bool IsEligible(InputSection section, int relocations, out int power)
    {
        power = AlignmentPower(section.Alignment);
        if (section.Size == 0 || section.EntrySize == 0 || section.IsNoBits)
            return false;
        if (section.Size % section.EntrySize != 0)
            return false;
        if (relocations != 0)
            return false;
        if (power >= 32)
            return false;
        ulong align = 1UL << power;
        ulong entsize = section.EntrySize;
        bool strings = (section.Flags & SHF_STRINGS) != 0;
        if (entsize < align && ((entsize & (entsize - 1)) != 0 || !strings))
            return false;
        if (entsize > align && (entsize & (align - 1)) != 0)
            return false;
        if (entsize > int.MaxValue / 2)
            return false;
        return true;
    }

    /// <summary>bfd_log2: the power of two at or above the value.</summary>
    internal static int AlignmentPower(ulong alignment)
    {
        int power = 0;
        while (power < 64 && (1UL << power) < alignment)
            power++;
        return power;
    }

    private static void Merge(MergeGroup group, MergedSections result)
    {
        ulong align = 1;
        foreach (var section in group.SectionList)
        {
            var m = result._members[section];
            Record(group, m);
            if (align != 0)
            {
                align = 1UL << group.AlignmentPower;
                if ((section.Size & (align - 1)) != 0)
                    align = 0;
            }
        }
        if (group.Chain.Count == 0)
            return;

        MergedMember last = group.Strings ? MergeStrings(group) : PlaceConstants(group);
        if (align != 0)
            last.Size = (last.Size + align - 1) & ~(align - 1);

        foreach (var e in group.Chain)
            if (e.Alignment != 0)
                e.Owner!.Kept.Add(e);
    }

    /// <summary>ld's record_section: adds the section's entries to the group's table in order.</summary>
    private static void Record(MergeGroup group, MergedMember m)
    {
        var contents = m.Contents;
        long end = (long)m.Section.Size;
        int entsize = (int)group.EntrySize;
        if (!group.Strings)
        {
            for (long p = 0; p < end; p += entsize)
                AddEntry(group, Slice(contents, p, entsize), 1, m);
            return;
        }

        long mask = (1L << group.AlignmentPower) - 1;
        bool nul = false;
        for (long p = 0; p < end;)
        {
            long eltalign = p == 0 ? 0 : p & -p;
            if (eltalign == 0 || eltalign > mask)
                eltalign = mask + 1;
            var entry = AddEntry(group, StringAt(contents, p, entsize), (uint)eltalign, m);
            p += entry.Length;
            while (p < end && IsZeroChar(contents, p, entsize))
            {
                if (!nul && (p & mask) == 0)
                {
                    nul = true;
                    AddEntry(group, new byte[entsize], (uint)(mask + 1), m);
                }
                p += entsize;
            }
        }
    }

    /// <summary>ld's sec_merge_add with sec_merge_hash_lookup(create).</summary>
    private static MergeEntry AddEntry(MergeGroup group, byte[] content, uint alignment, MergedMember m)
    {
        if (group.Table.TryGetValue(content, out var existing))
        {
            if (existing.Alignment >= alignment)
                return existing;
            // The copy seen first is not aligned enough: ld drops it and records a new one here.
            existing.Length = 0;
            existing.Alignment = 0;
        }
        var entry = new MergeEntry(content, alignment) { Owner = m };
        group.Table[content] = entry;
        group.Chain.Add(entry);
        return entry;
    }

    /// <summary>ld's merge_strings: suffix merging, then offsets per member.</summary>
    private static MergedMember MergeStrings(MergeGroup group)
    {
        int entsize = (int)group.EntrySize;
        var array = new List<MergeEntry>();
        uint alignment = 0;
        foreach (var e in group.Chain)
        {
            if (e.Alignment == 0)
                continue;
            array.Add(e);
            if (alignment != e.Alignment)
                alignment = alignment == 0 ? e.Alignment : uint.MaxValue;
        }

        if (array.Count != 0)
        {
            // Sort by reversed contents (terminator excluded) so that each string comes right before the strings
            // it is a suffix of. With one common alignment larger than a character, the length modulo the alignment
            // is compared first.
            bool byTail = alignment != uint.MaxValue && alignment > group.EntrySize;
            array.Sort((a, b) => CompareReversed(a, b, entsize, byTail));
            var kept = array[^1];
            for (int i = array.Count - 2; i >= 0; i--)
            {
                var cmp = array[i];
                if (kept.Alignment >= cmp.Alignment
                    && ((kept.Length - cmp.Length) & (int)(cmp.Alignment - 1)) == 0
                    && IsSuffix(kept, cmp))
                {
                    cmp.Suffix = kept;
                    cmp.Alignment = 0;
                }
                else
                {
                    kept = cmp;
                }
            }
        }

        // Offsets of the kept strings, each member starting at 0.
        ulong size = 0;
        var current = group.Chain[0].Owner!;
        foreach (var e in group.Chain)
        {
            if (e.Owner != current)
            {
                current.Size = size;
                current = e.Owner!;
            }
            if (e.Alignment != 0)
            {
                if (e.Owner!.FirstStr is null)
                {
                    e.Owner.FirstStr = e;
                    size = 0;
                }
                size = (size + e.Alignment - 1) & ~((ulong)e.Alignment - 1);
                e.Index = size;
                size += (ulong)e.Length;
            }
        }
        current.Size = size;

        // Folded strings take their place inside the string they are a suffix of.
        foreach (var e in group.Chain)
        {
            if (e.Alignment != 0 || e.Length == 0)
                continue;
            var s = e.Suffix!;
            e.Owner = s.Owner;
            e.Alignment = s.Alignment;
            e.Index = s.Index + (ulong)(s.Length - e.Length);
        }
        group.Chain.RemoveAll(e => e.Suffix is not null || e.Length == 0);
        group.First = group.Chain.Count > 0 ? group.Chain[0] : null;
        return current;
    }

    /// <summary>Fixed-size entries: every distinct one in first-seen order, packed.</summary>
    private static MergedMember PlaceConstants(MergeGroup group)
    {
        ulong size = 0;
        MergedMember? current = null;
        foreach (var e in group.Chain)
        {
            if (e.Owner!.FirstStr is null)
            {
                if (current is not null)
                    current.Size = size;
                e.Owner.FirstStr = e;
                size = 0;
            }
            size = (size + e.Alignment - 1) & ~((ulong)e.Alignment - 1);
            e.Index = size;
            size += (ulong)e.Length;
            current = e.Owner;
        }
        current!.Size = size;
        group.First = group.Chain[0];
        return current;
    }

    private static int CompareReversed(MergeEntry a, MergeEntry b, int entsize, bool byTail)
    {
        int lenA = a.Length - entsize, lenB = b.Length - entsize;
        if (byTail)
        {
            int mask = (int)a.Alignment - 1;
            int tail = (lenA & mask) - (lenB & mask);
            if (tail != 0)
                return tail;
        }
        int l = Math.Min(lenA, lenB);
        for (int i = 1; i <= l; i++)
        {
            int d = a.Content[lenA - i] - b.Content[lenB - i];
            if (d != 0)
                return d;
        }
        return lenA - lenB;
    }

    /// <summary>Whether <paramref name="b"/> (with its terminator) ends <paramref name="a"/>.</summary>
    private static bool IsSuffix(MergeEntry a, MergeEntry b)
    {
        if (a.Length <= b.Length)
            return false;
        return a.Content.AsSpan(a.Length - b.Length, b.Length).SequenceEqual(b.Content.AsSpan(0, b.Length));
    }

    /// <summary>ld's sec_merge_emit: the member's kept entries with alignment padding, then padding to its size.</summary>
    private static byte[] Emit(MergedMember m)
    {
        var output = new byte[m.Size];
        foreach (var e in m.Kept)
            e.Content.AsSpan(0, e.Length).CopyTo(output.AsSpan((int)e.Index));
        return output;
    }

    private static bool IsZeroChar(byte[] contents, long p, int entsize)
    {
        for (int i = 0; i < entsize; i++)
            if (contents[p + i] != 0)
                return false;
        return true;
    }

    /// <summary>The string starting at <paramref name="p"/> with its terminating zero character.</summary>
    private static byte[] StringAt(byte[] contents, long p, int entsize) => StringSpanAt(contents, p, entsize).ToArray();

    private static ReadOnlySpan<byte> StringSpanAt(byte[] contents, long p, int entsize)
    {
        long q = p;
        while (!IsZeroChar(contents, q, entsize))
            q += entsize;
        return contents.AsSpan((int)p, (int)(q - p) + entsize);
    }

    private static byte[] Slice(byte[] contents, long p, int length) => contents.AsSpan((int)p, length).ToArray();
}

internal sealed class ByteArrayComparer : IEqualityComparer<byte[]>, IAlternateEqualityComparer<ReadOnlySpan<byte>, byte[]>
{
    public static readonly ByteArrayComparer Instance = new();

    public bool Equals(byte[]? x, byte[]? y) => x is null ? y is null : y is not null && x.AsSpan().SequenceEqual(y);

    public int GetHashCode(byte[] obj) => GetHashCode((ReadOnlySpan<byte>)obj);

    public bool Equals(ReadOnlySpan<byte> alternate, byte[] other) => alternate.SequenceEqual(other);

    public int GetHashCode(ReadOnlySpan<byte> alternate)
    {
        var h = new HashCode();
        h.AddBytes(alternate);
        return h.ToHashCode();
    }

    public byte[] Create(ReadOnlySpan<byte> alternate) => alternate.ToArray();
}
