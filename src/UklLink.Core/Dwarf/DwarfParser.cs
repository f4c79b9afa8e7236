namespace UklLink.Dwarf;

internal sealed record DwarfAttrSpec(ulong Name, ulong Form, long ImplicitConst);

internal sealed record DwarfAbbrev(ulong Code, ulong Tag, bool HasChildren, DwarfAttrSpec[] Attributes);

/// <summary>Stateful reader behind <see cref="DwarfInfo.Read"/>: .debug_info top DIEs.</summary>
internal sealed partial class DwarfParser(DwarfSections sections)
{
    private const int MaxProblems = 1000;

    private const ulong TagCompileUnit = 0x11, TagPartialUnit = 0x3c, TagSkeletonUnit = 0x4a;
    private const ulong AtName = 0x03, AtStmtList = 0x10, AtLanguage = 0x13, AtCompDir = 0x1b, AtProducer = 0x25,
        AtStrOffsetsBase = 0x72, AtGnuDwoName = 0x2130;

    private readonly DwarfSections _s = sections;
    private readonly List<string> _problems = [];
    private readonly Dictionary<ulong, Dictionary<ulong, DwarfAbbrev>> _abbrevTables = [];
    /// <summary>DW_AT_stmt_list offset → DW_AT_comp_dir, used for directory index 0 in DWARF 2-4 line tables.</summary>
    private readonly Dictionary<ulong, string> _compDirByStmtList = [];
    /// <summary>All DW_AT_stmt_list offsets seen, checked against the line units actually found.</summary>
    private readonly HashSet<ulong> _stmtLists = [];

    public List<DwarfCompileUnit> Units { get; } = [];
    public List<DwarfLineSequence> Sequences { get; } = [];
    public IReadOnlyList<string> Problems => _problems;

    public void Problem(string message)
    {
        if (_problems.Count < MaxProblems)
            _problems.Add(message);
        else if (_problems.Count == MaxProblems)
            _problems.Add("too many problems; further problems suppressed");
    }

    /// <summary>Reads the unit length; returns (content start, content end, offset size). Clamps to the section with a problem.</summary>
    private bool ReadUnitBounds(byte[] data, int pos, string section, out int start, out int end, out int offsetSize)
    {
        start = end = offsetSize = 0;
        try
        {
            var c = new DwarfCursor(data, pos, data.Length);
            ulong length = c.U32();
            offsetSize = 4;
            if (length == 0xffffffff)
            {
                length = c.U64();
                offsetSize = 8;
            }
            else if (length >= 0xfffffff0)
            {
                Problem($"{section} unit at 0x{pos:x}: reserved unit length 0x{length:x}");
                return false;
            }
            start = c.Pos;
            if (length > (ulong)(data.Length - c.Pos))
            {
                Problem($"{section} unit at 0x{pos:x}: unit length 0x{length:x} exceeds section (0x{data.Length - c.Pos:x} bytes left); reading truncated unit");
                end = data.Length;
            }
            else
            {
                end = c.Pos + (int)length;
            }
            return true;
        }
        catch (DwarfFormatException e)
        {
            Problem($"{section} unit at 0x{pos:x}: {e.Message}");
            return false;
        }
    }

    public void ParseInfo()
    {
        var info = _s.Info;
        if (info is null)
            return;
        if (_s.Abbrev is null)
        {
            Problem(".debug_info present but .debug_abbrev missing");
            return;
        }
        int pos = 0;
        while (pos < info.Length)
        {
            if (!ReadUnitBounds(info, pos, ".debug_info", out int start, out int end, out int offsetSize))
                return;
            try
            {
                ParseInfoUnit(new DwarfCursor(info, start, end), offsetSize);
            }
            catch (DwarfFormatException e)
            {
                Problem($".debug_info unit at 0x{pos:x}: {e.Message}");
            }
            pos = end; // always > pos: the length field itself was consumed
        }
    }

