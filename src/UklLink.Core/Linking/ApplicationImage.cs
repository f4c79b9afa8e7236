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
/// the data slot after the script's sections, and the descriptor that points at it.
/// </summary>
internal sealed class ApplicationImage
{
    public const int PhdrSize = 56;

    private readonly LayoutResult _layout;
    private readonly IReadOnlyList<Slot> _slots;
    private readonly TlsSegment _tls;

    public ApplicationImage(LayoutResult layout, IReadOnlyList<Slot> slots, TlsSegment tls)
    {
        _layout = layout;
        _slots = slots;
        _tls = tls;
        DataSlot = slots.First(s => s.Name == SlotAbi.Data);
        ulong usedEnd = Used(DataSlot).Select(s => s.End).DefaultIfEmpty(DataSlot.Start).Max();
        PhdrAddress = (usedEnd + 7) & ~7UL;
        Headers = ProgramHeaders();
        PhdrEnd = PhdrAddress + (ulong)(Headers.Count * PhdrSize);
    }

    public Slot DataSlot { get; }
    public ulong PhdrAddress { get; }
    public ulong PhdrEnd { get; }
    public IReadOnlyList<ProgramHeader> Headers { get; }

    /// <summary>Sections that occupy a slot's address range (.tbss only sizes the TLS block).</summary>
    private IEnumerable<OutputSection> Used(Slot slot) => _layout.Sections.Where(s => s.Slot == slot && !(s.IsTls && s.IsNoBits));

    public byte[] HeaderBytes()
    {
        var bytes = new byte[Headers.Count * PhdrSize];
        for (int i = 0; i < Headers.Count; i++)
            Headers[i].WriteTo(bytes.AsSpan(i * PhdrSize));
        return bytes;
    }

    private List<ProgramHeader> ProgramHeaders()
    {
        var list = new List<ProgramHeader>();
        foreach (var slot in _slots)
        {
            var sections = Used(slot).ToList();
            ulong start = sections.Count > 0 ? sections.Min(s => s.Address) : slot.Start;
            ulong end = sections.Count > 0 ? sections.Max(s => s.End) : slot.Start;
            if (slot == DataSlot)
                end = Math.Max(end, PhdrAddress + (ulong)(HeaderCount() * PhdrSize));
            if (end == start)
                continue;
            uint flags = slot.Name == SlotAbi.Text ? PF_R | PF_X : slot.Name == SlotAbi.Rodata ? PF_R : PF_R | PF_W;
            ulong fileSize = slot.Name == SlotAbi.Bss ? 0 : end - start;
            list.Add(new ProgramHeader(PT_LOAD, flags, start, fileSize, end - start, 4096));
        }
        if (_tls.MemSize > 0)
            list.Add(new ProgramHeader(PT_TLS, PF_R, _tls.Start, _tls.FileSize, _tls.MemSize, _tls.Align));
        list.Add(new ProgramHeader(PT_GNU_STACK, PF_R | PF_W, 0, 0, 0, 16));
        return list;
    }

    /// <summary>How many headers <see cref="ProgramHeaders"/> makes, needed before the table's own extent is known.</summary>
    private int HeaderCount()
    {
        int loads = _slots.Count(slot => slot == DataSlot || Used(slot).Any(s => s.Size > 0));
        return loads + (_tls.MemSize > 0 ? 1 : 0) + 1;
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
                start = Math.Min(start, PhdrAddress);
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
