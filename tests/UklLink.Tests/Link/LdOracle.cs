using System.Collections.Concurrent;
using ELFSharp.ELF;
using ELFSharp.ELF.Sections;
using UklLink.Tests.Support;

namespace UklLink.Tests.Link;

/// <summary>One allocated output section of the ld link: its place and, unless NOBITS, its bytes.</summary>
public sealed record OracleSection(string Name, ulong Address, ulong Size, ulong Alignment, bool NoBits, bool Tls, byte[] Bytes)
{
    public ulong End => Address + Size;
}

/// <summary>An application symbol of the ld link (kernel symbols copied by --just-symbols are left out).</summary>
public sealed record OracleSymbol(string Name, ulong Value, ulong Size, SymbolType Type, SymbolBinding Binding,
    SymbolVisibility Visibility, string? Section)
{
    public override string ToString() =>
        $"{Name} = 0x{Value:x} ({Binding} {((int)Type == 6 ? "TLS" : Type.ToString())}{(Visibility == SymbolVisibility.Default ? "" : " " + Visibility)}, {Section ?? "ABS"}, size {Size})";
}

/// <summary>ld's PT_TLS segment: what ukl-link writes into the descriptor's tls_* fields.</summary>
public sealed record OracleTls(ulong Address, ulong FileSize, ulong MemorySize, ulong Alignment);

/// <summary>
/// What GNU ld made of a link: the allocated sections, the application's symbols, the entry point and the TLS segment
/// (null without TLS).
/// </summary>
public sealed record OracleLink(string Output, string MapFile, string Command, IReadOnlyList<OracleSection> Sections,
    IReadOnlyList<OracleSymbol> Symbols, ulong Entry, OracleTls? Tls)
{
    public OracleSection Section(string name) =>
        Sections.SingleOrDefault(s => s.Name == name) ?? throw new Xunit.Sdk.XunitException(
            $"ld made no allocated section {name}; it made {string.Join(", ", Sections.Select(s => s.Name))} (map: {MapFile})");

    public bool HasSection(string name) => Sections.Any(s => s.Name == name);

    public OracleSymbol Symbol(string name) =>
        Symbols.FirstOrDefault(s => s.Name == name) ?? throw new Xunit.Sdk.XunitException($"ld's output has no symbol {name} (map: {MapFile})");

    /// <summary>The 8-byte little-endian words of a PROGBITS section.</summary>
    public ulong[] Quads(string section)
    {
        var bytes = Section(section).Bytes;
        return Enumerable.Range(0, bytes.Length / 8).Select(i => BitConverter.ToUInt64(bytes, i * 8)).ToArray();
    }
}

/// <summary>
/// The correctness oracle for <c>ukl-link link</c>: links the same inputs with GNU ld and the same linker script, against
/// the kernel's symbols:
/// <code>ld -static --eh-frame-hdr -T SCRIPT -Map MAP -o OUT INPUTS... --just-symbols=VMLINUX</code>
/// with <c>--start-group</c> before the first archive and <c>--end-group</c> after the last, which is how ukl-link
/// searches archives (inputs in order, all archives again at the last one). The kernel comes last, as in ukl-link's
/// resolution (application definitions first, the kernel's only for what is still undefined); ld also cannot create
/// .got.plt for <c>_GLOBAL_OFFSET_TABLE_</c> when a --just-symbols file is its first input, and the kernel's symbols
/// are the last ld adds to its symbol table, whose order ukl-link reproduces.
/// </summary>
public static class LdOracle
{
    private static readonly ConcurrentDictionary<string, HashSet<(string, ulong)>> KernelSymbolCache = new();

