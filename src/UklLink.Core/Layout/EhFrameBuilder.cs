using System.Buffers.Binary;
using UklLink.Inputs;
using static UklLink.Inputs.ElfConstants;

namespace UklLink.Layout;

/// <summary>Where a global symbol resolved, as far as the .eh_frame rules need it.</summary>
/// <param name="IsDefined">Defined (or weakly defined) by some input or the script; false when undefined.</param>
/// <param name="Section">The section of the winning definition; null for an absolute or script-defined symbol.</param>
public readonly record struct GlobalDefinition(bool IsDefined, InputSection? Section);

public sealed class EhFrameOptions
{
    /// <summary>False for input sections ld discarded: COMDAT duplicates, /DISCARD/, garbage-collected.</summary>
    public Func<InputSection, bool> IsLive { get; init; } = _ => true;

    /// <summary>
    /// Resolves a global symbol referenced from .eh_frame. The default looks only inside the referring object (a
    /// definition there counts, anything else is undefined), which is right unless an FDE names a global function of
    /// another object or a COMDAT function by its global name (gcc and gas use local labels).
    /// </summary>
    public Func<InputSymbol, GlobalDefinition>? ResolveGlobal { get; init; }

    /// <summary>--traditional-format: ld leaves .eh_frame alone (plain concatenation).</summary>
    public bool TraditionalFormat { get; init; }

    /// <summary>The output .eh_frame section's alignment; by default the largest input alignment, as ld sets it.</summary>
    public ulong? OutputAlignment { get; init; }

    /// <summary>Where the sections' bytes and relocations are read (a link passes the rewrite pass's contents).</summary>
    public InputContents Contents { get; init; } = InputContents.AsRead;
}

/// <summary>
/// GNU ld 2.40's .eh_frame editing (bfd/elf-eh-frame.c and bfd_elf_discard_info) for the input sections of the
/// output section named .eh_frame, for a static non-PIC link.
/// </summary>
/// <remarks>
/// <list type="bullet">
/// <item>Each input section is parsed into CIEs and FDEs. Trailing DW_CFA_nop padding of every entry is trimmed.
/// A section ld cannot parse (unknown augmentation or CFA opcode, an FDE whose CIE is in another section, an FDE whose
/// start address is relocated against a symbol defined in another object, ...) is copied unchanged.</item>
/// <item>An FDE is dropped when the symbol of its start-address relocation is in a discarded section (a COMDAT
/// duplicate), is a global defined in another object or absolute, or is symbol 0; and when its address range is a
/// literal 0.</item>
/// <item>A CIE is kept only if a kept FDE uses it, and is merged into the first identical CIE (same trimmed contents
/// and encodings, same personality symbol) used before it in the output, possibly in an earlier section; the FDE's CIE
/// pointer is rewritten.</item>
/// <item>Kept entries keep their order; CIEs start on 4 bytes (8 with an aligned 8-byte personality), FDEs on the larger
/// of 4 and their address width; each entry's length word grows to reach the next kept entry (zero fill).</item>
/// <item>A zero terminator is kept only in the last input section of the output section. Every non-empty section but
/// the last one with more than a terminator is padded to the output section's alignment (inside its last entry);
/// empty sections at the end are excluded.</item>
/// <item>Nothing else changes for a non-PIC link: encodings stay as they are. PC-relative fields come out as if relocated
/// at their new place.</item>
/// </list>
/// </remarks>
public static class EhFrameBuilder
{
    private const byte DW_EH_PE_omit = 0xff;
    private const byte DW_EH_PE_pcrel = 0x10;
    private const byte DW_EH_PE_aligned = 0x50;
    private const int PointerSize = 8;

