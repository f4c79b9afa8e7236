using System.Buffers.Binary;
using ELFSharp.ELF;
using ELFSharp.ELF.Sections;
using UklLink.Inputs;
using UklLink.Tests.Support;

namespace UklLink.Tests.Layout;

/// <summary>A GNU ld link of test objects, read back: the reference the layout passes are compared with.</summary>
internal sealed class LdReference
{
    private readonly Dictionary<string, (ulong Address, byte[] Bytes)> _sections = new();
    private readonly Dictionary<string, ulong> _symbols = new();

    private LdReference(string output, string map)
    {
        Output = output;
        Map = map;
        using var elf = ELFReader.Load<ulong>(output);
        foreach (var s in elf.Sections)
        {
            if (s.Type == SectionType.NoBits || s.Type == SectionType.Null)
                continue;
            _sections[s.Name] = (s.LoadAddress, s.GetContents());
        }
        if (elf.TryGetSection(".symtab", out var st) && st is ISymbolTable table)
            foreach (var e in table.Entries.OfType<SymbolEntry<ulong>>())
                if (e.Name.Length > 0)
                    _symbols.TryAdd(e.Name, e.Value);
    }

    public string Output { get; }

    /// <summary>ld's -M output.</summary>
    public string Map { get; }

    /// <summary>The shared script shape: each output section at the next address, input sections by name pattern.</summary>
    public static string Script(params (string Output, string Patterns)[] sections) =>
        "SECTIONS { . = 0xffffffff81000000; "
        + string.Concat(sections.Select(s => $"{s.Output} : {{ *({s.Patterns}) }} "))
        + "/DISCARD/ : { *(.note.GNU-stack) *(.comment) } }";

    /// <summary>Links <paramref name="objects"/> statically with <paramref name="script"/>; externs defined by --defsym.</summary>
    public static LdReference Link(string script, IEnumerable<string> objects, IReadOnlyDictionary<string, ulong>? defsyms = null,
        string options = "")
    {
        string dir = Toolchain.NewWorkDirectory();
        string scriptPath = Path.Combine(dir, "link.ld");
        File.WriteAllText(scriptPath, script);
        string output = Path.Combine(dir, "out");
        string syms = string.Concat((defsyms ?? new Dictionary<string, ulong>()).Select(kv => $" --defsym {kv.Key}=0x{kv.Value:x}"));
        string map = Toolchain.Run($"ld -static {options}{syms} -T {scriptPath} {string.Join(' ', objects)} -o {output} -M", dir);
        return new LdReference(output, map);
    }

    public bool HasSection(string name) => _sections.ContainsKey(name);

    public (ulong Address, byte[] Bytes) Section(string name) =>
        _sections.TryGetValue(name, out var s) ? s : throw new KeyNotFoundException($"ld output has no section {name}");

    public ulong Symbol(string name) =>
        _symbols.TryGetValue(name, out var v) ? v : throw new KeyNotFoundException($"ld output has no symbol {name}");
}

/// <summary>
/// Places input sections into output sections the way ld does for scripts of the form
/// <c>OUT : { *(PATTERN PATTERN...) }</c>: files in order, sections of a file by index, each at its alignment.
/// Output section addresses are taken from ld's result; the point is to check the input-section layout.
/// </summary>
internal sealed class SimplePlacement
{
    private readonly Dictionary<InputSection, ulong> _addresses = new();

    public IReadOnlyDictionary<InputSection, ulong> Addresses => _addresses;

    public static bool Matches(string name, string patterns) =>
        patterns.Split(' ', StringSplitOptions.RemoveEmptyEntries).Any(p =>
            p.EndsWith('*') ? name.StartsWith(p[..^1], StringComparison.Ordinal) : name == p);

    /// <summary>Places the sections matching <paramref name="patterns"/> from <paramref name="start"/>; returns the end.</summary>
    public ulong Place(IEnumerable<ObjectFile> objects, string patterns, ulong start, Func<InputSection, bool> isLive,
        Func<InputSection, ulong> sizeOf, Func<InputSection, bool> isExcluded)
    {
        ulong dot = start;
        foreach (var obj in objects)
            foreach (var s in obj.AllSections)
            {
                if (!s.IsAlloc || !Matches(s.Name, patterns) || !isLive(s) || _addresses.ContainsKey(s))
                    continue;
                if (isExcluded(s))
                {
                    _addresses[s] = dot;
                    continue;
                }
                ulong align = Math.Max(1, s.Alignment);
                dot = (dot + align - 1) / align * align;
                _addresses[s] = dot;
                dot += sizeOf(s);
            }
        return dot;
    }

    public ulong this[InputSection s] => _addresses[s];
}

/// <summary>First-wins COMDAT selection, as ld does it in input order.</summary>
internal static class Comdat
{
    public static HashSet<InputSection> Discarded(IEnumerable<ObjectFile> objects)
    {
        var seen = new HashSet<string>();
        var discarded = new HashSet<InputSection>();
        foreach (var obj in objects)
        {
            var signatures = obj.AllSections.Select(s => s.ComdatSignature).OfType<string>().Distinct().ToList();
            foreach (var sig in signatures)
                if (!seen.Add(sig))
                    foreach (var s in obj.AllSections.Where(s => s.ComdatSignature == sig))
                        discarded.Add(s);
        }
        return discarded;
    }
}

/// <summary>The few x86-64 relocations the tests' sections use.</summary>
internal static class TestRelocator
{
    public static void Apply(Span<byte> bytes, ulong offset, uint type, ulong s, long a, ulong p)
    {
        ulong value = unchecked(s + (ulong)a);
        var at = bytes[(int)offset..];
        switch (type)
        {
            case 1: // R_X86_64_64
                BinaryPrimitives.WriteUInt64LittleEndian(at, value);
                break;
            case 2: // R_X86_64_PC32
            case 4: // R_X86_64_PLT32
                BinaryPrimitives.WriteUInt32LittleEndian(at, unchecked((uint)(value - p)));
                break;
            case 24: // R_X86_64_PC64
                BinaryPrimitives.WriteUInt64LittleEndian(at, unchecked(value - p));
                break;
            case 10: // R_X86_64_32
            case 11: // R_X86_64_32S
                BinaryPrimitives.WriteUInt32LittleEndian(at, unchecked((uint)value));
                break;
            default:
                throw new NotSupportedException($"relocation type {type} in a test");
        }
    }
}
