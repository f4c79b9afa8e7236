using System.Text;
using ELFSharp.ELF;
using ELFSharp.ELF.Sections;

namespace UklLink.Tests.Link;

/// <summary>
/// Checks ukl-link's output vmlinux against the GNU ld link of the same inputs (<see cref="LdOracle"/>): for every
/// allocated ld output section, the same bytes at the same addresses (NOBITS sections: inside NOBITS space; .tbss has no
/// place of its own); every application symbol of ld's output present in ukl-link's .symtab with the same value; and
/// the descriptor's magic, entry (ld's e_entry) and tls_* fields (ld's PT_TLS, zeros without TLS).
/// All differences are reported together; a byte difference shows the first differing address with a hex window.
/// </summary>
public static class LinkComparer
{
    private const int MaxSymbolReports = 25;

    /// <param name="checkDescriptor">False only to compare ld's output with itself (it has no descriptor).</param>
    public static void AssertSameAs(OracleLink expected, string actualVmlinux, string kernel, bool checkDescriptor = true)
    {
        var problems = new List<string>();
        using (var elf = ELFReader.Load<ulong>(actualVmlinux))
        using (var file = File.OpenRead(actualVmlinux))
        {
            // .tbss has no memory of its own: in ld's output it overlaps the next section.
            var allocated = elf.Sections.Where(s => (s.Flags & SectionFlags.Allocatable) != 0 && s.Size > 0
                && !(((ulong)s.Flags & 0x400) != 0 && s.Type == SectionType.NoBits)).ToList();
            foreach (var section in expected.Sections)
            {
                if (section.Size > 0)
                    CompareSection(section, allocated, file, problems);
            }
            CompareSymbols(expected, elf, LdOracle.KernelSymbols(kernel), problems);
            if (checkDescriptor)
                CompareDescriptor(expected, elf, allocated, file, problems);
        }
        if (problems.Count > 0)
        {
            throw new Xunit.Sdk.XunitException(
                $"ukl-link's {actualVmlinux} differs from GNU ld's link ({problems.Count} problem(s); ld map: {expected.MapFile}; ld command: {expected.Command})\n"
                + string.Join("\n", problems));
        }
    }

    private static void CompareSection(OracleSection expected, List<Section<ulong>> allocated, FileStream file, List<string> problems)
    {
        if (expected.NoBits && expected.Tls)
            return; // .tbss: only a size inside the TLS template; ld gives it no memory of its own
        var container = allocated.FirstOrDefault(s =>
            expected.Address >= s.LoadAddress && expected.End <= s.LoadAddress + s.Size);
        string range = $"[0x{expected.Address:x}, 0x{expected.End:x})";
        if (container is null)
        {
            problems.Add($"{expected.Name} {range}: no allocated section of ukl-link's output contains it");
            return;
        }
        if (expected.NoBits)
        {
            if (container.Type != SectionType.NoBits)
                problems.Add($"{expected.Name} {range}: ld's NOBITS section lies in ukl-link's {container.Name}, which is {container.Type}");
            return;
        }
        if (container.Type == SectionType.NoBits)
        {
            problems.Add($"{expected.Name} {range}: ld's section has contents but lies in ukl-link's NOBITS {container.Name}");
            return;
        }

        var actual = new byte[expected.Bytes.Length];
        file.Position = (long)(container.Offset + (expected.Address - container.LoadAddress));
        file.ReadExactly(actual);
        int first = FirstDifference(expected.Bytes, actual);
        if (first < 0)
            return;
        int count = 0;
        for (int i = first; i < actual.Length; i++)
        {
            if (actual[i] != expected.Bytes[i])
                count++;
        }
        problems.Add($"{expected.Name} {range}: {count} byte(s) differ, the first at 0x{expected.Address + (ulong)first:x} ({expected.Name}+0x{first:x})\n"
            + HexWindow("ld      ", expected.Bytes, first, expected.Address)
            + HexWindow("ukl-link", actual, first, expected.Address));
    }

