using System.Buffers.Binary;
using UklLink.Kernel;
using UklLink.Layout;
using static UklLink.Inputs.ElfConstants;

namespace UklLink.Linking;

/// <summary>The application's TLS segment: where the template starts, its sizes and alignment (PT_TLS).</summary>
internal readonly record struct TlsSegment(ulong Start, ulong MemSize, ulong FileSize, ulong Align)
{
    /// <summary>The block size the thread pointer sits after (x86-64 variant II): memsz rounded to the alignment.</summary>
    public ulong Size => Align <= 1 ? MemSize : (MemSize + Align - 1) & ~(Align - 1);

    public static TlsSegment Of(LayoutResult layout)
    {
        var tls = layout.Sections.Where(s => s.IsTls).ToList();
        if (tls.Count == 0)
            return new TlsSegment(0, 0, 0, 1);
        ulong start = tls.Min(s => s.Address);
        ulong end = tls.Max(s => s.End);
        ulong fileEnd = tls.Where(s => !s.IsNoBits).Select(s => s.End).DefaultIfEmpty(start).Max();
        return new TlsSegment(start, end - start, fileEnd - start, tls.Max(s => s.Alignment));
    }
}

/// <summary>
/// What the kernel learns about the linked application (docs/slot-abi.md §2): its program header table, placed in
/// the data slot after the script's sections behind a 64-byte ELF file header (so that __ehdr_start, which glibc's
/// static start-up falls back on without AT_PHDR, names a real header), and the descriptor that points at the table.
/// </summary>
internal sealed class ApplicationImage
{
    public const int PhdrSize = 56;
    public const int EhdrSize = 64;
    public const string EhdrSymbol = "__ehdr_start";

    private readonly LayoutResult _layout;
    private readonly IReadOnlyList<Slot> _slots;
    private readonly TlsSegment _tls;
    private readonly OutputSection? _ehFrameHeader;
    private readonly ulong _entry;

    public ApplicationImage(LayoutResult layout, IReadOnlyList<Slot> slots, TlsSegment tls, ulong entry, OutputSection? ehFrameHeader)
    {
        _layout = layout;
        _slots = slots;
        _tls = tls;
        _entry = entry;
        _ehFrameHeader = ehFrameHeader;
        DataSlot = slots.First(s => s.Name == SlotAbi.Data);
        ulong usedEnd = Used(DataSlot).Select(s => s.End).DefaultIfEmpty(DataSlot.Start).Max();
        // The script may say where the header goes (ukl-app.ld: PROVIDE_HIDDEN(__ehdr_start = .) after the data).
        EhdrAddress = layout.Symbols.TryGetValue(EhdrSymbol, out var ehdr) && ehdr.Value >= usedEnd ? ehdr.Value : (usedEnd + 7) & ~7UL;
        PhdrAddress = EhdrAddress + EhdrSize;
        Headers = ProgramHeaders();
        PhdrEnd = PhdrAddress + (ulong)(Headers.Count * PhdrSize);
    }

    public Slot DataSlot { get; }
    public ulong EhdrAddress { get; }
    public ulong PhdrAddress { get; }
    public ulong PhdrEnd { get; }
    public IReadOnlyList<ProgramHeader> Headers { get; }

    /// <summary>Sections that occupy a slot's address range (.tbss only sizes the TLS block).</summary>
    private IEnumerable<OutputSection> Used(Slot slot) => _layout.Sections.Where(s => s.Slot == slot && !(s.IsTls && s.IsNoBits));

    /// <summary>The ELF header and the program header table, written at <see cref="EhdrAddress"/>.</summary>
    public byte[] HeaderBytes()
    {
        var bytes = new byte[EhdrSize + Headers.Count * PhdrSize];
        var e = bytes.AsSpan();
        "\u007fELF"u8.CopyTo(e);
        e[4] = 2; // ELFCLASS64
        e[5] = 1; // ELFDATA2LSB
        e[6] = 1; // EV_CURRENT
        BinaryPrimitives.WriteUInt16LittleEndian(e[16..], 2); // ET_EXEC
        BinaryPrimitives.WriteUInt16LittleEndian(e[18..], 62); // EM_X86_64
        BinaryPrimitives.WriteUInt32LittleEndian(e[20..], 1);
        BinaryPrimitives.WriteUInt64LittleEndian(e[24..], _entry);
        BinaryPrimitives.WriteUInt64LittleEndian(e[32..], EhdrSize); // e_phoff: the table follows the header
        BinaryPrimitives.WriteUInt16LittleEndian(e[52..], EhdrSize);
        BinaryPrimitives.WriteUInt16LittleEndian(e[54..], PhdrSize);
        BinaryPrimitives.WriteUInt16LittleEndian(e[56..], (ushort)Headers.Count);
        for (int i = 0; i < Headers.Count; i++)
            Headers[i].WriteTo(e.Slice(EhdrSize + i * PhdrSize));
        return bytes;
    }

