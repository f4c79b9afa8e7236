using System.Buffers.Binary;
using UklLink.Inputs;
using static UklLink.Inputs.ElfConstants;

namespace UklLink.Kernel;

/// <summary>
/// A kernel image (vmlinux, ET_EXEC): its symbols, its sections and, when it was built with CONFIG_UNIKERNEL_LINUX,
/// its slots and descriptor. ukl-link reads the section headers and the symbol table itself (after the bounds-checked
/// header pass): a vmlinux has tens of thousands of symbols, and decoding them straight from the table's bytes is an
/// order of magnitude faster than building an object model. Section bytes are read on demand, never copied wholesale.
/// </summary>
public sealed class KernelImage : IDisposable
{
    private readonly Stream _stream;
    private List<SectionHeader> _sections = new();
    private readonly Dictionary<string, KernelSymbol> _globals = new(StringComparer.Ordinal);
    private readonly Dictionary<string, ulong> _allByName = new(StringComparer.Ordinal);
    private (ulong Value, ulong Size)? _descriptorSymbol;

    private KernelImage(string path, Stream stream)
    {
        Path = path;
        _stream = stream;
    }

    public string Path { get; }

    /// <summary>The ELF header as checked on load.</summary>
    public ElfHeader Header { get; private set; } = null!;

    /// <summary>The section header table, as read (the writer works on copies).</summary>
    public IReadOnlyList<SectionHeader> SectionHeaders => _sections;

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
        var stream = InputFiles.OpenRead(path);
        try
        {
            var head = new byte[4];
            int n = stream.ReadAtLeast(head, 4, throwOnEndOfStream: false);
            if (!ElfHeader.HasElfMagic(head.AsSpan(0, n)))
                throw new InputException(path, $"not a kernel image (not an ELF file; {KernelFix})");
            var header = ElfHeader.Read(stream, path);
            if (!header.Is64LittleEndian || header.Machine != ElfHeader.MachineX86_64 || header.Type != ElfHeader.TypeExecutable)
                throw new InputException(path, $"not an x86-64 vmlinux: {header.ClassName} {header.DataName} {header.MachineName} {header.TypeName} ({KernelFix})");
            var image = new KernelImage(path, stream);
            image.ReadSections(header);
            return image;
        }
        catch
        {
            stream.Dispose();
            throw;
        }
    }

    private void ReadSections(ElfHeader header)
    {
        var table = new byte[header.SectionCount * SectionHeader.Size64];
        _stream.Position = (long)header.SectionHeaderOffset;
        _stream.ReadExactly(table);
        _sections = SectionHeader.ReadTable(table, (int)header.SectionCount);
        Header = header;
        int symtab = _sections.FindIndex(s => s.Type == SHT_SYMTAB);
        if (symtab < 0)
            return;
        // The header pass checked that the table and its string table lie inside the file and end in NUL.
        var symbols = ReadSection(_sections[symtab]);
        var strings = ReadSection(_sections[(int)_sections[symtab].Link]);
        for (int at = 24; at + 24 <= symbols.Length; at += 24)
        {
            var e = symbols.AsSpan(at, 24);
            uint nameOffset = BinaryPrimitives.ReadUInt32LittleEndian(e);
            ushort shndx = BinaryPrimitives.ReadUInt16LittleEndian(e[6..]);
            if (nameOffset == 0 || nameOffset >= strings.Length || shndx == SHN_UNDEF)
                continue;
            bool defined = shndx == SHN_ABS || shndx < _sections.Count;
            if (!defined)
                continue;
            int end = Array.IndexOf(strings, (byte)0, (int)nameOffset);
            string name = System.Text.Encoding.UTF8.GetString(strings, (int)nameOffset, end - (int)nameOffset);
            ulong value = BinaryPrimitives.ReadUInt64LittleEndian(e[8..]);
            ulong size = BinaryPrimitives.ReadUInt64LittleEndian(e[16..]);
            byte bind = (byte)(e[4] >> 4), type = (byte)(e[4] & 0xf);
            _allByName.TryAdd(name, value);
            if (name == SlotAbi.DescriptorSymbol && shndx != SHN_ABS)
                _descriptorSymbol ??= (value, size);
            if (bind is STB_GLOBAL or STB_WEAK or STB_GNU_UNIQUE)
                _globals.TryAdd(name, new KernelSymbol(name, value, size, type, bind));
        }
    }

    private byte[] ReadSection(SectionHeader section)
    {
        var bytes = new byte[section.Size];
        _stream.Position = (long)section.Offset;
        _stream.ReadExactly(bytes);
        return bytes;
    }

    /// <summary>Any defined symbol (local ones included: slot bounds may be local in some builds).</summary>
    public bool TryGetSymbolValue(string name, out ulong value) => _allByName.TryGetValue(name, out value);

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
        foreach (var s in _sections)
        {
            if (s.FileOffsetOf(address, (ulong)count) is not { } offset)
                continue;
            var buffer = new byte[count];
            _stream.Position = (long)offset;
            _stream.ReadExactly(buffer);
            return buffer;
        }
        return null;
    }

    public void Dispose() => _stream.Dispose();
}
