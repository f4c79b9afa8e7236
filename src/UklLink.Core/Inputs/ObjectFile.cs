using System.Buffers.Binary;
using UklLink.X86_64;
using static UklLink.Inputs.ElfConstants;

namespace UklLink.Inputs;

/// <summary>
/// An x86-64 ELF relocatable object (a file on disk or an archive member), decoded in place from its mapped bytes:
/// section headers, symbols, relocations and COMDAT groups are read straight from the tables; section contents stay
/// in the mapping until a pass asks for them.
/// </summary>
public sealed class ObjectFile
{
    private readonly List<InputSection?> _sections = new();
    private readonly List<InputSymbol> _symbols = new();

    private ObjectFile(string path, string? member, ElfHeader header)
    {
        Path = path;
        Member = member;
        Header = header;
    }

    /// <summary>The file on disk (for an archive member: the archive).</summary>
    public string Path { get; }

    /// <summary>The archive member name, or null for a plain object.</summary>
    public string? Member { get; }

    public ElfHeader Header { get; }

    /// <summary><c>lib.a(member.o)</c> or <c>file.o</c>, as linkers print it.</summary>
    public string DisplayName => Member is null ? Path : $"{Path}({Member})";

    /// <summary>Sections by section-header index; null where ukl-link has no use for the entry (index 0).</summary>
    public IReadOnlyList<InputSection?> Sections => _sections;

    /// <summary>Symbols by symbol-table index (index 0 is the null symbol).</summary>
    public IReadOnlyList<InputSymbol> Symbols => _symbols;

    public IEnumerable<InputSection> AllSections => _sections.OfType<InputSection>();

    public InputSection? FindSection(string name) => AllSections.FirstOrDefault(s => s.Name == name);

    /// <summary>
    /// Decodes a relocatable object whose header <see cref="ElfImage.Read"/> has checked (a 64-bit little-endian
    /// x86-64 ET_REL). The mapping must stay open for the object's lifetime.
    /// </summary>
    public static ObjectFile Load(ElfImage elf, string path, string? member)
    {
        var obj = new ObjectFile(path, member, elf.Header);
        obj.Build(elf);
        return obj;
    }

    private void Build(ElfImage elf)
    {
        string name = elf.Name;
        var headers = elf.Sections;
        int count = headers.Count;
        _sections.Add(null);
        int symtabIndex = -1, shndxIndex = -1;
        for (int i = 1; i < count; i++)
        {
            var h = headers[i];
            if (h.Type == SHT_SYMTAB)
            {
                if (symtabIndex >= 0)
                    throw new InputException(name, "more than one symbol table");
                symtabIndex = i;
            }
            else if (h.Type == SHT_SYMTAB_SHNDX)
            {
                shndxIndex = i;
            }
            string sectionName = elf.SectionName(h);
            if (h.AddrAlign > 1 && (h.AddrAlign & (h.AddrAlign - 1)) != 0)
                throw new InputException(name, $"section '{sectionName}' has alignment {h.AddrAlign}, which is not a power of two");
            _sections.Add(new InputSection(this, i, sectionName, h.Type, h.Flags, h.Size, h.AddrAlign, h.Link, h.Info, h.EntSize,
                elf.File, h.HasFileBytes ? h.Offset : 0));
        }

        if (symtabIndex >= 0)
            ReadSymbols(elf, headers[symtabIndex], shndxIndex >= 0 && headers[shndxIndex].Link == symtabIndex ? headers[shndxIndex] : null);

        for (int i = 1; i < count; i++)
        {
            var h = headers[i];
            if (h.Type is SHT_RELA or SHT_REL)
                ReadRelocations(elf, h, symtabIndex);
            else if (h.Type == SHT_GROUP)
                ReadGroup(_sections[i]!, name);
        }
    }

