using UklLink.Inputs;
using UklLink.Layout;
using UklLink.Tests.Support;
using Xunit;
using static UklLink.Inputs.ElfConstants;

namespace UklLink.Tests.Layout;

/// <summary>.eh_frame editing against GNU ld: the laid-out, relocated output section must equal ld's byte for byte.</summary>
public sealed class EhFrameBuilderTests
{
    /// <summary>The UKL flags, but with unwind tables (as C++ or -fasynchronous-unwind-tables code has them).</summary>
    private const string UnwindFlags = "-O2 -mcmodel=kernel -mno-red-zone -fno-pic -fno-pie -fno-stack-protector -ffreestanding";

    private const string CA = """
        extern void use(const char *);
        void fa(void) { use("a"); use("b"); }
        int ga(int x) { return x * 3 + 1; }
        """;

    private const string CB = """
        extern void use(const char *);
        void fb(void) { use("c"); use("d"); }
        static int hb(int x) { use("e"); return x; }
        int gb(int x) { return hb(x) + hb(x + 1); }
        """;

    // A try/catch (personality and LSDA) and a non-inlined inline function (a COMDAT group with its own
    // .gcc_except_table part) defined in both C++ objects: ld keeps the first copy and drops the second one's FDE.
    private const string CC = """
        extern void g(int);
        struct S { ~S(); };
        __attribute__((noinline)) inline int inl(int x) { S s; g(x); return x + 1; }
        int fc(int x) { try { g(x); } catch (int e) { return e; } return inl(x); }
        """;

    private const string CD = """
        extern void g(int);
        struct S { ~S(); };
        __attribute__((noinline)) inline int inl(int x) { S s; g(x); return x + 1; }
        int fd(int x) { S s; g(x); return inl(x * 2); }
        """;

    // Hand-written: a CIE that cannot merge (code alignment 4), an FDE against a global of this object, an FDE with a
    // literal zero address range (dropped), and a terminator that is not in the last section (dropped).
    private const string E1 = """
        	.text
        	.globl e1f
        e1f:	nop
        	nop
        	ret
        .Le1g:	ret
        	.section .eh_frame,"a",@progbits
        	.p2align 3
        .Lcie:	.long .Lcie_end - .Lcie_start
        .Lcie_start:
        	.long 0
        	.byte 1
        	.string "zR"
        	.uleb128 4
        	.sleb128 -8
        	.byte 16
        	.uleb128 1
        	.byte 0x1b
        	.byte 0x0c, 7, 8
        	.byte 0x90, 1
        	.p2align 2
        .Lcie_end:
        	.long .Lfde1_end - .Lfde1_start
        .Lfde1_start:
        	.long .Lfde1_start - .Lcie
        	.long e1f - .
        	.long 3
        	.uleb128 0
        	.byte 0x41, 0x0e, 16
        	.p2align 3
        .Lfde1_end:
        	.long .Lfde2_end - .Lfde2_start
        .Lfde2_start:
        	.long .Lfde2_start - .Lcie
        	.long .Le1g - .
        	.long 0
        	.uleb128 0
        	.p2align 2
        .Lfde2_end:
        	.long 0
        """;

    // An augmentation ld does not know: the section is copied as it is (relocated in place), only padded.
    private const string EX = """
        	.text
        .Lexf:	ret
        	.section .eh_frame,"a",@progbits
        	.p2align 3
        .Lcie:	.long .Lcie_end - .Lcie_start
        .Lcie_start:
        	.long 0
        	.byte 1
        	.string "zRX"
        	.uleb128 1
        	.sleb128 -8
        	.byte 16
        	.uleb128 1
        	.byte 0x1b
        	.byte 0x0c, 7, 8
        	.p2align 2
        .Lcie_end:
        	.long .Lfde_end - .Lfde_start
        .Lfde_start:
        	.long .Lfde_start - .Lcie
        	.long .Lexf - .
        	.long 1
        	.uleb128 0
        	.byte 0, 0, 0
        .Lfde_end:
        """;

