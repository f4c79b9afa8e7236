using System.Buffers.Binary;
using LibObjectFile.Elf;
using UklLink.Inputs;
using static UklLink.Inputs.ElfConstants;

namespace UklLink.Kernel;

/// <summary>
/// A kernel image (vmlinux, ET_EXEC) read through stream views: its global symbols, its sections and, when it was
/// built with CONFIG_UNIKERNEL_LINUX, its slots and descriptor. Section bytes are never copied wholesale.
/// </summary>
public sealed class KernelImage : IDisposable
{
    private readonly Stream _stream;
    private readonly ElfFile _elf;
    private readonly Dictionary<string, KernelSymbol> _globals = new(StringComparer.Ordinal);
    private readonly Dictionary<string, ulong> _allByName = new(StringComparer.Ordinal);
    private (ulong Value, ulong Size)? _descriptorSymbol;

    private KernelImage(string path, Stream stream, ElfFile elf)
    {
        Path = path;
        _stream = stream;
        _elf = elf;
    }

    public string Path { get; }

    /// <summary>Address of <c>ukl_descriptor</c>, or null when the kernel has none.</summary>
    public ulong? DescriptorAddress => _descriptorSymbol?.Value;

    /// <summary>Defined global and weak symbols, by name.</summary>
    public IReadOnlyDictionary<string, KernelSymbol> GlobalSymbols => _globals;

    public static KernelImage Load(string path)
    {
        var stream = InputFiles.OpenRead(path);
        try
        {
            var head = new byte[4];
            int n = stream.ReadAtLeast(head, 4, throwOnEndOfStream: false);
            if (!ElfHeader.HasElfMagic(head.AsSpan(0, n)))
                throw new InputException(path, "not a kernel image (not an ELF file)");
            var header = ElfHeader.Read(stream, path);
            if (!header.Is64LittleEndian || header.Machine != ElfHeader.MachineX86_64 || header.Type != ElfHeader.TypeExecutable)
                throw new InputException(path, $"not an x86-64 vmlinux: {header.ClassName} {header.DataName} {header.MachineName} {header.TypeName}");
            var elf = ElfReading.Read(stream, path);
            var image = new KernelImage(path, stream, elf);
            image.ReadSymbols();
            return image;
        }
        catch
        {
            stream.Dispose();
            throw;
        }
    }

    private void ReadSymbols()
    {
        foreach (var st in _elf.Sections.OfType<ElfSymbolTable>())
        {
            if (st.Type != ElfSectionType.SymbolTable)
                continue;
            foreach (var e in st.Entries)
            {
                string name = e.Name.Value ?? "";
                if (name.Length == 0)
                    continue;
                bool defined = e.SectionLink.Section is not null || e.SectionLink.SpecialIndex == SHN_ABS;
                if (!defined)
                    continue;
                _allByName.TryAdd(name, e.Value);
                if (name == SlotAbi.DescriptorSymbol && e.SectionLink.Section is not null)
                    _descriptorSymbol ??= (e.Value, e.Size);
                byte bind = (byte)e.Bind;
                if (bind is STB_GLOBAL or STB_WEAK or STB_GNU_UNIQUE)
                    _globals.TryAdd(name, new KernelSymbol(name, e.Value, e.Size, (byte)e.Type, bind));
            }
        }
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
        var bytes = ReadBytes(address, 0x98);
        if (bytes is null)
            throw new InputException(Path, $"{SlotAbi.DescriptorSymbol} at 0x{address:x} is not inside a section with file contents");
        return new SlotDescriptor(address, size,
            BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(SlotAbi.Offsets.Magic)),
            BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(SlotAbi.Offsets.AbiVersion)),
            BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(SlotAbi.Offsets.Size)),
            BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(SlotAbi.Offsets.StackSize)));
    }

    /// <summary>Reads <paramref name="count"/> bytes at virtual address <paramref name="address"/>, or null if unmapped.</summary>
    public byte[]? ReadBytes(ulong address, int count)
    {
        foreach (var s in _elf.Sections)
        {
            if (s is not ElfStreamSection ss || ((ulong)s.Flags & SHF_ALLOC) == 0)
                continue;
            // Overflow-safe containment test: an address near the top of the address space must not wrap around.
            if (address < s.VirtualAddress || address - s.VirtualAddress > s.Size || (ulong)count > s.Size - (address - s.VirtualAddress))
                continue;
            var buffer = new byte[count];
            ss.Stream.Position = (long)(address - s.VirtualAddress);
            ss.Stream.ReadExactly(buffer);
            return buffer;
        }
        return null;
    }

    public void Dispose() => _stream.Dispose();
}
