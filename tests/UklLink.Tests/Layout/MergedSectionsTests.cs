using UklLink.Inputs;
using UklLink.Layout;
using UklLink.Tests.Support;
using Xunit;
using static UklLink.Inputs.ElfConstants;

namespace UklLink.Tests.Layout;

/// <summary>SHF_MERGE sections against GNU ld: section bytes and every reference into them must come out the same.</summary>
public sealed class MergedSectionsTests
{
    // Three objects covering: duplicates across objects, suffix folding, empty strings, a string without terminator,
    // str1.1 vs str1.8 (never merged together), a duplicate needing more alignment than the first copy (it moves to
    // the later object), a section left empty (excluded), cst4/cst8/cst16, 2-byte strings, a merge section with a
    // relocation and one whose alignment exceeds its entry size (both left alone), and references of every kind:
    // section symbol + addend, local labels gas keeps (nonzero addend), a global, and PC-relative ones.
    private const string M1 = """
        	.section .rodata.str1.1,"aMS",@progbits,1
        .LC0:	.string "hello"
        .LC1:	.string "world"
        	.string ""
        .LC2:	.string "abc"
        	.globl g1
        g1:	.string "shared"
        	.section .rodata.str1.8,"aMS",@progbits,1
        	.align 8
        .LD0:	.string "a long string that is aligned"
        	.align 8
        .LD1:	.string "eight chars"
        	.align 4
        .LD2:	.string "tail"
        	.section .rodata.cst8,"aM",@progbits,8
        	.align 8
        .LK0:	.quad 0x1122334455667788
        	.quad 42
        	.section .rodata.cst16,"aM",@progbits,16
        	.align 16
        .LQ0:	.quad 1, 2
        	.section .rodata.str2.2,"aMS",@progbits,2
        	.align 2
        .LW0:	.string16 "wide"
        	.section .rodata,"a"
        	.quad 7
        	.data
        	.quad .LC0
        	.quad .LC1+2
        	.quad .LC2
        	.quad g1
        	.quad .LD1
        	.quad .LD2
        	.quad .LK0+8
        	.quad .LQ0
        	.quad .LW0+2
        	.quad .rodata.str1.1+7
        	.long .LC1-4-.
        	.long .rodata.str1.1+2-.
        	.quad .LD2+5
        """;

    private const string M2 = """
        	.section .rodata.str1.1,"aMS",@progbits,1
        .LC0:	.string "say hello"
        .LC1:	.string "world"
        .LC2:	.string "bc"
        	.string ""
        .LC3:	.string "shared"
        	.section .rodata.str1.8,"aMS",@progbits,1
        	.align 8
        .LD0:	.string "eight chars"
        	.align 8
        .LD1:	.string "tail"
        	.section .rodata.cst8,"aM",@progbits,8
        	.align 8
        .LK0:	.quad 42
        	.quad 43
        	.section .rodata.cst16,"aM",@progbits,16
        	.align 16
        .LQ0:	.quad 3, 4
        	.quad 1, 2
        	.section .rodata.str2.2,"aMS",@progbits,2
        	.align 2
        .LW0:	.string16 "de"
        	.string16 "wider"
        	.section .rodata.cst4,"aM",@progbits,4
        	.align 8
        .LF0:	.long 5
        	.long 6
        	.data
        	.quad .LC0+4
        	.quad .LC1
        	.quad .LC2
        	.quad .LC3
        	.quad g1
        	.quad .LD0
        	.quad .LD1+1
        	.quad .LK0
        	.quad .LK0+8
        	.quad .LQ0+16
        	.quad .LW0
        	.quad .LF0+4
        	.quad .rodata.str1.8+16
        	.quad .rodata.str1.8+13
        	.long .LC2-4-.
        """;

    private const string M3 = """
        	.section .rodata.str1.8,"aMS",@progbits,1
        	.align 8
        .LD0:	.string "eight chars"
        	.section .rodata.str1.1,"aMS",@progbits,1
        .LC0:	.string "o"
        .LC1:	.string "hello"
        .LC2:	.string "new one"
        	.ascii "noterm"
        	.section .rodata.cst8,"aM",@progbits,8
        	.align 8
        .LK0:	.quad g1
        	.quad 42
        	.section .rodata.cst4,"aM",@progbits,4
        	.align 4
        .LF0:	.long 5
        	.long 9
        	.data
        	.quad .LC0
        	.quad .LC1+3
        	.quad .LC2
        	.quad .LD0
        	.quad .LK0
        	.quad .LF0+4
        	.quad .rodata.str1.1+14
        	.quad .rodata.str1.1+20
        	.quad .rodata.str1.8+12
        """;