    // A CIE nobody uses (dropped), a CIE byte-identical to gcc's (merged with the C objects'), and a CIE with 8-byte
    // absolute FDE addresses (its FDE is placed on 8 bytes, relocated with R_X86_64_64).
    private const string E2 = """
        	.text
        .Le2f:	ret
        	ret
        .Le2h:	ret
        	.section .eh_frame,"a",@progbits
        	.p2align 3
        .Lunused:
        	.long 0x14, 0
        	.byte 1, 'z', 'R', 0, 1, 0x78, 0x10, 1, 0x1b, 0x0c, 7, 16, 0x90, 1, 0, 0
        .Lgcc:	.long 0x14, 0
        	.byte 1, 'z', 'R', 0, 1, 0x78, 0x10, 1, 0x1b, 0x0c, 7, 8, 0x90, 1, 0, 0
        	.long .Lfde1_end - .Lfde1_start
        .Lfde1_start:
        	.long .Lfde1_start - .Lgcc
        	.long .Le2f - .
        	.long 2
        	.uleb128 0
        	.byte 0x41, 0x0e, 16, 0, 0, 0, 0, 0, 0, 0
        .Lfde1_end:
        .Labs:	.long .Labs_end - .Labs_start
        .Labs_start:
        	.long 0
        	.byte 1, 'z', 'R', 0, 1, 0x78, 0x10, 1, 0x00, 0x0c, 7, 8, 0x90, 1
        .Labs_end:
        	.long .Lfde2_end - .Lfde2_start
        .Lfde2_start:
        	.long .Lfde2_start - .Labs
        	.quad .Le2h
        	.quad 1
        	.uleb128 0
        	.byte 0, 0, 0
        .Lfde2_end:
        """;

    // crtend.o's shape: only the zero terminator. It stays (last section); the others get padded.
    private const string E3 = """
        	.section .eh_frame,"a",@progbits
        	.p2align 2
        	.long 0
        """;

    private static string C(string source, string name) => Toolchain.CompileC(source, UnwindFlags, name);

    private static string Cxx(string source, string name) =>
        Toolchain.Build(source, ".cc", name, (src, obj) => $"g++ {UnwindFlags} -c {src} -o {obj}");

    private static readonly (string, string)[] Layout =
    {
        (".rodata", ".rodata .rodata.*"),
        (".gcc_except_table", ".gcc_except_table .gcc_except_table.*"),
        (".eh_frame", ".eh_frame"),
        (".text", ".text .text.*"),
        (".data", ".data .bss"),
    };

    private static readonly Dictionary<string, ulong> Externals = new()
    {
        ["use"] = 0xffffffff82000000,
        ["_Z1gi"] = 0xffffffff82000100,
        ["_ZN1SD1Ev"] = 0xffffffff82000200,
        ["__gxx_personality_v0"] = 0xffffffff82000300,
        ["_Unwind_Resume"] = 0xffffffff82000400,
        ["__cxa_begin_catch"] = 0xffffffff82000500,
        ["__cxa_end_catch"] = 0xffffffff82000600,
        ["_ZTIi"] = 0xffffffff82000700,
    };

