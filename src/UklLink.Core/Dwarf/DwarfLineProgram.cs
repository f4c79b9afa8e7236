namespace UklLink.Dwarf;

/// <summary>.debug_line decoding (DWARF 2-5 line-number programs).</summary>
internal sealed partial class DwarfParser
{
    public const int MaxTotalRows = 10_000_000;

    private const ulong LnctPath = 1, LnctDirectoryIndex = 2;

    private int _totalRows;
    private bool _rowCapHit;

    private sealed record FileEntry(string Path, ulong DirIndex);

    public void ParseLines()
    {
        var seen = new HashSet<ulong>();
        ParseLineUnits(seen);
        if (_rowCapHit)
            return;
        foreach (var sl in _stmtLists.Order())
        {
            if (!seen.Contains(sl))
                Problem($"DW_AT_stmt_list 0x{sl:x} does not refer to a line table in .debug_line");
        }
    }

    private void ParseLineUnits(HashSet<ulong> seen)
    {
        var line = _s.Line;
        if (line is null)
            return;
        int pos = 0;
        while (pos < line.Length && !_rowCapHit)
        {
            if (!ReadUnitBounds(line, pos, ".debug_line", out int start, out int end, out int offsetSize))
                return;
            seen.Add((ulong)pos);
            try
            {
                ParseLineUnit(new DwarfCursor(line, start, end), offsetSize, (ulong)pos);
            }
            catch (DwarfFormatException e)
            {
                Problem($".debug_line unit at 0x{pos:x}: {e.Message}");
            }
            pos = end;
        }
    }

    private void ParseLineUnit(DwarfCursor c, int offsetSize, ulong unitOffset)
    {
        if (c.AtEnd)
            return;
        int version = c.U16();
        if (version < 2 || version > 5)
            throw new DwarfFormatException($"unsupported line table version {version}");
        int addressSize = 8;
        if (version >= 5)
        {
            addressSize = c.U8();
            c.U8(); // segment_selector_size
            if (addressSize is not (1 or 2 or 4 or 8))
                throw new DwarfFormatException($"unsupported address size {addressSize}");
        }
        ulong headerLength = c.Offset(offsetSize);
        if (headerLength > (ulong)c.Remaining)
            throw new DwarfFormatException($"header_length 0x{headerLength:x} exceeds unit");
        int programStart = c.Pos + (int)headerLength;
        var h = new DwarfCursor(c.Data, c.Pos, programStart);

        int minInstLength = h.U8();
        int maxOps = version >= 4 ? h.U8() : 1;
        if (maxOps == 0)
        {
            Problem($".debug_line unit at 0x{unitOffset:x}: maximum_operations_per_instruction is 0; assuming 1");
            maxOps = 1;
        }
        h.U8(); // default_is_stmt: is_stmt is not reported in rows
        int lineBase = (sbyte)h.U8();
        int lineRange = h.U8();
        int opcodeBase = h.U8();
        if (lineRange == 0)
            throw new DwarfFormatException("line_range is 0");
        var stdLengths = new byte[Math.Max(opcodeBase, 1)];
        for (int i = 1; i < opcodeBase; i++)
            stdLengths[i] = h.U8();

        _compDirByStmtList.TryGetValue(unitOffset, out var compDir);
        var dirs = new List<string>();
        var files = new List<FileEntry?>();
        if (version < 5)
        {
            dirs.Add(compDir ?? "");
            while (true)
            {
                var d = h.CString();
                if (d.Length == 0)
                    break;
                dirs.Add(d);
            }
            files.Add(null); // file numbering starts at 1
            while (true)
            {
                var f = h.CString();
                if (f.Length == 0)
                    break;
                ulong dirIndex = h.Uleb();
                h.Uleb(); // mtime
                h.Uleb(); // length
                files.Add(new FileEntry(f, dirIndex));
            }
        }
        else
        {
            var ctx = new DwarfFormContext(version, addressSize, offsetSize, _s);
            foreach (var e in ReadEntries(h, ctx))
                dirs.Add(e.Path);
            foreach (var e in ReadEntries(h, ctx))
                files.Add(e);
        }
        // Unknown trailing header fields (h.Pos < programStart) are legal and skipped; h cannot overrun.
        var program = new DwarfCursor(c.Data, programStart, c.End);
        RunLineProgram(program, unitOffset, minInstLength, maxOps, lineBase, lineRange, opcodeBase, stdLengths, dirs, files);
    }

    /// <summary>Reads a DWARF 5 entry-format description followed by the entries (directories or files).</summary>
    private List<FileEntry> ReadEntries(DwarfCursor h, in DwarfFormContext ctx)
    {
        int formatCount = h.U8();
        var formats = new (ulong Type, ulong Form)[formatCount];
        for (int i = 0; i < formatCount; i++)
            formats[i] = (h.Uleb(), h.Uleb());
        ulong count = h.Uleb();
        if (count > (ulong)h.Remaining)
            throw new DwarfFormatException($"entry count {count} exceeds header size");
        var result = new List<FileEntry>((int)count);
        for (ulong n = 0; n < count; n++)
        {
            string path = "";
            ulong dirIndex = 0;
            foreach (var (type, form) in formats)
            {
                var v = DwarfForms.Read(h, form, 0, ctx);
                if (type == LnctPath && v.Kind == DwarfValueKind.String)
                    path = v.Str!;
                else if (type == LnctPath && v.Kind == DwarfValueKind.BadString)
                    Problem($".debug_line: path string at offset 0x{v.U:x} could not be read");
                else if (type == LnctDirectoryIndex && v.TryGetUnsigned(out var d))
                    dirIndex = d;
            }
            result.Add(new FileEntry(path, dirIndex));
        }
        return result;
    }

