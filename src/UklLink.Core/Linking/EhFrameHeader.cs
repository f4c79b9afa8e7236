using System.Buffers.Binary;
using UklLink.Inputs;
using UklLink.Layout;
using UklLink.LinkerScript;
using static UklLink.Inputs.ElfConstants;

namespace UklLink.Linking;

/// <summary>
/// .eh_frame_hdr as GNU ld 2.40 writes it with --eh-frame-hdr (bfd/elf-eh-frame.c, write_dwarf_eh_frame_hdr): version
/// 1, a PC-relative pointer to the .eh_frame output section, and when every .eh_frame input was understood a binary
/// search table of (initial location, FDE address) pairs relative to the header, sorted by location then range.
/// libgcc's unwinder finds it through dl_iterate_phdr and the PT_GNU_EH_FRAME program header, so the first C++ throw
/// needs it; __GNU_EH_FRAME_HDR names it for code that has no program headers. ld makes it only when the script
/// places .eh_frame_hdr and some .eh_frame input holds a CIE or FDE.
/// </summary>
internal sealed class EhFrameHeader
{
    public const string SectionName = ".eh_frame_hdr";
    public const string Symbol = "__GNU_EH_FRAME_HDR";
    private const string EhFrame = ".eh_frame";
    private const int HeaderSize = 8;
    private const byte DW_EH_PE_omit = 0xff, DW_EH_PE_udata4 = 0x03, DW_EH_PE_pcrel_sdata4 = 0x1b, DW_EH_PE_datarel_sdata4 = 0x3b;

    private EhFrameHeader() => Piece = new SyntheticPiece(SectionName, HeaderSize, 4, SHF_ALLOC, noBits: false);

    public SyntheticPiece Piece { get; }

    /// <summary>Placed by the script (an unplaced header is simply not made).</summary>
    public bool IsPlaced => Piece.Output is not null;

    /// <summary>ld's condition: the script places .eh_frame_hdr and there is unwind information to index.</summary>
    public static bool IsWanted(Script script, IEnumerable<InputSection> live) =>
        live.Any(s => s.Name == EhFrame && s.Size > 8) && Places(script, SectionName);

    public static EhFrameHeader? For(Script script, IEnumerable<InputSection> live) => IsWanted(script, live) ? new EhFrameHeader() : null;

    /// <summary>False when an .eh_frame input could not be parsed: ld then writes the header without a table.</summary>
    private static bool HasTable(EhFrameLayout? layout) =>
        (layout?.Sections ?? []).All(s => s.ParseError is null) && layout?.Traditional != true;

    /// <summary>The header's size once .eh_frame is edited: 8 bytes, plus 4 + 8 per kept FDE with a table.</summary>
    public static ulong SizeFor(EhFrameLayout? layout) =>
        HasTable(layout) ? (ulong)(HeaderSize + 4 + 8 * KeptFdes(layout).Count()) : HeaderSize;

    /// <summary>
    /// The header's bytes, from the relocated .eh_frame image: each kept FDE's initial location is read from its
    /// relocated PC-begin field (PC-relative to the field, or absolute, per its CIE's encoding) and its range after it.
    /// </summary>
    public byte[] Contents(EhFrameLayout? layout, OutputSection ehFrame, byte[] ehFrameImage, IReadOnlyDictionary<InputSection, InputPiece> placed,
        out string? problem)
    {
        problem = null;
        bool hasTable = HasTable(layout);
        ulong hdr = Piece.Address;
        var bytes = new byte[Piece.Size];
        bytes[0] = 1;
        bytes[1] = DW_EH_PE_pcrel_sdata4;
        bytes[2] = hasTable ? DW_EH_PE_udata4 : DW_EH_PE_omit;
        bytes[3] = hasTable ? DW_EH_PE_datarel_sdata4 : DW_EH_PE_omit;
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(4), (int)(long)(ehFrame.Address - (hdr + 4)));
        if (!hasTable)
            return bytes;

        var table = new List<(ulong Location, ulong Range, ulong Fde)>();
        foreach (var e in KeptFdes(layout))
        {
            if (!placed.TryGetValue(e.Section, out var piece) || piece.Output != ehFrame)
                continue;
            ulong fde = piece.Address + e.OutputOffset;
            int width = EhFrameBuilder.Width(e.FdeEncoding);
            int at = (int)(fde - ehFrame.Address) + 8;
            ulong field = fde + 8;
            ulong value = Read(ehFrameImage.AsSpan(at), width, signed: (e.FdeEncoding & 0x08) != 0);
            ulong location = value == 0 ? 0 : (e.FdeEncoding & 0x70) == 0x10 ? value + field : value;
            ulong range = Read(ehFrameImage.AsSpan(at + width), width, signed: false);
            table.Add((location, range, fde));
        }
        table.Sort((a, b) => a.Location != b.Location ? a.Location.CompareTo(b.Location) : a.Range.CompareTo(b.Range));
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(HeaderSize), (uint)table.Count);
        for (int i = 0; i < table.Count; i++)
        {
            long location = (long)(table[i].Location - hdr), fde = (long)(table[i].Fde - hdr);
            if (location != (int)location || fde != (int)fde)
                problem = ".eh_frame_hdr entry overflow";
            else if (i > 0 && table[i].Location < table[i - 1].Location + table[i - 1].Range)
                problem = $".eh_frame_hdr refers to overlapping FDEs (at 0x{table[i].Fde:x} and 0x{table[i - 1].Fde:x})";
            BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(HeaderSize + 4 + 8 * i), (int)location);
            BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(HeaderSize + 8 + 8 * i), (int)fde);
        }
        return bytes;
    }

    private static IEnumerable<EhFrameEntry> KeptFdes(EhFrameLayout? layout) =>
        layout is null || layout.Traditional ? []
            : layout.Sections.Where(s => s.Parsed && !s.Excluded).SelectMany(s => s.Entries).Where(e => e.Kind == EhFrameEntryKind.Fde && !e.Removed);

    private static ulong Read(ReadOnlySpan<byte> at, int width, bool signed) => width switch
    {
        2 => signed ? (ulong)BinaryPrimitives.ReadInt16LittleEndian(at) : BinaryPrimitives.ReadUInt16LittleEndian(at),
        4 => signed ? (ulong)BinaryPrimitives.ReadInt32LittleEndian(at) : BinaryPrimitives.ReadUInt32LittleEndian(at),
        8 => BinaryPrimitives.ReadUInt64LittleEndian(at),
        _ => 0,
    };

    /// <summary>True when some rule of a non-discarded output section names <paramref name="section"/> (a glob match).</summary>
    private static bool Places(Script script, string section) =>
        script.Commands.OfType<SectionsCommand>().SelectMany(c => c.Items).OfType<OutputSectionStatement>()
            .Where(os => os.Name != "/DISCARD/")
            .SelectMany(os => os.Items.OfType<InputSectionDescription>())
            .Any(d => d.Sections.Any(p => Glob.Matches(p.Glob, section)));
}