    private void ParseInfoUnit(DwarfCursor c, int offsetSize)
    {
        if (c.AtEnd)
            return; // zero-length padding unit
        int version = c.U16();
        if (version < 2 || version > 5)
            throw new DwarfFormatException($"unsupported DWARF version {version}");
        int addressSize;
        ulong abbrevOffset;
        if (version >= 5)
        {
            byte unitType = c.U8();
            addressSize = c.U8();
            abbrevOffset = c.Offset(offsetSize);
            switch (unitType)
            {
                case 0x01: // DW_UT_compile
                case 0x03: // DW_UT_partial
                    break;
                case 0x04: // DW_UT_skeleton
                case 0x05: // DW_UT_split_compile
                    c.Skip(8); // dwo_id
                    break;
                case 0x02: // DW_UT_type
                case 0x06: // DW_UT_split_type
                    c.Skip(8); // type_signature
                    c.Offset(offsetSize); // type_offset
                    break;
                default:
                    throw new DwarfFormatException($"unknown unit type 0x{unitType:x}");
            }
        }
        else
        {
            abbrevOffset = c.Offset(offsetSize);
            addressSize = c.U8();
        }
        if (addressSize is not (1 or 2 or 4 or 8))
            throw new DwarfFormatException($"unsupported address size {addressSize}");

        ulong code = c.Uleb();
        if (code == 0)
            throw new DwarfFormatException("unit has no top DIE (null abbreviation code)");
        var table = GetAbbrevTable(abbrevOffset);
        if (!table.TryGetValue(code, out var abbrev))
            throw new DwarfFormatException($"abbreviation code {code} not found in table at 0x{abbrevOffset:x}");
        if (abbrev.Tag is not (TagCompileUnit or TagPartialUnit or TagSkeletonUnit))
            return; // type units etc. are not compile units

        var ctx = new DwarfFormContext(version, addressSize, offsetSize, _s);
        DwarfValue name = default, producer = default, compDir = default, language = default, dwoName = default;
        ulong? strOffsetsBase = null, stmtList = null;
        foreach (var spec in abbrev.Attributes)
        {
            var v = DwarfForms.Read(c, spec.Form, spec.ImplicitConst, ctx);
            switch (spec.Name)
            {
                case AtName: name = v; break;
                case AtProducer: producer = v; break;
                case AtCompDir: compDir = v; break;
                case AtLanguage: language = v; break;
                case AtGnuDwoName: dwoName = v; break;
                case AtStrOffsetsBase when v.TryGetUnsigned(out var b): strOffsetsBase = b; break;
                case AtStmtList when v.TryGetUnsigned(out var l): stmtList = l; break;
            }
        }

        string? Str(DwarfValue v) => v.Kind switch
        {
            DwarfValueKind.String => v.Str,
            DwarfValueKind.StrIndex => ResolveStrIndex(v.U, strOffsetsBase, offsetSize),
            DwarfValueKind.BadString => BadString(v.U),
            _ => null,
        };

        string? languageName = language.TryGetUnsigned(out var lang) ? DwarfLanguages.Name(lang) : Str(language);
        var unit = new DwarfCompileUnit(Str(name) ?? Str(dwoName), Str(producer), Str(compDir), languageName);
        Units.Add(unit);
        if (stmtList is { } sl)
        {
            _stmtLists.Add(sl);
            if (unit.CompDir is { } dir)
                _compDirByStmtList.TryAdd(sl, dir);
        }
    }

    private string? BadString(ulong offset)
    {
        Problem($"string at offset 0x{offset:x} could not be read (string section missing, too short or unterminated)");
        return null;
    }

    private string? ResolveStrIndex(ulong index, ulong? strOffsetsBase, int offsetSize)
    {
        var offsets = _s.StrOffsets;
        if (strOffsetsBase is not { } b || offsets is null)
            return null;
        if (index > (ulong)offsets.Length / (ulong)offsetSize)
            return null;
        ulong at = b + index * (ulong)offsetSize;
        if (at < b || at > (ulong)offsets.Length || (ulong)offsets.Length - at < (ulong)offsetSize)
            return null;
        var c = new DwarfCursor(offsets, (int)at, offsets.Length);
        return DwarfCursor.StringAt(_s.Str, c.Offset(offsetSize));
    }

    private Dictionary<ulong, DwarfAbbrev> GetAbbrevTable(ulong offset)
    {
        if (_abbrevTables.TryGetValue(offset, out var table))
            return table;
        table = [];
        _abbrevTables[offset] = table;
        var abbrevData = _s.Abbrev!;
        if (offset >= (ulong)abbrevData.Length)
        {
            Problem($".debug_abbrev offset 0x{offset:x} is outside the section");
            return table;
        }
        var c = new DwarfCursor(abbrevData, (int)offset, abbrevData.Length);
        try
        {
            // Every iteration consumes at least one byte, so this terminates at the section end.
            while (true)
            {
                ulong code = c.Uleb();
                if (code == 0)
                    break;
                ulong tag = c.Uleb();
                bool children = c.U8() != 0;
                var attrs = new List<DwarfAttrSpec>();
                while (true)
                {
                    ulong attr = c.Uleb();
                    ulong form = c.Uleb();
                    if (attr == 0 && form == 0)
                        break;
                    long implicitConst = form == DwarfForms.ImplicitConst ? c.Sleb() : 0;
                    attrs.Add(new DwarfAttrSpec(attr, form, implicitConst));
                }
                table.TryAdd(code, new DwarfAbbrev(code, tag, children, [.. attrs]));
            }
        }
        catch (DwarfFormatException e)
        {
            Problem($".debug_abbrev table at 0x{offset:x}: {e.Message}");
        }
        return table;
    }
}