    private static void CompareSymbols(OracleLink expected, IELF actualElf, HashSet<(string, ulong)> kernelSymbols, List<string> problems)
    {
        // Count (name, value) pairs: ukl-link adds the application's symbols to the kernel's, so a pair must occur at
        // least as often as in ld's output plus in the input kernel (locals such as "helper" may repeat).
        var actual = new Dictionary<(string, ulong), int>();
        var valuesByName = new Dictionary<string, List<ulong>>(StringComparer.Ordinal);
        var symtab = (SymbolTable<ulong>)actualElf.GetSection(".symtab");
        foreach (var e in symtab.Entries)
        {
            if (e.Name.Length == 0)
                continue;
            actual[(e.Name, e.Value)] = actual.GetValueOrDefault((e.Name, e.Value)) + 1;
            if (!valuesByName.TryGetValue(e.Name, out var list))
                valuesByName[e.Name] = list = [];
            list.Add(e.Value);
        }

        int reported = 0;
        foreach (var group in expected.Symbols.GroupBy(s => (s.Name, s.Value)))
        {
            int need = group.Count() + (kernelSymbols.Contains(group.Key) ? 1 : 0);
            if (actual.GetValueOrDefault(group.Key) >= need)
                continue;
            if (++reported > MaxSymbolReports)
                continue;
            var sym = group.First();
            string has = valuesByName.TryGetValue(sym.Name, out var values)
                ? "ukl-link has " + string.Join(", ", values.Take(6).Select(v => $"0x{v:x}"))
                : "ukl-link has no such symbol";
            problems.Add($"symbol {sym}: {has}");
        }
        if (reported > MaxSymbolReports)
            problems.Add($"... and {reported - MaxSymbolReports} more symbol difference(s)");
    }

    private static void CompareDescriptor(OracleLink expected, IELF elf, List<Section<ulong>> allocated, FileStream file, List<string> problems)
    {
        var symtab = (SymbolTable<ulong>)elf.GetSection(".symtab");
        var descriptor = symtab.Entries.FirstOrDefault(e => e.Name == "ukl_descriptor");
        var container = descriptor is null ? null : allocated.FirstOrDefault(s =>
            s.Type != SectionType.NoBits && descriptor.Value >= s.LoadAddress && descriptor.Value + 0x38 <= s.LoadAddress + s.Size);
        if (descriptor is null || container is null)
        {
            problems.Add("ukl_descriptor: missing from ukl-link's output, or not in a section with contents");
            return;
        }
        var bytes = new byte[0x38];
        file.Position = (long)(container.Offset + (descriptor.Value - container.LoadAddress));
        file.ReadExactly(bytes);
        ulong Field(int offset) => BitConverter.ToUInt64(bytes, offset);
        var tls = expected.Tls ?? new OracleTls(0, 0, 0, 0);
        var fields = new (string Name, int Offset, ulong Expected)[]
        {
            ("magic", 0x00, 0x31305050414C4B55), ("entry", 0x10, expected.Entry), ("tls_image", 0x18, tls.Address),
            ("tls_filesz", 0x20, tls.FileSize), ("tls_memsz", 0x28, tls.MemorySize), ("tls_align", 0x30, tls.Alignment),
        };
        foreach (var (name, offset, value) in fields)
        {
            if (Field(offset) != value)
                problems.Add($"ukl_descriptor.{name} is 0x{Field(offset):x}, ld's link says 0x{value:x}");
        }
    }

    private static int FirstDifference(byte[] a, byte[] b)
    {
        int n = Math.Min(a.Length, b.Length);
        int same = a.AsSpan(0, n).CommonPrefixLength(b.AsSpan(0, n));
        return same == n && a.Length == b.Length ? -1 : same;
    }

    /// <summary>Three 16-byte rows around <paramref name="offset"/>, labelled with addresses; the byte at offset is bracketed.</summary>
    public static string HexWindow(string label, byte[] bytes, int offset, ulong baseAddress)
    {
        var sb = new StringBuilder();
        int start = Math.Max(0, (offset & ~15) - 16);
        int end = Math.Min(bytes.Length, (offset & ~15) + 32);
        for (int row = start; row < end; row += 16)
        {
            sb.Append($"  {label} {baseAddress + (ulong)row:x16}:");
            for (int i = row; i < Math.Min(row + 16, end); i++)
                sb.Append(i == offset ? $"[{bytes[i]:x2}]" : $" {bytes[i]:x2} ");
            sb.Append('\n');
        }
        return sb.ToString();
    }
}