    /// <summary>
    /// Lays out the .eh_frame input sections of the output .eh_frame section, given in output order. Sections that
    /// are not live are left out.
    /// </summary>
    public static EhFrameLayout Build(IEnumerable<InputSection> sectionsInOutputOrder, EhFrameOptions? options = null)
    {
        options ??= new EhFrameOptions();
        var resolve = options.ResolveGlobal ?? DefaultResolve;
        var sections = sectionsInOutputOrder.Where(options.IsLive).Select(s => new EhFrameSection(s, options.Contents)).ToList();
        if (options.TraditionalFormat)
        {
            foreach (var s in sections)
                s.EditedSize = s.OutputSize = s.Section.Size;
            return new EhFrameLayout(sections, traditional: true);
        }

        foreach (var s in sections)
        {
            s.EditedSize = s.Section.Size;
            if (s.Section.Size == 0 || s.Section.IsNoBits)
                continue;
            s.ParseError = Parse(s, resolve);
            if (s.ParseError is not null)
                s.EntryList.Clear();
        }

        var cies = new List<EhFrameEntry>();
        for (int i = 0; i < sections.Count; i++)
        {
            var s = sections[i];
            if (!s.Parsed)
                continue;
            Discard(s, i == sections.Count - 1, cies, options.IsLive, resolve);
            Place(s);
        }

        PadSections(sections, options.OutputAlignment ?? sections.Select(s => Math.Max(1UL, s.Section.Alignment)).DefaultIfEmpty(1UL).Max());

        foreach (var s in sections)
        {
            for (int i = 0; i < s.EntryList.Count; i++)
            {
                var e = s.EntryList[i];
                if (!e.Removed)
                    e.OutputSize = e.Kind == EhFrameEntryKind.Terminator ? 4 : s.NextKeptOffset(i) - e.OutputOffset;
            }
        }
        return new EhFrameLayout(sections, traditional: false);
    }

    private static GlobalDefinition DefaultResolve(InputSymbol symbol) =>
        symbol.IsDefined ? new GlobalDefinition(true, symbol.Section) : new GlobalDefinition(false, null);

