using System.Buffers.Binary;
using UklLink.Inputs;
using static UklLink.Inputs.ElfConstants;

namespace UklLink.Kernel;

/// <summary>
/// A kernel image (vmlinux, ET_EXEC): its symbols, its sections and, when it was built with CONFIG_UNIKERNEL_LINUX,
/// its slots and descriptor. The file is mapped; the section headers come from the shared <see cref="ElfImage"/> reader
/// and symbols are looked up in the mapped symbol table itself (<see cref="KernelSymbolTable"/>): a vmlinux has tens of
/// thousands of symbols, and a link asks for a few hundred of them. Nothing is copied wholesale.
/// </summary>
public sealed class KernelImage : IDisposable
{
    private readonly MappedFile _file;
    private readonly ElfImage _elf;
    private readonly KernelSymbolTable? _symbols;
    private readonly IReadOnlyDictionary<string, KernelSymbol> _globals;
    private readonly (ulong Value, ulong Size)? _descriptorSymbol;

    private KernelImage(string path, MappedFile file, ElfImage elf)
    {
        Path = path;
        _file = file;
        _elf = elf;
        int symtab = elf.FindSection(SHT_SYMTAB);
        if (symtab < 0)
        {
            _globals = new Dictionary<string, KernelSymbol>();
            return;
        }
        // sh_info is the first global's index; the writer splits the table there (found by fuzz/run's kernel target).
        ulong count = elf.Sections[symtab].Size / ElfImage.SymbolSize;
        if (elf.Sections[symtab].Info > count)
            throw new InputException(path, $"corrupt .symtab: sh_info {elf.Sections[symtab].Info} (its first global symbol) is past its {count} symbols");
        // Any defined symbol for TryGetSymbolValue (slot bounds may be local); global, weak and unique ones for binding.
        _symbols = new KernelSymbolTable(elf, elf.Sections[symtab]);
        _globals = new KernelSymbolTable.GlobalDictionary(_symbols);
        int descriptor = _symbols.FindAny(SlotAbi.DescriptorSymbol);
        if (descriptor >= 0)
            _descriptorSymbol = new ElfImage.Symbol(elf.Bytes(elf.Sections[symtab]).Slice(descriptor * ElfImage.SymbolSize, ElfImage.SymbolSize)).SectionIndex == SHN_ABS
                ? FindDescriptor(elf, elf.Sections[symtab]) : (_symbols.Get(descriptor).Value, _symbols.Get(descriptor).Size);
    }

    public string Path { get; }

    /// <summary>The ELF header as checked on load.</summary>
    public ElfHeader Header => _elf.Header;

    /// <summary>The section header table, as read (the writer works on copies).</summary>
    public IReadOnlyList<SectionHeader> SectionHeaders => _elf.Sections;

    /// <summary>The mapped file and its tables, for the writer (which copies the unchanged parts from it).</summary>
    public ElfImage Elf => _elf;

    /// <summary>Address of <c>ukl_descriptor</c>, or null when the kernel has none.</summary>
    public ulong? DescriptorAddress => _descriptorSymbol?.Value;

    /// <summary>Defined global and weak symbols, by name.</summary>
    public IReadOnlyDictionary<string, KernelSymbol> GlobalSymbols => _globals;

    /// <summary>Where a user finds the kernel to pass (said with every unusable --kernel).</summary>
    public const string KernelFix = "--kernel takes the vmlinux of a UKL kernel build: `kernel/build --print` names it as VMLINUX";

    public static KernelImage Load(string path)
    {
        if (!File.Exists(path) && !Directory.Exists(path))
            throw new InputException(path, $"no such file ({KernelFix})");
        var file = MappedFile.Open(path);
        try
        {
            return new KernelImage(path, file, ElfImage.ReadVmlinux(file.All, path, KernelFix));
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>The first <c>ukl_descriptor</c> that is not absolute (it must have bytes to read).</summary>
    private static (ulong, ulong)? FindDescriptor(ElfImage elf, SectionHeader symtab)
    {
        var symbols = elf.Bytes(symtab);
        var strings = elf.Bytes(elf.Sections[(int)symtab.Link]);
        var want = System.Text.Encoding.ASCII.GetBytes(SlotAbi.DescriptorSymbol);
        for (int at = ElfImage.SymbolSize; at + ElfImage.SymbolSize <= symbols.Length; at += ElfImage.SymbolSize)
        {
            var e = new ElfImage.Symbol(symbols.Slice(at, ElfImage.SymbolSize));
            if (e.NameOffset == 0 || e.NameOffset >= (uint)strings.Length || e.SectionIndex == SHN_UNDEF || e.SectionIndex == SHN_ABS || e.SectionIndex >= elf.Sections.Count)
                continue;
            if (ElfImage.CStringBytes(strings, e.NameOffset).SequenceEqual(want))
                return (e.Value, e.Size);
        }
        return null;
    }

    /// <summary>Any defined symbol (local ones included: slot bounds may be local in some builds).</summary>
    public bool TryGetSymbolValue(string name, out ulong value)
    {
        int i = _symbols?.FindAny(name) ?? -1;
        value = i >= 0 ? _symbols!.Get(i).Value : 0;
        return i >= 0;
    }

    /// <summary>The slots this kernel reserves, or the names of the slot symbols it lacks.</summary>
    public IReadOnlyList<Slot> GetSlots(out IReadOnlyList<string> missing)
    {
        var slots = new List<Slot>();
        var absent = new List<string>();
        foreach (var s in SlotAbi.Slots)
        {
            bool hasStart = TryGetSymbolValue(s.StartSymbol, out ulong start);
            bool hasEnd = TryGetSymbolValue(s.EndSymbol, out ulong end);
            if (!hasStart) absent.Add(s.StartSymbol);
            if (!hasEnd) absent.Add(s.EndSymbol);
            if (hasStart && hasEnd)
                slots.Add(new Slot(s, start, end));
        }
        missing = absent;
        return slots;
    }

    /// <summary>Reads the descriptor, or returns null when the kernel has no <c>ukl_descriptor</c> symbol.</summary>
    public SlotDescriptor? ReadDescriptor()
    {
        if (_descriptorSymbol is not { } symbol)
            return null;
        var (address, size) = symbol;
        var bytes = ReadBytes(address, SlotAbi.Offsets.Features + 8);
        if (bytes is null)
            throw new InputException(Path, $"{SlotAbi.DescriptorSymbol} at 0x{address:x} is not inside a section with file contents");
        return new SlotDescriptor(address, size,
            BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(SlotAbi.Offsets.Magic)),
            BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(SlotAbi.Offsets.AbiVersion)),
            BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(SlotAbi.Offsets.Size)),
            BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(SlotAbi.Offsets.StackSize)),
            BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(SlotAbi.Offsets.Features)));
    }

    /// <summary>Reads <paramref name="count"/> bytes at virtual address <paramref name="address"/>, or null if unmapped.</summary>
    public byte[]? ReadBytes(ulong address, int count)
    {
        foreach (var s in _elf.Sections)
        {
            if (s.FileOffsetOf(address, (ulong)count) is not { } offset)
                continue;
            return _elf.File.Span(offset, (ulong)count).ToArray();
        }
        return null;
    }

    public void Dispose() => _file.Dispose();
}
