using static UklLink.Inputs.ElfConstants;

namespace UklLink.Inputs;

/// <summary>A section of an input object, with the relocations that apply to it. Read-only for every pass.</summary>
public sealed class InputSection
{
    private readonly Func<byte[]> _readData;
    private byte[]? _data;
    internal readonly List<InputRelocation> RelocationList = new();

    internal InputSection(ObjectFile file, int index, string name, uint type, ulong flags, ulong size, ulong alignment,
        uint link, uint info, ulong entrySize, Func<byte[]> readData)
    {
        File = file;
        Index = index;
        Name = name;
        Type = type;
        Flags = flags;
        Size = size;
        Alignment = alignment;
        Link = link;
        Info = info;
        EntrySize = entrySize;
        _readData = readData;
    }

    public ObjectFile File { get; }
    public int Index { get; }
    public string Name { get; }
    public uint Type { get; }
    public ulong Flags { get; }
    public ulong Size { get; }
    public ulong Alignment { get; }
    public uint Link { get; }
    public uint Info { get; }
    public ulong EntrySize { get; }

    /// <summary>Signature of the COMDAT group this section belongs to, if any.</summary>
    public string? ComdatSignature { get; internal set; }

    public IReadOnlyList<InputRelocation> Relocations => RelocationList;

    public bool IsAlloc => (Flags & SHF_ALLOC) != 0;
    public bool IsExecutable => (Flags & SHF_EXECINSTR) != 0;
    public bool IsWritable => (Flags & SHF_WRITE) != 0;
    public bool IsTls => (Flags & SHF_TLS) != 0;
    public bool IsNoBits => Type == SHT_NOBITS;

    /// <summary>The section's bytes (empty for NOBITS), read once on first use.</summary>
    public byte[] Data => _data ??= IsNoBits ? Array.Empty<byte>() : _readData();

    /// <summary>True for a section the linker made (syscall trampolines), not read from an input file.</summary>
    public bool IsSynthetic => Index < 0;

    /// <summary>
    /// The syscall rewrite pass replaces a code section's bytes (same size) and relocations for the rest of the link;
    /// it is the only pass that changes an input section.
    /// </summary>
    internal void ReplaceContents(byte[] data, IEnumerable<InputRelocation> relocations)
    {
        if ((ulong)data.Length != Size)
            throw new ArgumentException($"rewritten {Name} has {data.Length} bytes, not {Size}");
        _data = data;
        RelocationList.Clear();
        RelocationList.AddRange(relocations);
    }

    /// <summary>A section made by the linker (index -1) with the given bytes; relocations are added by the maker.</summary>
    internal static InputSection Synthetic(ObjectFile file, string name, ulong flags, ulong alignment, byte[] data) =>
        new(file, -1, name, ElfConstants.SHT_PROGBITS, flags, (ulong)data.Length, alignment, 0, 0, 0, () => data);

    internal void AddRelocation(InputRelocation relocation) => RelocationList.Add(relocation);

    public override string ToString() => $"{File.DisplayName}:({Name})";
}
