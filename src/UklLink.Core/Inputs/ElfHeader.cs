using System.Buffers.Binary;

namespace UklLink.Inputs;

/// <summary>
/// The ELF identification and header fields, read and bounds-checked before any reader decodes the file's tables in
/// place, so corrupt input fails here with one clear message instead of deep inside a pass.
/// </summary>
public sealed record ElfHeader(byte Class, byte Data, ushort Type, ushort Machine, ulong Entry, ulong ProgramHeaderOffset,
    ulong SectionHeaderOffset, ushort ProgramHeaderCount, uint SectionCount, uint SectionNameTableIndex)
{
    public const byte Class64 = 2;
    public const byte DataLittleEndian = 1;
    public const ushort TypeRelocatable = 1;
    public const ushort TypeExecutable = 2;
    public const ushort TypeShared = 3;
    public const ushort MachineX86_64 = 62;

    public bool Is64LittleEndian => Class == Class64 && Data == DataLittleEndian;

    public static bool HasElfMagic(ReadOnlySpan<byte> head) =>
        head.Length >= 4 && head[0] == 0x7f && head[1] == (byte)'E' && head[2] == (byte)'L' && head[3] == (byte)'F';

    public string ClassName => Class switch { 1 => "ELF32", 2 => "ELF64", _ => $"ELF class {Class}" };
    public string DataName => Data switch { 1 => "little-endian", 2 => "big-endian", _ => $"data encoding {Data}" };

    public string TypeName => Type switch
    {
        0 => "ET_NONE",
        TypeRelocatable => "ET_REL (relocatable object)",
        TypeExecutable => "ET_EXEC (executable)",
        TypeShared => "ET_DYN (shared object or PIE)",
        4 => "ET_CORE (core dump)",
        _ => $"ELF type 0x{Type:x}",
    };

    public string MachineName => Machine switch
    {
        MachineX86_64 => "x86-64",
        3 => "i386",
        40 => "ARM",
        183 => "AArch64",
        243 => "RISC-V",
        8 => "MIPS",
        20 => "PowerPC",
        21 => "PowerPC64",
        22 => "s390",
        _ => $"machine {Machine}",
    };

    /// <summary>
    /// Reads and checks the header and the section and program header tables of a 64-bit little-endian file.
    /// For other classes or encodings only the identification is read (the caller reports the mismatch).
    /// Throws <see cref="InputException"/> for anything truncated or inconsistent.
    /// </summary>
    public static ElfHeader Read(Stream stream, string name)
    {
        using var file = MappedFile.Of(stream, name);
        return Read(file.All, name);
    }

    /// <summary>
    /// The same checks on a mapped file or archive member: afterwards every section with file bytes, the section
    /// header table and the program header table lie inside <paramref name="file"/>, every string table ends in NUL,
    /// and symbol and relocation tables have whole entries and link to tables of the right kind, so readers can
    /// decode them in place without further range checks.
    /// </summary>
    public static ElfHeader Read(FileRegion file, string name)
    {
        ulong length = file.Length;
        var h = file.Head(64);
        int got = h.Length;
        if (got < 16 || !HasElfMagic(h))
            throw new InputException(name, got < 4 ? "file is too short to be an ELF object" : "not an ELF object (bad magic)");
        byte cls = h[4], data = h[5];
        if (h[6] != 1)
            throw new InputException(name, $"unsupported ELF version {h[6]}");
        if (cls != Class64 || data != DataLittleEndian)
        {
            ushort typeAny = got >= 18 ? (data == 2 ? BinaryPrimitives.ReadUInt16BigEndian(h[16..]) : BinaryPrimitives.ReadUInt16LittleEndian(h[16..])) : (ushort)0;
            ushort machAny = got >= 20 ? (data == 2 ? BinaryPrimitives.ReadUInt16BigEndian(h[18..]) : BinaryPrimitives.ReadUInt16LittleEndian(h[18..])) : (ushort)0;
            if (cls is not (1 or 2) || data is not (1 or 2))
                throw new InputException(name, $"corrupt ELF identification (class {cls}, data encoding {data})");
            return new ElfHeader(cls, data, typeAny, machAny, 0, 0, 0, 0, 0, 0);
        }
        if (got < 64)
            throw new InputException(name, $"truncated ELF header ({got} of 64 bytes)");

        ushort type = U16(h, 16), machine = U16(h, 18);
        uint version = U32(h, 20);
        if (version != 1)
            throw new InputException(name, $"corrupt ELF header (e_version {version}, expected 1)");
        ulong entry = U64(h, 24), phoff = U64(h, 32), shoff = U64(h, 40);
        ushort ehsize = U16(h, 52), phentsize = U16(h, 54), phnum = U16(h, 56), shentsize = U16(h, 58);
        uint shnum = U16(h, 60), shstrndx = U16(h, 62);
        if (ehsize < 64)
            throw new InputException(name, $"corrupt ELF header (e_ehsize {ehsize})");

        if (phnum > 0)
        {
            if (phentsize != 56)
                throw new InputException(name, $"corrupt ELF header (e_phentsize {phentsize}, expected 56)");
            CheckRange(name, "program header table", phoff, (ulong)phnum * 56, length);
        }

        if (shoff != 0)
        {
            if (shentsize != 64)
                throw new InputException(name, $"corrupt ELF header (e_shentsize {shentsize}, expected 64)");
            CheckRange(name, "section header table", shoff, 64, length);
            var sh0 = file.Span(shoff, 64);
            if (shnum == 0) // extended numbering: the count lives in section 0's sh_size
            {
                ulong big = U64(sh0, 32);
                if (big > uint.MaxValue)
                    throw new InputException(name, $"absurd section count {big}");
                shnum = (uint)big;
            }
            if (shstrndx == 0xffff)
                shstrndx = U32(sh0, 40);
            CheckRange(name, "section header table", shoff, (ulong)shnum * 64, length);
            if ((ulong)shnum * 64 > int.MaxValue)
                throw new InputException(name, $"absurd section count {shnum}");
            if (shstrndx != 0 && shstrndx >= shnum)
                throw new InputException(name, $"corrupt ELF header (section name table index {shstrndx} but only {shnum} sections)");
            CheckSections(file, name, shoff, shnum, shstrndx);
        }
        else if (shnum != 0)
        {
            throw new InputException(name, $"corrupt ELF header ({shnum} sections but no section header table)");
        }

        return new ElfHeader(cls, data, type, machine, entry, phoff, shoff, phnum, shnum, shstrndx);
    }

    private static void CheckSections(FileRegion file, string name, ulong shoff, uint shnum, uint shstrndx)
    {
        ulong length = file.Length;
        var table = file.Span(shoff, (ulong)shnum * 64);
        const uint SHT_STRTAB = 3;
        ulong namesSize = 0;
        if (shstrndx != 0)
        {
            var names = table.Slice((int)(shstrndx * 64), 64);
            if (U32(names, 4) != SHT_STRTAB)
                throw new InputException(name, $"corrupt ELF header (section name table index {shstrndx} is not a string table)");
            namesSize = U64(names, 32);
        }
        for (uint i = 1; i < shnum; i++)
        {
            var s = table.Slice((int)(i * 64), 64);
            uint type = U32(s, 4);
            ulong offset = U64(s, 24), size = U64(s, 32);
            uint link = U32(s, 40), info = U32(s, 44);
            ulong entsize = U64(s, 56);
            const uint SHT_NOTE = 7, SHT_NOBITS = 8, SHT_SYMTAB = 2, SHT_RELA = 4, SHT_REL = 9, SHT_DYNSYM = 11, SHT_GROUP = 17, SHT_SYMTAB_SHNDX = 18;
            if (type != SHT_NOBITS && size > 0)
                CheckRange(name, $"section {i}", offset, size, length);
            uint nameOffset = U32(s, 0);
            if (shstrndx != 0 && nameOffset >= namesSize)
                throw new InputException(name, $"corrupt section {i} (name offset 0x{nameOffset:x} is outside the section name table)");
            if (type == SHT_STRTAB && size > 0)
            {
                // Every string must end inside its table: a table whose last byte is not NUL lets a name run off it.
                if (file.Span(offset + size - 1, 1)[0] != 0)
                    throw new InputException(name, $"corrupt string table in section {i} (not NUL-terminated)");
            }
            switch (type)
            {
                case SHT_SYMTAB or SHT_DYNSYM:
                    if (entsize != 24 || size % 24 != 0)
                        throw new InputException(name, $"corrupt symbol table in section {i} (entry size {entsize}, size {size})");
                    if (link == 0 || link >= shnum || U32(table.Slice((int)(link * 64), 64), 4) != SHT_STRTAB)
                        throw new InputException(name, $"corrupt symbol table in section {i} (its string table, section {link}, is not a string table)");
                    if (size > int.MaxValue)
                        throw new InputException(name, $"corrupt symbol table in section {i} (absurd size {size})");
                    break;
                case SHT_NOTE when size > 0:
                    CheckNotes(file, name, i, offset, size);
                    break;
                case SHT_RELA or SHT_REL:
                    ulong want = type == SHT_RELA ? 24u : 16u;
                    if (entsize != want || size % want != 0)
                        throw new InputException(name, $"corrupt relocation table in section {i} (entry size {entsize}, size {size})");
                    if (link >= shnum || info >= shnum)
                        throw new InputException(name, $"corrupt relocation table in section {i} (links to section {link}/{info} of {shnum})");
                    if (size > int.MaxValue)
                        throw new InputException(name, $"corrupt relocation table in section {i} (absurd size {size})");
                    break;
                case SHT_GROUP or SHT_SYMTAB_SHNDX:
                    if (link >= shnum)
                        throw new InputException(name, $"corrupt section {i} (links to section {link} of {shnum})");
                    break;
            }
        }
    }

    /// <summary>Every note's name and descriptor must lie inside its section (a parser would otherwise trust namesz/descsz).</summary>
    private static void CheckNotes(FileRegion file, string name, uint index, ulong offset, ulong size)
    {
        if (size > 1 << 20)
            return; // far larger than any object's notes; the parser reads what the section holds
        var notes = file.Span(offset, size);
        ulong at = 0;
        while (at + 12 <= size)
        {
            ulong namesz = U32(notes[(int)at..], 0), descsz = U32(notes[(int)at..], 4);
            ulong next = at + 12 + ((namesz + 3) & ~3UL) + ((descsz + 3) & ~3UL);
            if (next > size)
                throw new InputException(name, $"corrupt note in section {index} (a name of {namesz} and a descriptor of {descsz} bytes do not fit)");
            at = next;
        }
    }

    private static void CheckRange(string name, string what, ulong offset, ulong size, ulong length)
    {
        if (offset > length || size > length - offset)
            throw new InputException(name, $"truncated or corrupt: {what} at offset 0x{offset:x} size 0x{size:x} extends past the end of the file (0x{length:x} bytes)");
    }

    private static ushort U16(ReadOnlySpan<byte> b, int o) => BinaryPrimitives.ReadUInt16LittleEndian(b[o..]);
    private static uint U32(ReadOnlySpan<byte> b, int o) => BinaryPrimitives.ReadUInt32LittleEndian(b[o..]);
    private static ulong U64(ReadOnlySpan<byte> b, int o) => BinaryPrimitives.ReadUInt64LittleEndian(b[o..]);
}