    private void ReadSymbols(ElfImage elf, SectionHeader symtab, SectionHeader? extendedIndices)
    {
        string name = elf.Name;
        var table = elf.Bytes(symtab);
        // The header pass checked that the link is a NUL-terminated string table.
        var strings = elf.Bytes(elf.Sections[(int)symtab.Link]);
        var xindex = extendedIndices is null ? ReadOnlySpan<byte>.Empty : elf.Bytes(extendedIndices);
        int n = table.Length / ElfImage.SymbolSize;
        _symbols.Capacity = n;
        for (int i = 0; i < n; i++)
        {
            var e = new ElfImage.Symbol(table.Slice(i * ElfImage.SymbolSize, ElfImage.SymbolSize));
            uint nameOffset = e.NameOffset;
            if (nameOffset != 0 && nameOffset >= (uint)strings.Length)
                throw new InputException(name, $"symbol {i} has name offset 0x{nameOffset:x}, outside its string table (0x{strings.Length:x} bytes)");
            uint shndx = e.SectionIndex;
            if (shndx == SHN_XINDEX)
            {
                if ((i + 1) * 4 > xindex.Length)
                    throw new InputException(name, $"symbol {i} has an extended section index but the object has no SHT_SYMTAB_SHNDX entry for it");
                shndx = BinaryPrimitives.ReadUInt32LittleEndian(xindex[(i * 4)..]);
            }
            string symbolName = nameOffset == 0 ? "" : ElfImage.CString(strings, nameOffset);
            InputSection? section = null;
            if (shndx is not (SHN_UNDEF or SHN_ABS or SHN_COMMON) && (shndx < 0xff00 || e.SectionIndex == SHN_XINDEX))
            {
                section = shndx < (uint)_sections.Count ? _sections[(int)shndx] : null;
                if (section is null)
                    throw new InputException(name, $"symbol {i} '{symbolName}' refers to section {shndx}, which does not exist");
            }
            _symbols.Add(new InputSymbol(this, i, symbolName, e.Bind, e.Type, e.Visibility, shndx, section, e.Value, e.Size));
        }
    }

    private void ReadRelocations(ElfImage elf, SectionHeader rt, int symtabIndex)
    {
        string name = elf.Name;
        string tableName = elf.SectionName(rt);
        bool rela = rt.Type == SHT_RELA;
        int entrySize = rela ? 24 : 16;
        var entries = elf.Bytes(rt);
        int n = entries.Length / entrySize;
        var target = rt.Info < (uint)_sections.Count ? _sections[(int)rt.Info] : null;
        if (target is null)
        {
            if (n == 0)
                return;
            throw new InputException(name, $"relocation section '{tableName}' does not name the section it patches");
        }
        if (symtabIndex < 0 || rt.Link != (uint)symtabIndex)
            throw new InputException(name, $"relocation section '{tableName}' does not use the object's symbol table");

        var list = target.RelocationList;
        list.Capacity = list.Count + n;
        int symbolCount = _symbols.Count;
        for (int i = 0; i < n; i++)
        {
            var r = entries.Slice(i * entrySize, entrySize);
            ulong offset = BinaryPrimitives.ReadUInt64LittleEndian(r);
            ulong info = BinaryPrimitives.ReadUInt64LittleEndian(r[8..]);
            uint symbol = (uint)(info >> 32), type = (uint)info;
            // REL entries keep their addend in the patched bytes; x86-64 objects use RELA, so REL addends read as 0.
            long addend = rela ? BinaryPrimitives.ReadInt64LittleEndian(r[16..]) : 0;
            if (symbol >= (uint)symbolCount)
                throw new InputException(name, $"relocation at {target.Name}+0x{offset:x} refers to symbol {symbol}, but the symbol table has {symbolCount}");
            var kind = RelocationTypes.Get(type);
            if (!target.IsNoBits && (offset > target.Size || (ulong)kind.FieldSize > target.Size - offset))
                throw new InputException(name, $"relocation {kind.Name} at {target.Name}+0x{offset:x} lies outside the section (size 0x{target.Size:x})");
            list.Add(new InputRelocation(target, offset, type, _symbols[(int)symbol], addend));
        }
    }

    /// <summary>SHT_GROUP: a flag word then section indices; the signature is the name of symbol sh_info.</summary>
    private void ReadGroup(InputSection group, string name)
    {
        var data = group.Content;
        if (data.Length < 4 || data.Length % 4 != 0)
            throw new InputException(name, $"corrupt section group '{group.Name}'");
        uint flags = BinaryPrimitives.ReadUInt32LittleEndian(data);
        if ((flags & GRP_COMDAT) == 0)
            return;
        string signature = group.Info < (uint)_symbols.Count ? _symbols[(int)group.Info].Name : "";
        for (int i = 4; i < data.Length; i += 4)
        {
            uint member = BinaryPrimitives.ReadUInt32LittleEndian(data[i..]);
            if (member == 0 || member >= (uint)_sections.Count || _sections[(int)member] is not { } s)
                throw new InputException(name, $"section group '{group.Name}' lists section {member}, which does not exist");
            s.ComdatSignature = signature;
        }
    }
}
