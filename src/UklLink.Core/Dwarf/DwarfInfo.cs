namespace UklLink.Dwarf;

/// <summary>Compile units and decoded line tables read from DWARF 2-5 debug sections.</summary>
public sealed class DwarfInfo
{
    private readonly DwarfLineSequence[] _sequences; // sorted by Start
    private readonly ulong[] _prefixMaxEnd;          // max End over _sequences[0..i]

    private DwarfInfo(IReadOnlyList<DwarfCompileUnit> units, List<DwarfLineSequence> sequences)
    {
        CompileUnits = units;
        _sequences = sequences.OrderBy(s => s.Start).ToArray();
        _prefixMaxEnd = new ulong[_sequences.Length];
        ulong max = 0;
        for (int i = 0; i < _sequences.Length; i++)
        {
            max = Math.Max(max, _sequences[i].End);
            _prefixMaxEnd[i] = max;
        }
        Lines = _sequences.SelectMany(s => s.Rows).OrderBy(r => r.Address).ToArray();
    }

    public IReadOnlyList<DwarfCompileUnit> CompileUnits { get; }

    /// <summary>All rows of all line programs, sorted by address, end_sequence rows excluded but sequence ends respected.</summary>
    public IReadOnlyList<DwarfLineRow> Lines { get; }

    /// <summary>
    /// The row covering <paramref name="address"/> (the last row with row.Address &lt;= address within the same
    /// sequence, and address &lt; that sequence's end), or null.
    /// </summary>
    public DwarfLineRow? FindLine(ulong address)
    {
        // last sequence with Start <= address
        int lo = 0, hi = _sequences.Length - 1, idx = -1;
        while (lo <= hi)
        {
            int mid = lo + ((hi - lo) >> 1);
            if (_sequences[mid].Start <= address)
            {
                idx = mid;
                lo = mid + 1;
            }
            else
            {
                hi = mid - 1;
            }
        }
        for (int i = idx; i >= 0 && _prefixMaxEnd[i] > address; i--)
        {
            var seq = _sequences[i];
            if (address < seq.End)
                return seq.Find(address);
        }
        return null;
    }

    /// <summary>Never throws on malformed input: returns what could be read plus problems as strings.</summary>
    public static DwarfInfo Read(DwarfSections sections, out IReadOnlyList<string> problems)
    {
        ArgumentNullException.ThrowIfNull(sections);
        var parser = new DwarfParser(sections);
        try
        {
            parser.ParseInfo();
            parser.ParseLines();
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // Safety net: every expected failure is a DwarfFormatException handled per unit.
            parser.Problem($"internal error while reading DWARF: {e.GetType().Name}: {e.Message}");
        }
        problems = parser.Problems;
        return new DwarfInfo(parser.Units, parser.Sequences);
    }
}

/// <summary>One line-table sequence: rows sorted by address, covering [Start, End).</summary>
internal sealed class DwarfLineSequence
{
    public DwarfLineSequence(List<DwarfLineRow> rows, ulong end)
    {
        Rows = rows.OrderBy(r => r.Address).ToArray();
        Start = Rows.Length > 0 ? Rows[0].Address : end;
        End = end;
    }

    public DwarfLineRow[] Rows { get; }
    public ulong Start { get; }
    public ulong End { get; }

    public DwarfLineRow? Find(ulong address)
    {
        int lo = 0, hi = Rows.Length - 1, idx = -1;
        while (lo <= hi)
        {
            int mid = lo + ((hi - lo) >> 1);
            if (Rows[mid].Address <= address)
            {
                idx = mid;
                lo = mid + 1;
            }
            else
            {
                hi = mid - 1;
            }
        }
        return idx >= 0 ? Rows[idx] : null;
    }
}