    /// <summary>bfd's _bfd_elf_parse_eh_frame. Returns why the section cannot be edited, or null.</summary>
    private static string? Parse(EhFrameSection s, Func<InputSymbol, GlobalDefinition> resolve)
    {
        var data = s.Data;
        int size = data.Length;
        var rels = s.SortedRelocations = s.Relocations.OrderBy(r => r.Offset).ToList();

        // First walk: the overall structure.
        for (int p = 0; p != size;)
        {
            if (size - p < 4)
                return "truncated entry";
            uint length = U32(data, p);
            p += 4;
            if (length == 0xffffffff)
                return "64-bit DWARF entry";
            if (length == 0)
                break;
            if (size - p < 4)
                return "truncated entry";
            p += 4;
            ulong rest = (uint)(length - 4);
            if (rest > (ulong)(size - p))
                return "entry runs past the section";
            p += (int)rest;
        }

        int rel = 0;
        var localCies = new List<EhFrameEntry>();
        int buf = 0;
        while (buf != size)
        {
            int entryStart = buf;
            if (size - buf < 4)
                return "truncated entry";
            uint hdrLength = U32(data, buf);
            buf += 4;
            if ((ulong)hdrLength > (ulong)(size - buf))
                return "entry runs past the section";
            int end = buf + (int)hdrLength;

            if (hdrLength == 0)
            {
                var term = new EhFrameEntry(s, EhFrameEntryKind.Terminator, (ulong)entryStart, 4) { RelocIndex = rel };
                while (size - buf >= 4)
                {
                    if (U32(data, buf) != 0)
                        return "data after the terminator";
                    buf += 4;
                }
                if (buf != size)
                    return "data after the terminator";
                if (!EnsureNoRelocs(rels, ref rel, buf))
                    return "relocation in the terminator";
                s.EntryList.Add(term);
                break;
            }

            if (end - buf < 4)
                return "truncated entry";
            uint id = U32(data, buf);
            buf += 4;
            bool isCie = id == 0;
            var entry = new EhFrameEntry(s, isCie ? EhFrameEntryKind.Cie : EhFrameEntryKind.Fde, (ulong)entryStart, 4 + (ulong)hdrLength)
            {
                RelocIndex = rel,
            };
            CieInfo cie;
            int insns;

            if (isCie)
            {
                cie = new CieInfo { Length = hdrLength };
                entry.CieData = cie;
                if (buf >= end)
                    return "truncated CIE";
                cie.Version = data[buf++];
                if (cie.Version is not (1 or 3 or 4))
                    return $"CIE version {cie.Version}";
                int nul = Array.IndexOf(data, (byte)0, buf);
                if (nul < 0 || nul - buf >= 20)
                    return "CIE augmentation string too long";
                cie.Augmentation = System.Text.Encoding.Latin1.GetString(data, buf, nul - buf);
                buf = nul + 1;
                if (!EnsureNoRelocs(rels, ref rel, buf))
                    return "relocation in the CIE header";
                if (buf + 1 < size && data[buf] == 'e' && data[buf + 1] == 'h')
                {
                    // gcc 2.x's "eh" data (bfd tests the bytes after the augmentation string).
                    if (end - buf < PointerSize)
                        return "truncated CIE";
                    buf += PointerSize;
                    SkipRelocs(rels, ref rel, buf);
                }
                if (cie.Version >= 4)
                {
                    if (!(buf + 1 < end) || data[buf] != PointerSize || data[buf + 1] != 0)
                        return "CIE address or segment size";
                    buf += 2;
                }
                if (!ReadUleb(data, ref buf, end, out cie.CodeAlign) || !ReadSleb(data, ref buf, end, out cie.DataAlign))
                    return "truncated CIE";
                if (cie.Version == 1)
                {
                    if (buf >= end)
                        return "truncated CIE";
                    cie.RaColumn = data[buf++];
                }
                else if (!ReadUleb(data, ref buf, end, out cie.RaColumn))
                {
                    return "truncated CIE";
                }
                if (!EnsureNoRelocs(rels, ref rel, buf))
                    return "relocation in the CIE header";

                var aug = cie.Augmentation;
                if (!aug.StartsWith("eh", StringComparison.Ordinal))
                {
                    int a = 0;
                    if (aug.Length > 0 && aug[0] == 'z')
                    {
                        a = 1;
                        if (!ReadUleb(data, ref buf, end, out cie.AugmentationSize))
                            return "truncated CIE";
                        if (!EnsureNoRelocs(rels, ref rel, buf))
                            return "relocation in the CIE header";
                    }
                    for (; a < aug.Length; a++)
                    {
                        switch (aug[a])
                        {
                            case 'B':
                            case 'S':
                                break;
                            case 'L':
                                if (buf >= end)
                                    return "truncated CIE";
                                cie.LsdaEncoding = data[buf++];
                                if (!EnsureNoRelocs(rels, ref rel, buf))
                                    return "relocation in the CIE header";
                                if (Width(cie.LsdaEncoding) == 0)
                                    return "LSDA encoding";
                                break;
                            case 'R':
                                if (buf >= end)
                                    return "truncated CIE";
                                cie.FdeEncoding = data[buf++];
                                if (!EnsureNoRelocs(rels, ref rel, buf))
                                    return "relocation in the CIE header";
                                if (Width(cie.FdeEncoding) == 0)
                                    return "FDE encoding";
                                break;
                            case 'P':
                            {
                                if (buf >= end)
                                    return "truncated CIE";
                                cie.PersonalityEncoding = data[buf++];
                                int width = Width(cie.PersonalityEncoding);
                                if (width == 0)
                                    return "personality encoding";
                                if ((cie.PersonalityEncoding & 0x70) == DW_EH_PE_aligned)
                                {
                                    int pad = -buf & (width - 1);
                                    if (end - buf < pad)
                                        return "truncated CIE";
                                    buf += pad;
                                    if (width == 8)
                                        entry.PersonalityAligned8 = true;
                                }
                                if (!EnsureNoRelocs(rels, ref rel, buf))
                                    return "relocation in the CIE header";
                                if (GetReloc(rels, rel, buf) is null)
                                    return "personality without a relocation";
                                cie.PersonalityRelocIndex = rel;
                                do
                                    rel++;
                                while (GetReloc(rels, rel, buf) is not null);
                                if (end - buf < width)
                                    return "truncated CIE";
                                buf += width;
                                break;
                            }
                            default:
                                return $"unknown augmentation '{aug[a]}'";
                        }
                    }
                }
                if (cie.FdeEncoding == DW_EH_PE_omit)
                    cie.FdeEncoding = 0; // DW_EH_PE_absptr
                int initial = end - buf;
                cie.InitialInsnLength = (byte)initial;
                cie.InitialInstructions = data.AsSpan(buf, Math.Min(initial, 50)).ToArray();
                insns = buf;
                buf = end;
                if (!EnsureNoRelocs(rels, ref rel, buf))
                    return "relocation in the CIE instructions";
                localCies.Add(entry);
            }
            else
            {
                uint cieOffset = unchecked((uint)entryStart + 4 - id);
                var local = localCies.FirstOrDefault(c => c.InputOffset == cieOffset);
                if (local is null)
                    return $"FDE at 0x{entryStart:x} uses a CIE outside this section";
                entry.LocalCie = local;
                cie = local.CieData!;
                if (!EnsureNoRelocs(rels, ref rel, buf))
                    return "relocation in the FDE header";
                if (GetReloc(rels, rel, buf) is not { } start)
                    return $"FDE at 0x{entryStart:x} has no relocated start address";
                if (!StartSectionIsLocal(start, s.Section.File, resolve))
                    return $"FDE at 0x{entryStart:x} starts at a symbol of another object";

                int width = Width(cie.FdeEncoding);
                if (end - buf < 2 * width)
                    return "truncated FDE";
                buf += 2 * width;
                SkipRelocs(rels, ref rel, buf - width);
                if (GetReloc(rels, rel, buf - width) is null && ReadUnsigned(data, buf - width, width) == 0)
                    entry.ZeroRange = true;

                ulong augLength = 0;
                if (cie.Augmentation.StartsWith('z') && !ReadUleb(data, ref buf, end, out augLength))
                    return "truncated FDE";
                if (cie.LsdaEncoding != DW_EH_PE_omit)
                {
                    SkipRelocs(rels, ref rel, buf);
                    if (!cie.Augmentation.StartsWith('z'))
                        augLength = (ulong)(end - buf);
                }
                if (augLength > (ulong)(end - buf))
                    return "truncated FDE";
                buf += (int)augLength;
                insns = buf;
                buf = end;
                SkipRelocs(rels, ref rel, buf);
            }

            int setLocCount = 0;
            int insnsEnd = SkipNonNops(data, insns, end, Width(cie.FdeEncoding), ref setLocCount);
            if (insnsEnd < 0)
                return $"unknown CFA instruction in the entry at 0x{entryStart:x}";
            if (setLocCount != 0 && isCie)
                return "DW_CFA_set_loc in a CIE";
            entry.TrimmedSize -= (ulong)(end - insnsEnd);
            if (isCie && insnsEnd != end)
            {
                cie.InitialInsnLength = (byte)(cie.InitialInsnLength - (end - insnsEnd));
                cie.Length -= (uint)(end - insnsEnd);
            }
            entry.FdeEncoding = cie.FdeEncoding;
            s.EntryList.Add(entry);
        }
        return null;
    }