    /// <summary>
    /// One PT_LOAD per used slot, then as GNU ld orders the rest: PT_NOTE for the allocated notes, PT_TLS,
    /// PT_GNU_EH_FRAME for .eh_frame_hdr and PT_GNU_STACK. Never PT_GNU_RELRO: static glibc would mprotect the range,
    /// which lies in the kernel's image, and abort.
    /// </summary>
    private List<ProgramHeader> ProgramHeaders()
    {
        var others = OtherHeaders();
        int count = _slots.Count(slot => slot == DataSlot || Used(slot).Any(s => s.Size > 0)) + others.Count;
        var list = new List<ProgramHeader>();
        foreach (var slot in _slots)
        {
            var sections = Used(slot).ToList();
            ulong start = sections.Count > 0 ? sections.Min(s => s.Address) : slot.Start;
            ulong end = sections.Count > 0 ? sections.Max(s => s.End) : slot.Start;
            if (slot == DataSlot)
            {
                start = Math.Min(start, EhdrAddress);
                end = Math.Max(end, PhdrAddress + (ulong)(count * PhdrSize));
            }
            if (end == start)
                continue;
            uint flags = slot.Name == SlotAbi.Text ? PF_R | PF_X : slot.Name == SlotAbi.Rodata ? PF_R : PF_R | PF_W;
            ulong fileSize = slot.Name == SlotAbi.Bss ? 0 : end - start;
            list.Add(new ProgramHeader(PT_LOAD, flags, start, fileSize, end - start, 4096));
        }
        list.AddRange(others);
        return list;
    }

    private List<ProgramHeader> OtherHeaders()
    {
        var list = new List<ProgramHeader>();
        // Adjacent note sections share one PT_NOTE.
        ProgramHeader? note = null;
        foreach (var os in _layout.Sections.OrderBy(s => s.Address))
        {
            bool isNote = os.Size > 0 && os.Pieces.Count > 0 && os.Pieces.All(p => p is InputPiece ip && ip.Section.Type == SHT_NOTE);
            if (isNote && note is not null && note.VirtualAddress + note.MemorySize == os.Address)
                note = note with { FileSize = note.FileSize + os.Size, MemorySize = note.MemorySize + os.Size, Alignment = Math.Max(note.Alignment, os.Alignment) };
            else if (isNote)
            {
                if (note is not null)
                    list.Add(note);
                note = new ProgramHeader(PT_NOTE, PF_R, os.Address, os.Size, os.Size, os.Alignment);
            }
        }
        if (note is not null)
            list.Add(note);
        if (_tls.MemSize > 0)
            list.Add(new ProgramHeader(PT_TLS, PF_R, _tls.Start, _tls.FileSize, _tls.MemSize, _tls.Align));
        if (_ehFrameHeader is { Size: > 0 } hdr)
            list.Add(new ProgramHeader(PT_GNU_EH_FRAME, PF_R, hdr.Address, hdr.Size, hdr.Size, 4));
        list.Add(new ProgramHeader(PT_GNU_STACK, PF_R | PF_W, 0, 0, 0, 16));
        return list;
    }

    /// <summary>The kernel's descriptor bytes with every field ukl-link owns filled in; the magic goes in last.</summary>
    public byte[] Descriptor(KernelImage kernel, ulong entry)
    {
        var bytes = kernel.ReadBytes(kernel.DescriptorAddress!.Value, SlotAbi.DescriptorSize)!;
        void Put(int offset, ulong value) => BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(offset), value);
        Put(SlotAbi.Offsets.Entry, entry);
        Put(SlotAbi.Offsets.TlsImage, _tls.MemSize > 0 ? _tls.Start : 0);
        Put(SlotAbi.Offsets.TlsFileSize, _tls.FileSize);
        Put(SlotAbi.Offsets.TlsMemSize, _tls.MemSize);
        Put(SlotAbi.Offsets.TlsAlign, _tls.MemSize > 0 ? _tls.Align : 0);
        Put(SlotAbi.Offsets.Phdr, PhdrAddress);
        Put(SlotAbi.Offsets.Phnum, (ulong)Headers.Count);
        Put(SlotAbi.Offsets.Phentsize, PhdrSize);
        var fields = new[]
        {
            (SlotAbi.Text, SlotAbi.Offsets.TextStart, SlotAbi.Offsets.TextEnd),
            (SlotAbi.Rodata, SlotAbi.Offsets.RodataStart, SlotAbi.Offsets.RodataEnd),
            (SlotAbi.Data, SlotAbi.Offsets.DataStart, SlotAbi.Offsets.DataEnd),
            (SlotAbi.Bss, SlotAbi.Offsets.BssStart, SlotAbi.Offsets.BssEnd),
        };
        foreach (var (name, startField, endField) in fields)
        {
            var slot = _slots.First(s => s.Name == name);
            var sections = Used(slot).Where(s => s.Size > 0).ToList();
            ulong start = sections.Count > 0 ? sections.Min(s => s.Address) : slot.Start;
            ulong end = sections.Count > 0 ? sections.Max(s => s.End) : slot.Start;
            if (slot == DataSlot)
            {
                start = Math.Min(start, EhdrAddress);
                end = Math.Max(end, PhdrEnd);
            }
            Put(startField, start);
            Put(endField, end);
        }
        Put(SlotAbi.Offsets.Flags, 0);
        Put(SlotAbi.Offsets.Magic, SlotAbi.AppMagic);
        return bytes;
    }
}