    private const string RodataPatterns = ".rodata .rodata.*";

    [Fact]
    public void HandWrittenSectionsMatchLdBytesAndReferences()
    {
        var objects = new[] { Toolchain.Assemble(M1, "m1"), Toolchain.Assemble(M2, "m2"), Toolchain.Assemble(M3, "m3") };
        var result = CheckAgainstLd(objects, (".rodata", RodataPatterns), (".data", ".data"));

        // Spot checks of rules the byte comparison relies on.
        var m1 = result.Objects[0];
        var m2 = result.Objects[1];
        var m3 = result.Objects[2];
        var merged = result.Merged;
        // "hello" is a suffix of m2's "say hello": it moves there.
        var hello = merged.Map(m1.FindSection(".rodata.str1.1")!, 0);
        Assert.Same(m2.FindSection(".rodata.str1.1"), hello.Section);
        Assert.Equal(4UL, hello.Offset);
        // m1's "tail" only had 4-byte alignment; m2's 8-aligned copy replaces it.
        var tail = merged.Map(m1.FindSection(".rodata.str1.8")!, 44);
        Assert.Same(m2.FindSection(".rodata.str1.8"), tail.Section);
        // m3's only 8-aligned string is a duplicate: its section is excluded.
        Assert.True(merged.IsExcluded(m3.FindSection(".rodata.str1.8")!));
        Assert.Equal(0UL, merged.SizeOf(m3.FindSection(".rodata.str1.8")!));
        // Not merged: a merge section with relocations, and cst4 aligned to 8.
        Assert.False(merged.IsMerged(m3.FindSection(".rodata.cst8")!));
        Assert.False(merged.IsMerged(m2.FindSection(".rodata.cst4")!));
        Assert.True(merged.IsMerged(m3.FindSection(".rodata.cst4")!));
        // str1.1 and str1.8 are different groups.
        Assert.NotSame(merged.GroupOf(m1.FindSection(".rodata.str1.1")!), merged.GroupOf(m1.FindSection(".rodata.str1.8")!));
    }

    [Fact]
    public void ScriptOrderDifferentFromInputOrderKeepsEntriesWithTheFirstInput()
    {
        // str1.8 sections placed before str1.1 ones, and m3 before the others: entries still belong to the member
        // that was first in input order; each member stays where the script puts it.
        var objects = new[] { Toolchain.Assemble(M1, "m1"), Toolchain.Assemble(M2, "m2"), Toolchain.Assemble(M3, "m3") };
        CheckAgainstLd(objects, (".rodata", ".rodata.str1.8 .rodata.cst*"), (".rodata2", ".rodata.str* .rodata"), (".data", ".data"));
    }

    [Fact]
    public void CompiledCStringsAndConstantsMatchLd()
    {
        const string a = """
            extern void use(const char *);
            extern void used(double);
            void fa(void) { use("hello"); use("world"); use("a long string that is long enough to be aligned"); use("llo"); }
            void da(double x) { used(x * 3.25 + 1.5); }
            const char *pa = "pointer from data";
            """;
        const string b = """
            extern void use(const char *);
            extern void used(double);
            void fb(void) { use("world"); use("say hello"); use("another long string which is long enough"); use("abc"); }
            void db(double x) { used(x * 3.25 + 2.5); }
            const char *pb = "from data";
            """;
        const string c = """
            extern void use(const char *);
            extern void used(double);
            void fc(void) { use("a long string that is long enough to be aligned"); use("bc"); use(""); use("%s: %d\n"); }
            void dc(double x) { used(x * 1.5 - 2.5); }
            const char *pc = "data";
            """;
        var objects = new[]
        {
            Toolchain.CompileC(a, Toolchain.UklFlags, "ca"),
            Toolchain.CompileC(b, Toolchain.UklFlags, "cb"),
            Toolchain.CompileC(c, Toolchain.UklFlags, "cc"),
        };
        var result = CheckAgainstLd(objects, (".rodata", RodataPatterns), (".data", ".data .data.*"), (".text", ".text .text.*"));
        Assert.Contains(result.Objects.SelectMany(o => o.AllSections), s => s.Name == ".rodata.str1.8" && result.Merged.IsMerged(s));
    }

    [Fact]
    public void ReferencesPastTheEndMapToTheSectionEnd()
    {
        var objects = new[] { Toolchain.Assemble(M1, "m1"), Toolchain.Assemble(M2, "m2") };
        using var set = InputSet.Load(objects);
        var all = set.AllObjects.ToList();
        var merged = MergedSections.Build(all.SelectMany(o => o.AllSections));
        var s1 = all[0].FindSection(".rodata.str1.1")!;
        var end = merged.Map(s1, s1.Size);
        Assert.Same(s1, end.Section);
        Assert.Equal(merged.SizeOf(s1), end.Offset);
        var notMerged = all[0].FindSection(".rodata")!;
        Assert.Equal(new MergedLocation(notMerged, 5), merged.Map(notMerged, 5));
        Assert.Equal(notMerged.Data, merged.ContentsOf(notMerged));
    }