    /// <summary>The section bfd's gc hook finds for an FDE's start address must belong to the FDE's object.</summary>
    private static bool StartSectionIsLocal(InputRelocation start, ObjectFile file, Func<InputSymbol, GlobalDefinition> resolve)
    {
        var sym = start.Symbol;
        if (sym.Index == 0)
            return true;
        if (sym.Bind != STB_LOCAL)
        {
            var def = resolve(sym);
            if (!def.IsDefined)
                return true;
            return def.Section is { } sec && sec.File == file;
        }
        return true;
    }

    /// <summary>bfd's _bfd_elf_discard_section_eh_frame decisions for one section.</summary>
    private static void Discard(EhFrameSection s, bool lastSection, List<EhFrameEntry> cies, Func<InputSection, bool> isLive,
        Func<InputSymbol, GlobalDefinition> resolve)
    {
        foreach (var e in s.EntryList)
        {
            if (e.TrimmedSize == 4)
            {
                e.Removed = !lastSection;
            }
            else if (e.Kind == EhFrameEntryKind.Fde && !e.ZeroRange)
            {
                if (StartSymbolDeleted(s, e, isLive, resolve))
                    continue;
                e.Removed = false;
                e.Cie = FindMergedCie(s, e.LocalCie!, cies, resolve);
            }
        }
    }

    /// <summary>bfd_elf_reloc_symbol_deleted_p for the FDE's start address.</summary>
    private static bool StartSymbolDeleted(EhFrameSection s, EhFrameEntry fde, Func<InputSection, bool> isLive,
        Func<InputSymbol, GlobalDefinition> resolve)
    {
        ulong at = fde.InputOffset + 8;
        for (int i = fde.RelocIndex; i < s.SortedRelocations.Count; i++)
        {
            var r = s.SortedRelocations[i];
            if (r.Offset > at)
                return false;
            if (r.Offset != at)
                continue;
            var sym = r.Symbol;
            if (sym.Index == 0)
                return true;
            if (sym.Bind != STB_LOCAL)
            {
                var def = resolve(sym);
                return def.IsDefined && (def.Section is not { } sec || sec.File != s.Section.File || !isLive(sec));
            }
            return sym.Section is { } local && !isLive(local);
        }
        return false;
    }