    public static OracleLink Link(string kernel, IReadOnlyList<string> inputs, string? script = null)
    {
        script ??= RepositoryPaths.DefaultScript;
        int first = -1, last = -1;
        for (int i = 0; i < inputs.Count; i++)
            if (inputs[i].EndsWith(".a", StringComparison.Ordinal))
            {
                first = first < 0 ? i : first;
                last = i;
            }
        var args = new List<string>();
        for (int i = 0; i < inputs.Count; i++)
        {
            if (i == first)
                args.Add("--start-group");
            args.Add(Quote(inputs[i]));
            if (i == last)
                args.Add("--end-group");
        }

        string dir = Toolchain.NewWorkDirectory();
        string output = Path.Combine(dir, "ld.out");
        string map = Path.Combine(dir, "ld.map");
        string command = $"ld -static --eh-frame-hdr -T {Quote(script)} -Map {Quote(map)} -o {Quote(output)} {string.Join(' ', args)} --just-symbols={Quote(Weakened(kernel))}";
        Toolchain.Run(command, dir);
        return Read(output, map, command, KernelSymbols(kernel));
    }

    private static OracleLink Read(string path, string map, string command, HashSet<(string, ulong)> kernelSymbols)
    {
        using var elf = ELFReader.Load<ulong>(path);
        const uint PT_TLS = 7;
        var tlsSegment = elf.Segments.Where(p => (uint)p.Type == PT_TLS)
            .Select(p => new OracleTls(p.Address, (ulong)p.FileSize, p.Size, p.Alignment)).SingleOrDefault();
        var sections = new List<OracleSection>();
        foreach (var s in elf.Sections)
        {
            if ((s.Flags & SectionFlags.Allocatable) == 0)
                continue;
            bool noBits = s.Type == SectionType.NoBits;
            bool tls = ((ulong)s.Flags & 0x400) != 0; // SHF_TLS
            sections.Add(new OracleSection(s.Name, s.LoadAddress, s.Size, s.Alignment, noBits, tls, noBits ? [] : s.GetContents()));
        }

        var symbols = new List<OracleSymbol>();
        var symtab = (SymbolTable<ulong>)elf.GetSection(".symtab");
        foreach (var e in symtab.Entries)
        {
            if (e.Name.Length == 0 || e.Type is SymbolType.Section or SymbolType.File)
                continue;
            bool absolute = e.PointedSectionIndex == 0xfff1; // SHN_ABS
            if (absolute && kernelSymbols.Contains((e.Name, e.Value)))
                continue; // copied from the kernel by --just-symbols
            string? section = e.IsPointedIndexSpecial ? null : e.PointedSection?.Name;
            symbols.Add(new OracleSymbol(e.Name, e.Value, e.Size, e.Type, e.Binding, e.Visibility, section));
        }
        return new OracleLink(path, map, command, sections, symbols, elf.EntryPoint, tlsSegment);
    }

    /// <summary>
    /// The kernel with every global symbol made weak (objcopy --weaken), cached per kernel. ukl-link binds a name the
    /// application defines to the application's definition even when it is weak and the kernel has a strong one
    /// (glibc's weak vsnprintf alias must not become the kernel's vsnprintf); ld would take the kernel's strong
    /// definition over a weak one, unless the kernel's are weak too. Archive members are pulled before ld reads the
    /// kernel, and the names it adds to its symbol table are the same, so nothing else changes.
    /// </summary>
    public static string Weakened(string kernel) => WeakenedCache.GetOrAdd(kernel, path =>
    {
        var info = new FileInfo(path);
        string key = $"{Path.GetFullPath(path)}\0{info.Length}\0{info.LastWriteTimeUtc.Ticks}";
        return Toolchain.Build(key, ".key", "vmlinux-weak", (src, output) => $"objcopy --weaken {Quote(path)} {Quote(output)}");
    });

    private static readonly ConcurrentDictionary<string, string> WeakenedCache = new();

    /// <summary>Every (name, value) in the kernel's .symtab.</summary>
    public static HashSet<(string, ulong)> KernelSymbols(string kernel) => KernelSymbolCache.GetOrAdd(kernel, path =>
    {
        using var elf = ELFReader.Load<ulong>(path);
        var symtab = (SymbolTable<ulong>)elf.GetSection(".symtab");
        return symtab.Entries.Where(e => e.Name.Length > 0).Select(e => (e.Name, e.Value)).ToHashSet();
    });

    private static string Quote(string path) => "'" + path.Replace("'", "'\\''") + "'";
}
