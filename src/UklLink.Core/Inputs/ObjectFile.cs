using LibObjectFile.Elf;
using UklLink.X86_64;
using static UklLink.Inputs.ElfConstants;

namespace UklLink.Inputs;

/// <summary>
/// An x86-64 ELF relocatable object (a file on disk or an archive member), read through LibObjectFile with stream
/// views: section bytes are read from the underlying stream only when a pass asks for them.
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
    /// Reads a relocatable object from <paramref name="stream"/> (kept open by the caller for the object's lifetime).
    /// The caller has checked with <see cref="ElfHeader.Read"/> that this is a 64-bit little-endian x86-64 ET_REL.
    /// </summary>
    public static ObjectFile Load(Stream stream, ElfHeader header, string path, string? member)
    {
        string name = member is null ? path : $"{path}({member})";
        var elf = ElfReading.Read(stream, name);
        var obj = new ObjectFile(path, member, header);
        obj.Build(elf, name, stream);
        return obj;
    }

    private void Build(ElfFile elf, string name, Stream file)
    {
        int count = elf.Sections.Count;
        for (int i = 0; i < count; i++)
            _sections.Add(null);

        ElfSymbolTable? symtab = null;
        foreach (var s in elf.Sections)
        {
            int index = (int)s.SectionIndex;
            if (index <= 0 || index >= count)
                continue;
            if (s is ElfSymbolTable st && st.Type == ElfSectionType.SymbolTable)
            {
                if (symtab is not null)
                    throw new InputException(name, "more than one symbol table");
                symtab = st;
            }
            ulong alignment = s.VirtualAddressAlignment;
            if (alignment > 1 && (alignment & (alignment - 1)) != 0)
                throw new InputException(name, $"section '{s.Name.Value}' has alignment {alignment}, which is not a power of two");
            // Keep only the section's stream view alive, not the LibObjectFile model (symbols, relocation entries), which
            // is garbage once this object is built.
            // A section LibObjectFile models as something else (a note table, say) is read from the file itself, so
            // Data always has exactly Size bytes (the header pass checked that they lie inside the file).
            var content = s is ElfStreamSection ss ? ss.Stream
                : s.Type == ElfSectionType.NoBits || s.Size == 0 ? null
                : new SliceStream(file, (long)s.Position, (long)s.Size);
            string sectionName = s.Name.Value ?? "";
            _sections[index] = new InputSection(this, index, s.Name.Value ?? "", (uint)s.Type, (ulong)s.Flags,
                s.Size, s.VirtualAddressAlignment, s.Link.Section is { } l ? (uint)l.SectionIndex : (uint)s.Link.SpecialIndex,
                s.Info.Section is { } inf ? (uint)inf.SectionIndex : (uint)s.Info.SpecialIndex, s.TableEntrySize,
                () => ReadContent(content, sectionName, name));
        }

        if (symtab is not null)
        {
            int i = 0;
            foreach (var e in symtab.Entries)
            {
                uint shndx = e.SectionLink.Section is { } sec ? (uint)sec.SectionIndex : (uint)e.SectionLink.SpecialIndex;
                InputSection? section = null;
                if (shndx is not (SHN_UNDEF or SHN_ABS or SHN_COMMON) && shndx < 0xff00)
                {
                    section = shndx < (uint)count ? _sections[(int)shndx] : null;
                    if (section is null)
                        throw new InputException(name, $"symbol {i} '{e.Name.Value}' refers to section {shndx}, which does not exist");
                }
                _symbols.Add(new InputSymbol(this, i, e.Name.Value ?? "", (byte)e.Bind, (byte)e.Type, (byte)e.Visibility,
                    shndx, section, e.Value, e.Size));
                i++;
            }
        }

        foreach (var s in elf.Sections)
        {
            if (s is ElfRelocationTable rt)
                AddRelocations(rt, symtab, name);
            else if (s.Type == ElfSectionType.Group)
                ReadGroup(_sections[(int)s.SectionIndex]!, name);
        }
    }

    private void AddRelocations(ElfRelocationTable rt, ElfSymbolTable? symtab, string name)
    {
        var target = rt.Info.Section is { } t ? _sections[(int)t.SectionIndex] : null;
        if (target is null)
        {
            if (rt.Entries.Count == 0)
                return;
            throw new InputException(name, $"relocation section '{rt.Name.Value}' does not name the section it patches");
        }
        if (rt.Link.Section != symtab || symtab is null)
            throw new InputException(name, $"relocation section '{rt.Name.Value}' does not use the object's symbol table");

        foreach (var r in rt.Entries)
        {
            if (r.SymbolIndex >= (uint)_symbols.Count)
                throw new InputException(name, $"relocation at {target.Name}+0x{r.Offset:x} refers to symbol {r.SymbolIndex}, but the symbol table has {_symbols.Count}");
            var type = RelocationTypes.Get(r.Type.Value);
            if (!target.IsNoBits && (r.Offset > target.Size || (ulong)type.FieldSize > target.Size - r.Offset))
                throw new InputException(name, $"relocation {type.Name} at {target.Name}+0x{r.Offset:x} lies outside the section (size 0x{target.Size:x})");
            target.RelocationList.Add(new InputRelocation(target, r.Offset, r.Type.Value, _symbols[(int)r.SymbolIndex], r.Addend));
        }
    }

    /// <summary>SHT_GROUP: a flag word then section indices; the signature is the name of symbol sh_info.</summary>
    private void ReadGroup(InputSection group, string name)
    {
        var data = group.Data;
        if (data.Length < 4 || data.Length % 4 != 0)
            throw new InputException(name, $"corrupt section group '{group.Name}'");
        uint flags = BitConverter.ToUInt32(data, 0);
        if ((flags & GRP_COMDAT) == 0)
            return;
        string signature = group.Info < (uint)_symbols.Count ? _symbols[(int)group.Info].Name : "";
        for (int i = 4; i < data.Length; i += 4)
        {
            uint member = BitConverter.ToUInt32(data, i);
            if (member == 0 || member >= (uint)_sections.Count || _sections[(int)member] is not { } s)
                throw new InputException(name, $"section group '{group.Name}' lists section {member}, which does not exist");
            s.ComdatSignature = signature;
        }
    }

    private static byte[] ReadContent(Stream? content, string sectionName, string name)
    {
        if (content is null)
            return Array.Empty<byte>();
        try
        {
            var bytes = new byte[content.Length];
            content.Position = 0;
            content.ReadExactly(bytes);
            return bytes;
        }
        catch (Exception ex) when (ex is IOException or EndOfStreamException or ArgumentException)
        {
            throw new InputException(name, $"cannot read section '{sectionName}': {ex.Message}");
        }
    }
}