    /// <summary>bfd's find_merged_cie: keep the CIE, or use the first identical one already kept.</summary>
    private static EhFrameEntry FindMergedCie(EhFrameSection s, EhFrameEntry cie, List<EhFrameEntry> cies,
        Func<InputSymbol, GlobalDefinition> resolve)
    {
        if (!cie.Removed)
            return cie;
        if (cie.MergedInto is { } merged)
            return merged;
        cie.Removed = false;
        var info = cie.CieData!;
        if (info.PersonalityEncoding != DW_EH_PE_omit)
        {
            var sym = s.SortedRelocations[info.PersonalityRelocIndex].Symbol;
            if (sym.Bind != STB_LOCAL)
            {
                // The same global name is the same linker symbol, wherever it resolves.
                info.Personality = sym.Name;
            }
            else
            {
                if (sym.Section is null)
                    return cie;
                info.LocalPersonality = true;
                info.Personality = (sym.File, sym.Index);
            }
        }
        foreach (var kept in cies)
        {
            if (kept.CieData!.Matches(info))
            {
                cie.Removed = true;
                cie.MergedInto = kept;
                return kept;
            }
        }
        cies.Add(cie);
        return cie;
    }

    /// <summary>New offsets of the kept entries and the section's edited size.</summary>
    private static void Place(EhFrameSection s)
    {
        ulong offset = 0;
        foreach (var e in s.EntryList)
        {
            if (e.Removed)
                continue;
            ulong align = 4;
            if (e.Kind == EhFrameEntryKind.Cie && e.PersonalityAligned8)
                align = 8;
            else if (e.Kind == EhFrameEntryKind.Fde)
                align = (ulong)Math.Max(4, Width(e.FdeEncoding));
            offset = (offset + align - 1) & ~(align - 1);
            e.OutputOffset = offset;
            offset += e.TrimmedSize;
        }
        s.EditedSize = (offset + 3) & ~3UL;
    }

    /// <summary>bfd_elf_discard_info's tail: exclude trailing empty sections, pad the others but the last real one.</summary>
    private static void PadSections(List<EhFrameSection> sections, ulong outputAlignment)
    {
        foreach (var s in sections)
            s.OutputSize = s.EditedSize;
        int i = sections.Count - 1;
        for (; i >= 0; i--)
        {
            var size = sections[i].OutputSize;
            if (size == 0)
                sections[i].Excluded = true;
            else if (size > 4)
                break;
        }
        for (int j = i - 1; j >= 0; j--)
        {
            var s = sections[j];
            if (s.OutputSize != 4)
                s.OutputSize = (s.OutputSize + outputAlignment - 1) / outputAlignment * outputAlignment;
        }
    }

    /// <summary>bfd's get_DW_EH_PE_width for 64-bit pointers: 0 for variable or unknown widths.</summary>
    internal static int Width(byte encoding)
    {
        if ((encoding & 0x60) == 0x60)
            return 0;
        return (encoding & 7) switch
        {
            0 => PointerSize,
            2 => 2,
            3 => 4,
            4 => 8,
            _ => 0,
        };
    }

    /// <summary>
    /// bfd's skip_non_nops: walks CFA instructions; returns the offset of the first of the trailing DW_CFA_nops (or
    /// <paramref name="end"/>), or -1 for an instruction bfd does not know.
    /// </summary>
    private static int SkipNonNops(byte[] data, int p, int end, int pointerWidth, ref int setLocCount)
    {
        int last = p;
        while (p < end)
        {
            if (data[p] == 0)
            {
                p++;
                continue;
            }
            if (data[p] == 0x01)
                setLocCount++;
            if (!SkipCfaOp(data, ref p, end, pointerWidth))
                return -1;
            last = p;
        }
        return last;
    }