    private static string Join(string dir, string file)
    {
        if (file.StartsWith('/') || dir.Length == 0)
            return file;
        if (file.Length == 0)
            return dir;
        return dir.EndsWith('/') ? dir + file : dir + "/" + file;
    }

    private static string ResolveFile(ulong index, List<string> dirs, List<FileEntry?> files)
    {
        if (index >= (ulong)files.Count || files[(int)index] is not { } f)
            return $"<file {index}>";
        if (f.Path.StartsWith('/'))
            return f.Path;
        string dir = "";
        if (f.DirIndex < (ulong)dirs.Count)
        {
            dir = dirs[(int)f.DirIndex];
            // relative include directories are relative to the compilation directory (dirs[0])
            if (f.DirIndex != 0 && !dir.StartsWith('/') && dirs.Count > 0)
                dir = Join(dirs[0], dir);
        }
        return Join(dir, f.Path);
    }

    private void RunLineProgram(DwarfCursor c, ulong unitOffset, int minInstLength, int maxOps,
        int lineBase, int lineRange, int opcodeBase, byte[] stdLengths, List<string> dirs, List<FileEntry?> files)
    {
        var fileNames = new Dictionary<ulong, string>();
        var rows = new List<DwarfLineRow>();

        ulong address = 0, opIndex = 0, file = 1, column = 0;
        long line = 1;

        void Reset()
        {
            address = 0;
            opIndex = 0;
            file = 1;
            line = 1;
            column = 0;
        }

        void Advance(ulong operationAdvance)
        {
            unchecked
            {
                if (maxOps == 1)
                {
                    address += (ulong)minInstLength * operationAdvance;
                }
                else
                {
                    ulong total = opIndex + operationAdvance;
                    address += (ulong)minInstLength * (total / (ulong)maxOps);
                    opIndex = total % (ulong)maxOps;
                }
            }
        }

        void EmitRow()
        {
            if (_rowCapHit)
                return;
            if (_totalRows >= MaxTotalRows)
            {
                _rowCapHit = true;
                Problem($"line table row limit ({MaxTotalRows}) reached; remaining rows ignored");
                return;
            }
            _totalRows++;
            if (!fileNames.TryGetValue(file, out var name))
            {
                name = ResolveFile(file, dirs, files);
                fileNames[file] = name;
            }
            int l = (int)Math.Clamp(line, int.MinValue, int.MaxValue);
            int col = (int)Math.Min(column, int.MaxValue);
            rows.Add(new DwarfLineRow(address, name, l, col));
        }

        void EndSequence()
        {
            if (rows.Count > 0)
                Sequences.Add(new DwarfLineSequence(rows, address));
            rows = [];
            Reset();
        }

        try
        {
            while (!c.AtEnd && !_rowCapHit)
            {
                byte op = c.U8();
                if (op >= opcodeBase)
                {
                    int adjusted = op - opcodeBase;
                    Advance((ulong)(adjusted / lineRange));
                    line += lineBase + (adjusted % lineRange);
                    EmitRow();
                    continue;
                }
                switch (op)
                {
                    case 0:
                    {
                        ulong len = c.Uleb();
                        if (len == 0)
                            break;
                        var e = c.Slice(len);
                        byte sub = e.U8();
                        switch (sub)
                        {
                            case 1: // DW_LNE_end_sequence
                                EndSequence();
                                break;
                            case 2: // DW_LNE_set_address
                                address = e.UN(Math.Min(e.Remaining, 8));
                                opIndex = 0;
                                break;
                            case 3: // DW_LNE_define_file
                            {
                                var path = e.CString();
                                ulong dirIndex = e.Uleb();
                                files.Add(new FileEntry(path, dirIndex));
                                break;
                            }
                            case 4: // DW_LNE_set_discriminator
                                break;
                            default:
                                break; // unknown extended opcode: skipped by its length
                        }
                        break;
                    }
                    case 1: // DW_LNS_copy
                        EmitRow();
                        break;
                    case 2: // DW_LNS_advance_pc
                        Advance(c.Uleb());
                        break;
                    case 3: // DW_LNS_advance_line
                        line = unchecked(line + c.Sleb());
                        break;
                    case 4: // DW_LNS_set_file
                        file = c.Uleb();
                        break;
                    case 5: // DW_LNS_set_column
                        column = c.Uleb();
                        break;
                    case 6: // DW_LNS_negate_stmt
                    case 7: // DW_LNS_set_basic_block
                    case 10: // DW_LNS_set_prologue_end
                    case 11: // DW_LNS_set_epilogue_begin
                        if (stdLengths[op] != 0)
                            goto default; // non-standard operand count: honour the header
                        break;
                    case 8: // DW_LNS_const_add_pc
                        Advance((ulong)((255 - opcodeBase) / lineRange));
                        break;
                    case 9: // DW_LNS_fixed_advance_pc
                        address = unchecked(address + c.U16());
                        opIndex = 0;
                        break;
                    case 12: // DW_LNS_set_isa
                        c.Uleb();
                        break;
                    default:
                        for (int i = 0; i < stdLengths[op]; i++)
                            c.Uleb();
                        break;
                }
            }
        }
        catch (DwarfFormatException e)
        {
            Problem($".debug_line unit at 0x{unitOffset:x}: {e.Message}");
        }

        if (rows.Count > 0)
        {
            if (!_rowCapHit)
                Problem($".debug_line unit at 0x{unitOffset:x}: line program ended without DW_LNE_end_sequence");
            ulong maxAddr = rows.Max(r => r.Address);
            Sequences.Add(new DwarfLineSequence(rows, maxAddr == ulong.MaxValue ? maxAddr : maxAddr + 1));
        }
    }
}
