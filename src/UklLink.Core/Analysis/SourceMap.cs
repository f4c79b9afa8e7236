using System.Buffers.Binary;
using UklLink.Dwarf;
using UklLink.Inputs;
using UklLink.X86_64;

namespace UklLink.Analysis;

/// <summary>
/// Maps a (section, offset) of a relocatable object to file:line through its DWARF line table, and exposes the
/// compile units' producer strings. Relocatable objects carry section-relative addresses as relocations, so each
/// allocated section is given its own synthetic 4 GiB window ((index+1) &lt;&lt; 32) and the debug sections are
/// relocated against those windows; an address maps back by its upper half.
/// </summary>
public sealed class SourceMap
{
    private const ulong SHF_COMPRESSED = 0x800;
    private readonly DwarfInfo _dwarf;

    private SourceMap(DwarfInfo dwarf, IReadOnlyList<string> problems)
    {
        _dwarf = dwarf;
        Problems = problems;
    }

    public IReadOnlyList<DwarfCompileUnit> CompileUnits => _dwarf.CompileUnits;
    public IReadOnlyList<string> Problems { get; }

    /// <summary>Null when the object has no usable DWARF (compiled without -g, or compressed debug sections).</summary>
    public static SourceMap? Build(ObjectFile obj)
    {
        var info = Relocated(obj, ".debug_info");
        var line = Relocated(obj, ".debug_line");
        if (info is null && line is null)
            return null;
        var sections = new DwarfSections(info, Relocated(obj, ".debug_abbrev"), line, Relocated(obj, ".debug_str"),
            Relocated(obj, ".debug_line_str"), Relocated(obj, ".debug_str_offsets"));
        var dwarf = DwarfInfo.Read(sections, out var problems);
        return new SourceMap(dwarf, problems);
    }

    public (string File, int Line)? Find(InputSection section, ulong offset)
    {
        ulong address = SyntheticBase(section) + offset;
        var row = _dwarf.FindLine(address);
        return row is { } r && r.Line > 0 && (r.Address >> 32) == (address >> 32) ? (r.File, r.Line) : null;
    }

    private static ulong SyntheticBase(InputSection section) => section.IsAlloc ? (ulong)(section.Index + 1) << 32 : 0;

    private static byte[]? Relocated(ObjectFile obj, string name)
    {
        var section = obj.FindSection(name);
        if (section is null || section.IsNoBits || (section.Flags & SHF_COMPRESSED) != 0)
            return null;
        var bytes = (byte[])section.Data.Clone();
        foreach (var r in section.Relocations)
        {
            var sym = r.Symbol;
            ulong s = sym.Section is { } target ? SyntheticBase(target) + sym.Value : sym.Value;
            ulong value = unchecked(s + (ulong)r.Addend);
            var span = bytes.AsSpan((int)r.Offset);
            var type = RelocationTypes.Get(r.Type);
            if (!type.DwarfRelevant)
                continue;
            switch (type.FieldSize)
            {
                case 4:
                    BinaryPrimitives.WriteUInt32LittleEndian(span, (uint)value);
                    break;
                case 8:
                    BinaryPrimitives.WriteUInt64LittleEndian(span, value);
                    break;
            }
        }
        return bytes;
    }
}
