using static UklLink.Inputs.ElfConstants;

namespace UklLink.Inputs;

/// <summary>A section of an input object, with the relocations that apply to it. Read-only for every pass.</summary>
public sealed class InputSection
{
    private readonly FileRegion _file;
    private readonly ulong _offset;
    private byte[]? _data;
    internal readonly List<InputRelocation> RelocationList = new();

    /// <summary>A section read from an object: its bytes are <paramref name="size"/> bytes at <paramref name="offset"/> of <paramref name="file"/>.</summary>
    internal InputSection(ObjectFile file, int index, string name, uint type, ulong flags, ulong size, ulong alignment,
        uint link, uint info, ulong entrySize, FileRegion region, ulong offset)
        : this(file, index, name, type, flags, size, alignment, link, info, entrySize)
    {
        _file = region;
        _offset = offset;
    }

    private InputSection(ObjectFile file, int index, string name, uint type, ulong flags, ulong size, ulong alignment,
        uint link, uint info, ulong entrySize)
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

    /// <summary>
    /// The section's bytes (empty for NOBITS) without a copy: a span over the mapped input (a linker-made section's
    /// own array). Valid while the <see cref="InputSet"/> is open.
    /// </summary>
    public ReadOnlySpan<byte> Content =>
        _data is { } data ? data : IsNoBits || Size == 0 || _file.File is null ? ReadOnlySpan<byte>.Empty : _file.Span(_offset, Size);

    /// <summary>
    /// The section's bytes as an array (empty for NOBITS), copied from the mapping once on first use. Passes that only
    /// read should prefer <see cref="Content"/>, which copies nothing.
    /// </summary>
    public byte[] Data
    {
        get
        {
            if (_data is { } data)
                return data;
            var copy = IsNoBits ? Array.Empty<byte>() : Content.ToArray();
            return Interlocked.CompareExchange(ref _data, copy, null) ?? copy;
        }
    }

    /// <summary>True for a section the linker made (syscall trampolines), not read from an input file.</summary>
    public bool IsSynthetic => Index < 0;

    /// <summary>
    /// A section the linker made (index -1: the syscall trampolines) with the given bytes and the relocations
    /// <paramref name="relocations"/> makes for it (they name the new section as their owner); complete once returned.
    /// </summary>
    internal static InputSection Synthetic(ObjectFile file, string name, ulong flags, ulong alignment, byte[] data,
        Func<InputSection, IEnumerable<InputRelocation>> relocations)
    {
        var section = new InputSection(file, -1, name, ElfConstants.SHT_PROGBITS, flags, (ulong)data.Length, alignment, 0, 0, 0) { _data = data };
        section.RelocationList.AddRange(relocations(section));
        return section;
    }

    public override string ToString() => $"{File.DisplayName}:({Name})";
}
