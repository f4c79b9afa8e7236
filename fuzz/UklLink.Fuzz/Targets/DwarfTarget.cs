using UklLink.Dwarf;

namespace UklLink.Fuzz.Targets;

/// <summary>
/// DWARF line programs: the input is a .debug_line section, read with the .debug_info, .debug_abbrev, .debug_str
/// and .debug_line_str of a real executable (fuzz/make-seeds), whose units point into it. The reader promises never
/// to throw and to report malformed data as problems; its last-resort catch ("internal error while reading DWARF")
/// firing is a bug, as is a lookup that throws.
/// </summary>
public sealed class DwarfTarget(Fixtures fixtures) : Target(fixtures)
{
    private readonly byte[] _info = File.ReadAllBytes(Path.Combine(fixtures.Dwarf, "info"));
    private readonly byte[] _abbrev = File.ReadAllBytes(Path.Combine(fixtures.Dwarf, "abbrev"));
    private readonly byte[] _str = File.ReadAllBytes(Path.Combine(fixtures.Dwarf, "str"));
    private readonly byte[] _lineStr = File.ReadAllBytes(Path.Combine(fixtures.Dwarf, "line_str"));

    public override void Run(byte[] input)
    {
        var dwarf = DwarfInfo.Read(new DwarfSections(_info, _abbrev, input, _str, _lineStr), out var problems);
        foreach (var p in problems)
            if (p.Contains("internal error", StringComparison.Ordinal))
                throw new ContractViolation(p);
        // Every row's address must be found again (the lookup used for source locations in findings).
        foreach (var row in dwarf.Lines.Take(64))
            _ = dwarf.FindLine(row.Address);
    }
}
