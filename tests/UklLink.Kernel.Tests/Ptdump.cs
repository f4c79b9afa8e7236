using System.Globalization;
using System.Text.RegularExpressions;

namespace UklLink.Kernel.Tests;

/// <summary>One present range of a page-table dump from /sys/kernel/debug/page_tables/* (CONFIG_PTDUMP_DEBUGFS).</summary>
internal sealed record PtdumpRange(ulong Start, ulong End, bool Writable, bool Executable, bool Global, string Line);

/// <summary>Parses the kernel's page-table dump; lines of ranges that are not present are left out.</summary>
internal static partial class Ptdump
{
    // e.g. "0xffffffff81000000-0xffffffff81600000           6M     ro         PSE     GLB x  pmd"
    [GeneratedRegex(@"^0x([0-9a-f]+)-0x([0-9a-f]+)\s+\S+\s+(.*)$")]
    private static partial Regex Line();

    public static List<PtdumpRange> Parse(string text)
    {
        var list = new List<PtdumpRange>();
        foreach (var raw in text.Split('\n'))
        {
            var mt = Line().Match(raw.TrimEnd('\r').Trim());
            if (!mt.Success) continue;
            var flags = mt.Groups[3].Value.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            var rw = flags.Contains("RW");
            if (!rw && !flags.Contains("ro")) continue; // not present
            list.Add(new PtdumpRange(
                ulong.Parse(mt.Groups[1].Value, NumberStyles.HexNumber),
                ulong.Parse(mt.Groups[2].Value, NumberStyles.HexNumber),
                rw,
                !flags.Contains("NX"),
                flags.Contains("GLB"),
                raw.Trim()));
        }
        return list;
    }
}
