using System.Buffers.Binary;
using System.Text;
using static UklLink.Inputs.ElfConstants;

namespace UklLink.Inputs;

/// <summary>
/// The one ELF reader every other reader builds on (objects, archive members, the kernel image, the boot loader's view
/// of a vmlinux): the checked header (<see cref="ElfHeader.Read(FileRegion, string)"/>), the section header table and
/// the program header table, decoded from a mapped file. Section bytes are spans over the mapping, never copies.
/// </summary>
public sealed class ElfImage
{
    private ElfImage(FileRegion file, string name, ElfHeader header, List<SectionHeader> sections)
    {
        File = file;
        Name = name;
        Header = header;
        Sections = sections;
    }

    public FileRegion File { get; }

    /// <summary>The file as messages name it (<c>lib.a(member.o)</c> for an archive member).</summary>
    public string Name { get; }

    public ElfHeader Header { get; }

    /// <summary>The section header table by index (empty for a file that is not ELF64 little-endian).</summary>
    public List<SectionHeader> Sections { get; }

    /// <summary>
    /// Reads a kernel image (vmlinux): ELF magic, then ELF64 little-endian x86-64 ET_EXEC, else one
    /// <see cref="InputException"/> naming the file and what it is, with <paramref name="fix"/> (where to find the right
    /// file) when given. The one check both the linker's kernel reader and the boot image's loader view make.
    /// </summary>
    public static ElfImage ReadVmlinux(FileRegion file, string name, string? fix = null)
    {
        if (!ElfHeader.HasElfMagic(file.Head(4)))
            throw new InputException(name, $"not a kernel image (not an ELF file{(fix is null ? "" : $"; {fix}")})");
        var elf = Read(file, name);
        var header = elf.Header;
        if (!header.Is64LittleEndian || header.Machine != ElfHeader.MachineX86_64 || header.Type != ElfHeader.TypeExecutable)
            throw new InputException(name, $"not an x86-64 vmlinux (need ELF64 little-endian x86-64 ET_EXEC): {header.ClassName} {header.DataName} " +
                $"{header.MachineName} {header.TypeName}{(fix is null ? "" : $" ({fix})")}");
        return elf;
    }

    /// <summary>Checks the header and tables and decodes the section headers; throws <see cref="InputException"/>.</summary>
    public static ElfImage Read(FileRegion file, string name)
    {
        var header = ElfHeader.Read(file, name);
        var sections = header.Is64LittleEndian && header.SectionHeaderOffset != 0
            ? SectionHeader.ReadTable(file.Span(header.SectionHeaderOffset, (ulong)header.SectionCount * SectionHeader.Size64), (int)header.SectionCount)
            : new List<SectionHeader>();
        return new ElfImage(file, name, header, sections);
    }

    /// <summary>The section's bytes in the file (empty for NOBITS); the header pass checked they lie inside it.</summary>
    public ReadOnlySpan<byte> Bytes(SectionHeader section) =>
        section.HasFileBytes ? File.Span(section.Offset, section.Size) : ReadOnlySpan<byte>.Empty;

    /// <summary>The section's name from the section name table ("" without one).</summary>
    public string SectionName(SectionHeader section)
    {
        uint names = Header.SectionNameTableIndex;
        return names == 0 || names >= Sections.Count ? "" : CString(Bytes(Sections[(int)names]), section.Name);
    }

    /// <summary>The raw program header table (56-byte entries; checked to lie inside the file).</summary>
    public ReadOnlySpan<byte> ProgramHeaderTable =>
        Header.ProgramHeaderCount == 0 ? ReadOnlySpan<byte>.Empty : File.Span(Header.ProgramHeaderOffset, (ulong)Header.ProgramHeaderCount * 56);

    public int FindSection(uint type) => Sections.FindIndex(s => s.Type == type);

    /// <summary>The NUL-terminated string at <paramref name="offset"/> of a string table (checked to end in NUL).</summary>
    public static string CString(ReadOnlySpan<byte> table, uint offset)
    {
        if (offset >= (uint)table.Length)
            return "";
        var rest = table[(int)offset..];
        int end = rest.IndexOf((byte)0);
        return Encoding.UTF8.GetString(end < 0 ? rest : rest[..end]);
    }

    /// <summary>The bytes of the NUL-terminated string at <paramref name="offset"/>, without the NUL.</summary>
    public static ReadOnlySpan<byte> CStringBytes(ReadOnlySpan<byte> table, uint offset)
    {
        if (offset >= (uint)table.Length)
            return ReadOnlySpan<byte>.Empty;
        var rest = table[(int)offset..];
        int end = rest.IndexOf((byte)0);
        return end < 0 ? rest : rest[..end];
    }

    /// <summary>One Elf64_Sym, decoded in place.</summary>
    public readonly ref struct Symbol(ReadOnlySpan<byte> entry)
    {
        private readonly ReadOnlySpan<byte> _e = entry;
        public uint NameOffset => BinaryPrimitives.ReadUInt32LittleEndian(_e);
        public byte Bind => (byte)(_e[4] >> 4);
        public byte Type => (byte)(_e[4] & 0xf);
        public byte Visibility => (byte)(_e[5] & 3);
        public ushort SectionIndex => BinaryPrimitives.ReadUInt16LittleEndian(_e[6..]);
        public ulong Value => BinaryPrimitives.ReadUInt64LittleEndian(_e[8..]);
        public ulong Size => BinaryPrimitives.ReadUInt64LittleEndian(_e[16..]);
        public bool IsDefined => SectionIndex != SHN_UNDEF;
    }

    public const int SymbolSize = 24;
}