    private static bool SkipCfaOp(byte[] data, ref int p, int end, int pointerWidth)
    {
        if (p >= end)
            return false;
        byte op = data[p++];
        switch ((op & 0xc0) != 0 ? op & 0xc0 : op)
        {
            case 0x00: // nop
            case 0x40: // advance_loc
            case 0xc0: // restore
            case 0x0a: // remember_state
            case 0x0b: // restore_state
            case 0x2d: // GNU_window_save
                return true;
            case 0x80: // offset
            case 0x06: // restore_extended
            case 0x07: // undefined
            case 0x08: // same_value
            case 0x0d: // def_cfa_register
            case 0x0e: // def_cfa_offset
            case 0x13: // def_cfa_offset_sf
            case 0x2e: // GNU_args_size
                return SkipLeb(data, ref p, end);
            case 0x14: // val_offset
            case 0x15: // val_offset_sf
            case 0x05: // offset_extended
            case 0x09: // register
            case 0x0c: // def_cfa
            case 0x11: // offset_extended_sf
            case 0x2f: // GNU_negative_offset_extended
            case 0x12: // def_cfa_sf
                return SkipLeb(data, ref p, end) && SkipLeb(data, ref p, end);
            case 0x0f: // def_cfa_expression
                return ReadUleb(data, ref p, end, out var n1) && Skip(ref p, end, n1);
            case 0x10: // expression
            case 0x16: // val_expression
                return SkipLeb(data, ref p, end) && ReadUleb(data, ref p, end, out var n2) && Skip(ref p, end, n2);
            case 0x01: // set_loc
                return Skip(ref p, end, (ulong)pointerWidth);
            case 0x02: // advance_loc1
                return Skip(ref p, end, 1);
            case 0x03: // advance_loc2
                return Skip(ref p, end, 2);
            case 0x04: // advance_loc4
                return Skip(ref p, end, 4);
            case 0x1d: // MIPS_advance_loc8
                return Skip(ref p, end, 8);
            default:
                return false;
        }
    }

    private static bool Skip(ref int p, int end, ulong n)
    {
        if (n > (ulong)(end - p))
            return false;
        p += (int)n;
        return true;
    }

    private static bool SkipLeb(byte[] data, ref int p, int end)
    {
        while (p < end)
            if ((data[p++] & 0x80) == 0)
                return true;
        return false;
    }

    private static bool ReadUleb(byte[] data, ref int p, int end, out ulong value)
    {
        value = 0;
        int shift = 0;
        while (p < end)
        {
            byte b = data[p++];
            if (shift < 64)
                value |= (ulong)(b & 0x7f) << shift;
            shift += 7;
            if ((b & 0x80) == 0)
                return true;
        }
        return false;
    }

    private static bool ReadSleb(byte[] data, ref int p, int end, out long value)
    {
        value = 0;
        int shift = 0;
        while (p < end)
        {
            byte b = data[p++];
            if (shift < 64)
                value |= (long)(b & 0x7f) << shift;
            shift += 7;
            if ((b & 0x80) == 0)
            {
                if (shift < 64 && (b & 0x40) != 0)
                    value |= -1L << shift;
                return true;
            }
        }
        return false;
    }

    private static ulong ReadUnsigned(byte[] data, int p, int width) => width switch
    {
        2 => BinaryPrimitives.ReadUInt16LittleEndian(data.AsSpan(p)),
        4 => BinaryPrimitives.ReadUInt32LittleEndian(data.AsSpan(p)),
        _ => BinaryPrimitives.ReadUInt64LittleEndian(data.AsSpan(p)),
    };

    private static uint U32(byte[] data, int p) => BinaryPrimitives.ReadUInt32LittleEndian(data.AsSpan(p));

    /// <summary>ENSURE_NO_RELOCS: only R_X86_64_NONE against symbol 0 may come before <paramref name="limit"/>.</summary>
    private static bool EnsureNoRelocs(List<InputRelocation> rels, ref int rel, int limit)
    {
        while (rel < rels.Count && rels[rel].Offset < (ulong)limit)
        {
            if (rels[rel].Type != 0 || rels[rel].Symbol.Index != 0)
                return false;
            rel++;
        }
        return true;
    }

    private static void SkipRelocs(List<InputRelocation> rels, ref int rel, int limit)
    {
        while (rel < rels.Count && rels[rel].Offset < (ulong)limit)
            rel++;
    }

    private static InputRelocation? GetReloc(List<InputRelocation> rels, int rel, int at) =>
        rel < rels.Count && rels[rel].Offset == (ulong)at ? rels[rel] : null;
}