    [Fact]
    public void SectionsOfDifferentOutputSectionsNeverShareEntries()
    {
        var objects = new[] { Toolchain.Assemble(M1, "m1"), Toolchain.Assemble(M2, "m2") };
        using var set = InputSet.Load(objects);
        var all = set.AllObjects.ToList();
        var merged = MergedSections.Build(all.SelectMany(o => o.AllSections), s => s.File == all[0] ? "first" : "second");
        var s2 = all[1].FindSection(".rodata.str1.1")!;
        Assert.Equal(new MergedLocation(s2, 10), merged.Map(s2, 10)); // m2's "world" stays in m2
        Assert.NotSame(merged.GroupOf(all[0].FindSection(".rodata.str1.1")!), merged.GroupOf(s2));
        Assert.Equal("second", merged.GroupOf(s2)!.Output);
    }

    internal sealed record CheckResult(List<ObjectFile> Objects, MergedSections Merged, LdReference Ld);

    /// <summary>
    /// Links the objects with ld and checks, for each output section, that placing our merged contents gives ld's
    /// bytes once the relocations of the non-merged sections are applied through <see cref="MergedSections.MapReference"/>.
    /// </summary>
    private static CheckResult CheckAgainstLd(string[] objectPaths, params (string Output, string Patterns)[] layout)
    {
        const ulong externals = 0xffffffff82000000;
        var defsyms = new Dictionary<string, ulong> { ["use"] = externals, ["used"] = externals + 0x100 };
        var ld = LdReference.Link(LdReference.Script(layout), objectPaths, defsyms);

        using var set = InputSet.Load(objectPaths);
        var objects = set.AllObjects.ToList();
        // One MergedSections for the whole link, keyed by output section; members in input order.
        var merged = MergedSections.Build(objects.SelectMany(o => o.AllSections), s => s.IsAlloc ? OutputOf(s, layout) : null);

        var placement = new SimplePlacement();
        foreach (var (output, patterns) in layout)
            placement.Place(objects, patterns, ld.Section(output).Address, _ => true, merged.SizeOf, merged.IsExcluded);

        var globals = objects.SelectMany(o => o.Symbols).Where(s => !s.IsLocal && s.IsDefined && s.Type != STT_SECTION)
            .ToDictionary(s => s.Name);

        foreach (var (output, _) in layout)
        {
            var (address, expected) = ld.Section(output);
            // Code sections are padded with NOPs between input sections; only the input sections are compared there.
            var actual = output == ".text" ? expected.ToArray() : new byte[expected.Length];
            foreach (var (section, at) in placement.Addresses)
            {
                if (OutputOf(section, layout) != output)
                    continue;
                var bytes = merged.ContentsOf(section).ToArray();
                foreach (var r in section.Relocations)
                {
                    var sym = r.Symbol.IsUndefined && globals.TryGetValue(r.Symbol.Name, out var def) ? def : r.Symbol;
                    ulong s;
                    long addend = r.Addend;
                    if (sym.IsUndefined)
                        s = defsyms[sym.Name];
                    else if (merged.MapReference(sym, r.Addend) is { } m)
                    {
                        s = placement[m.Location.Section] + m.Location.Offset;
                        addend = m.Addend;
                    }
                    else
                        s = placement[sym.Section!] + sym.Value;
                    TestRelocator.Apply(bytes, r.Offset, r.Type, s, addend, at + r.Offset);
                }
                bytes.CopyTo(actual, (int)(at - address));
            }
            Assert.True(expected.AsSpan().SequenceEqual(actual),
                $"{output} differs from ld's:\nld:   {Convert.ToHexString(expected)}\nours: {Convert.ToHexString(actual)}\n{ld.Map}");
        }

        // Symbols defined in merge sections (the global g1) land where ld put them.
        foreach (var g in globals.Values.Where(g => g.Section is { } s && merged.IsMerged(s)))
        {
            var m = merged.MapReference(g, 0)!.Value;
            Assert.Equal(ld.Symbol(g.Name), placement[m.Location.Section] + m.Location.Offset);
        }
        return new CheckResult(objects, merged, ld);
    }

    private static string? OutputOf(InputSection s, (string Output, string Patterns)[] layout) =>
        layout.FirstOrDefault(l => SimplePlacement.Matches(s.Name, l.Patterns)).Output;
}