    [Fact]
    public void CAndCxxWithPersonalityLsdaAndComdatMatchLd()
    {
        var objects = new[] { C(CA, "ea"), Cxx(CC, "ec"), Cxx(CD, "ed"), C(CB, "eb") };
        var r = CheckAgainstLd(objects);
        var (a, c, d, b) = (r.Sections[0], r.Sections[1], r.Sections[2], r.Sections[3]);
        Assert.All(r.Layout.Sections, s => Assert.True(s.Parsed, s.ParseError));

        // Section sizes are those of ld's map (checked for every test); here the merged CIE and the dropped FDE
        // shrink d.o's section, and the last one is not padded.
        Assert.True(d.OutputSize < d.Section.Size);
        Assert.True(b.OutputSize < b.Section.Size);

        // The C++ CIEs (zPLR, same personality) merge; so do the C ones (zR).
        var dCie = d.Entries.Single(e => e.Kind == EhFrameEntryKind.Cie);
        Assert.True(dCie.Removed);
        Assert.Same(c.Entries.Single(e => e.Kind == EhFrameEntryKind.Cie), dCie.MergedInto);
        Assert.Same(a.Entries[0], b.Entries[0].MergedInto);

        // d.o's copy of the COMDAT function's FDE is dropped; c.o's stays.
        var dropped = d.Entries.Where(e => e.Kind == EhFrameEntryKind.Fde && e.Removed).ToList();
        Assert.Single(dropped);
        Assert.All(c.Entries.Where(e => e.Kind == EhFrameEntryKind.Fde), e => Assert.False(e.Removed));
        Assert.Null(r.Layout.MapRelocationOffset(d.Section, dropped[0].InputOffset + 8));

        // FDEs of d.o point back at c.o's CIE.
        Assert.All(d.Entries.Where(e => !e.Removed), e => Assert.Same(dCie.MergedInto, e.Cie));
    }

    [Fact]
    public void HandWrittenEdgeCasesMatchLd()
    {
        var objects = new[]
        {
            C(CA, "ea"), Toolchain.Assemble(E1, "e1"), Toolchain.Assemble(EX, "ex"), Toolchain.Assemble(E2, "e2"),
            C(CB, "eb"), Toolchain.Assemble(E3, "e3"),
        };
        var r = CheckAgainstLd(objects);
        var (e1, ex, e2, e3) = (r.Sections[1], r.Sections[2], r.Sections[3], r.Sections[5]);

        Assert.False(e1.Entries[0].Removed); // a CIE that differs stays
        Assert.Null(e1.Entries[0].MergedInto);
        Assert.True(e1.Entries[2].Removed);  // zero address range
        Assert.Equal(EhFrameEntryKind.Terminator, e1.Entries[3].Kind);
        Assert.True(e1.Entries[3].Removed);  // terminator not in the last section

        Assert.False(ex.Parsed);
        Assert.Contains("augmentation", ex.ParseError);
        Assert.Equal(0UL, ex.OutputSize % 8);

        Assert.True(e2.Entries[0].Removed);  // unused CIE
        Assert.Null(e2.Entries[0].MergedInto);
        Assert.Same(r.Sections[0].Entries[0], e2.Entries[1].MergedInto); // identical to gcc's CIE in the first object
        var abs = e2.Entries[4];
        Assert.Equal(0UL, abs.OutputOffset % 8);

        Assert.Equal(4UL, e3.OutputSize);
        Assert.False(e3.Entries[0].Removed);
    }

    [Fact]
    public void EmptyTrailingSectionsAreExcludedAndTheLastRealOneIsNotPadded()
    {
        const string empty = "\t.section .eh_frame,\"a\",@progbits\n\t.p2align 3\n";
        var objects = new[] { C(CA, "ea"), C(CB, "eb"), Toolchain.Assemble(empty, "e0") };
        var r = CheckAgainstLd(objects);
        Assert.True(r.Sections[2].Excluded);
        Assert.Equal(0UL, r.Sections[1].OutputSize % 4);
    }

    [Fact]
    public void TraditionalFormatLeavesEverythingAlone()
    {
        var objects = new[] { C(CA, "ea"), Cxx(CC, "ec"), Cxx(CD, "ed"), C(CB, "eb") };
        var r = CheckAgainstLd(objects, traditional: true);
        Assert.All(r.Layout.Sections, s => Assert.Equal(s.Section.Size, s.OutputSize));
    }

    /// <summary>Sizes of the input sections named <paramref name="name"/> in ld's -M output, by file.</summary>
    private static Dictionary<string, ulong> MapSizes(string map, string name)
    {
        var sizes = new Dictionary<string, ulong>();
        var pattern = new System.Text.RegularExpressions.Regex(
            $@"^ {System.Text.RegularExpressions.Regex.Escape(name)}\s+0x[0-9a-f]+\s+0x([0-9a-f]+) (\S+)$",
            System.Text.RegularExpressions.RegexOptions.Multiline);
        foreach (System.Text.RegularExpressions.Match m in pattern.Matches(map))
            sizes[m.Groups[2].Value] = Convert.ToUInt64(m.Groups[1].Value, 16);
        return sizes;
    }

    internal sealed record CheckResult(EhFrameLayout Layout, List<EhFrameSection> Sections, LdReference Ld);

    /// <summary>
    /// Links with ld, lays out .eh_frame with <see cref="EhFrameBuilder"/>, relocates it with the kept relocations at
    /// their new offsets, and compares with ld's .eh_frame.
    /// </summary>
    private static CheckResult CheckAgainstLd(string[] objectPaths, bool traditional = false)
    {
        var ld = LdReference.Link(LdReference.Script(Layout), objectPaths, Externals, traditional ? "--traditional-format " : "");
        using var set = InputSet.Load(objectPaths);
        var objects = set.AllObjects.ToList();
        var discarded = Comdat.Discarded(objects);
        bool IsLive(InputSection s) => !discarded.Contains(s);

        var globals = new Dictionary<string, InputSymbol>();
        foreach (var sym in objects.SelectMany(o => o.Symbols))
            if (!sym.IsLocal && sym.IsDefined && sym.Type != STT_SECTION && !globals.ContainsKey(sym.Name))
                globals[sym.Name] = sym;

        var ehSections = objects.SelectMany(o => o.AllSections).Where(s => s.Name == ".eh_frame").ToList();
        var layout = EhFrameBuilder.Build(ehSections, new EhFrameOptions
        {
            IsLive = IsLive,
            TraditionalFormat = traditional,
            ResolveGlobal = sym => globals.TryGetValue(sym.Name, out var def) ? new GlobalDefinition(true, def.Section)
                : Externals.ContainsKey(sym.Name) ? new GlobalDefinition(true, null) : new GlobalDefinition(false, null),
        });

        // Everything but .eh_frame is placed the plain way, from ld's output section addresses.
        var placement = new SimplePlacement();
        foreach (var (output, patterns) in Layout)
            if (output != ".eh_frame" && ld.HasSection(output))
                placement.Place(objects, patterns, ld.Section(output).Address, IsLive, s => s.Size, _ => false);

        // Input section sizes as ld's map prints them (excluded sections do not appear, or with size 0).
        var mapSizes = MapSizes(ld.Map, ".eh_frame");
        foreach (var sec in layout.Sections)
            Assert.Equal(mapSizes.GetValueOrDefault(sec.Section.File.Path), sec.Excluded ? 0 : sec.OutputSize);

        var (ehAddress, expected) = ld.Section(".eh_frame");
        var (offsets, size) = layout.ContiguousOffsets();
        Assert.Equal((ulong)expected.Length, size);
        var actual = new byte[size];
        foreach (var s in layout.Sections)
        {
            var bytes = layout.ContentsOf(s.Section, sec => offsets[sec]);
            ulong at = offsets[s.Section];
            foreach (var (rel, offset) in layout.RelocationsOf(s.Section))
            {
                var sym = rel.Symbol;
                if (sym.IsLocal && !IsLive(sym.Section!))
                    continue; // against a discarded COMDAT member (traditional format only): ld leaves the field 0
                ulong value = sym.IsLocal ? placement[sym.Section!] + sym.Value
                    : globals.TryGetValue(sym.Name, out var def) ? placement[def.Section!] + def.Value : Externals[sym.Name];
                long addend = rel.Addend;
                TestRelocator.Apply(bytes, offset, rel.Type, value, addend, ehAddress + at + offset);
            }
            bytes.CopyTo(actual, (int)at);
        }
        Assert.True(expected.AsSpan().SequenceEqual(actual),
            $".eh_frame differs from ld's:\nld:   {Convert.ToHexString(expected)}\nours: {Convert.ToHexString(actual)}\n{ld.Map}");
        return new CheckResult(layout, layout.Sections.ToList(), ld);
    }
}
