using UklLink.Tests.Support;
using Xunit;

namespace UklLink.Tests.Link;

/// <summary>
/// ukl-link against GNU ld: each corpus case is linked by both with the same script and kernel, and ukl-link's vmlinux
/// must hold ld's bytes at ld's addresses and ld's symbol values (<see cref="LinkComparer"/>). The ld side alone is
/// checked in <see cref="LdOracleTests"/>.
/// </summary>
public class LinkDifferentialTests
{
    /// <summary>Links with ukl-link and GNU ld and compares; returns ukl-link's output path.</summary>
    public static string Check(Func<TestKernel, LinkCase> corpusCase, TestKernel kernel, bool passScript = true, bool rewrite = true)
    {
        var c = corpusCase(kernel);
        var expected = LdOracle.Link(kernel.Vmlinux, c.Inputs);
        string dir = Toolchain.NewWorkDirectory();
        string output = Path.Combine(dir, "vmlinux");
        var args = new List<string> { "link", "--kernel", kernel.Vmlinux, "-o", output, "--map", Path.Combine(dir, "ukl-link.map") };
        if (passScript)
            args.AddRange(["--script", RepositoryPaths.DefaultScript]);
        if (!rewrite)
            args.Add("--no-syscall-rewrite"); // ld does not rewrite syscall sites
        args.AddRange(c.Inputs);
        var r = Cli.Run(args.ToArray());
        Assert.True(r.ExitCode == 0, $"ukl-link link failed for {c.Name} with {r.ExitCode}:\n{r.Stderr}{r.Stdout}");
        LinkComparer.AssertSameAs(expected, output, kernel.Vmlinux);
        return output;
    }

    private static void Fake(Func<TestKernel, LinkCase> corpusCase) => Check(corpusCase, TestKernel.Fake);

    [Fact] public void ManyFunctions() => Fake(LinkCorpus.ManyFunctions);
    [Fact] public void SwitchTables() => Fake(LinkCorpus.SwitchTables);
    [Fact] public void FunctionPointerTables() => Fake(LinkCorpus.FunctionPointerTables);
    [Fact] public void MergedStrings() => Fake(LinkCorpus.MergedStrings);
    [Fact] public void Tls() => Fake(LinkCorpus.Tls);
    [Fact] public void WeakAndHidden() => Fake(LinkCorpus.WeakAndHidden);
    [Fact] public void CommonOnePerObject() => Fake(LinkCorpus.CommonOnePerObject);

    /// <summary>
    /// Several commons per object: ld orders commons inside an object's block by its symbol hash table (which depends on
    /// the kernel's symbols), ukl-link by the object's symbol table. Same blocks, same object order, same sizes and
    /// alignments; only the order inside a block may differ, so this compares the layout as sets.
    /// </summary>
    [Fact]
    public void CommonManyPerObject()
    {
        var kernel = TestKernel.Fake;
        var c = LinkCorpus.CommonManyPerObject(kernel);
        var expected = LdOracle.Link(kernel.Vmlinux, c.Inputs);
        string output = Path.Combine(Toolchain.NewWorkDirectory(), "vmlinux");
        var r = Cli.Run(new[] { "link", "--kernel", kernel.Vmlinux, "-o", output }.Concat(c.Inputs).ToArray());
        Assert.True(r.ExitCode == 0, r.Stderr);
        using var elf = ELFSharp.ELF.ELFReader.Load(output);
        var ours = ((ELFSharp.ELF.Sections.ISymbolTable)elf.GetSection(".symtab")).Entries
            .Cast<ELFSharp.ELF.Sections.SymbolEntry<ulong>>().GroupBy(e => e.Name).ToDictionary(g => g.Key, g => g.Last());
        string[][] blocks = { new[] { "ca_int", "ca_char", "ca_longs", "ca_big", "ca_short" }, new[] { "cb_char", "cb_int", "cb_double", "c_dup" } };
        Assert.True(blocks[0].Max(n => ours[n].Value) < blocks[1].Min(n => ours[n].Value), "the first object's block comes first");
        foreach (var block in blocks)
        {
            var ldExtent = (block.Min(n => expected.Symbol(n).Value), block.Max(n => expected.Symbol(n).Value + expected.Symbol(n).Size));
            var ourExtent = (block.Min(n => ours[n].Value), block.Max(n => ours[n].Value + ours[n].Size));
            Assert.Equal(ldExtent.Item1, ourExtent.Item1);
            foreach (var n in block)
            {
                Assert.Equal(expected.Symbol(n).Size, ours[n].Size);
                Assert.InRange(ours[n].Value, ourExtent.Item1, ourExtent.Item2 - ours[n].Size);
            }
            // No two commons overlap.
            var spans = block.Select(n => (ours[n].Value, End: ours[n].Value + ours[n].Size)).OrderBy(x => x.Value).ToList();
            for (int i = 1; i < spans.Count; i++)
                Assert.True(spans[i].Value >= spans[i - 1].End);
        }
    }

    [Fact] public void ArchivesOnDemand() => Fake(LinkCorpus.ArchivesOnDemand);
    [Fact] public void ArchiveCycle() => Fake(LinkCorpus.ArchiveCycle);
    [Fact] public void CxxConstructorsAndExceptions() => Fake(LinkCorpus.CxxConstructorsAndExceptions);
    [Fact] public void FunctionAndDataSections() => Fake(LinkCorpus.FunctionAndDataSections);
    [Fact] public void PieAndPic() => Fake(LinkCorpus.PieAndPic);
    [Fact] public void GotEntries() => Fake(LinkCorpus.GotEntries);
    [Fact] public void SizeAndPc64() => Fake(LinkCorpus.SizeAndPc64);
    [Fact] public void ConstructorTables() => Fake(LinkCorpus.ConstructorTables);
    [Fact] public void UnwindTables() => Fake(LinkCorpus.UnwindTables);
    [Fact] public void MultiMegabyte() => Fake(LinkCorpus.MultiMegabyte);
    [Fact] public void Ifuncs() => Fake(LinkCorpus.Ifuncs);
    [Fact] public void InitFini() => Fake(LinkCorpus.InitFini);
    [Fact] public void StartStop() => Fake(LinkCorpus.StartStop);

    /// <summary>glibc's libc.a from crt1.o to crtn.o: IFUNCs (.iplt, .igot.plt, .rela.iplt), .init/.fini, .eh_frame_hdr.</summary>
    [Fact] public void GlibcProgram() => Check(LinkCorpus.GlibcProgram, TestKernel.FakeRedZoneSafe, rewrite: false);

    /// <summary>libstdc++.a, libm.a (an input script), __dso_handle from crtbeginS.o, exceptions through .eh_frame_hdr.</summary>
    [Fact] public void CxxProgram() => Check(LinkCorpus.CxxProgram, TestKernel.FakeRedZoneSafe, rewrite: false);

    /// <summary>
    /// A real C library: a printf program against Debian's musl built with the UKL flags (toolchain/build-musl),
    /// crt1.o + the program + libc.a, rewriting off (ld does not rewrite); dozens of archive members pulled.
    /// </summary>
    [Fact]
    public void MuslProgram()
    {
        string prefix = MuslBuild.Prefix("kernel");
        string program = Toolchain.CompileC("""
            #include <stdio.h>
            #include <string.h>
            #include <unistd.h>
            static __thread int calls;
            int main(int argc, char **argv)
            {
                char buf[64];
                calls++;
                snprintf(buf, sizeof buf, "%s %d %d", argc > 0 ? argv[0] : "?", (int)getpid(), calls);
                return (int)strlen(buf) + printf("%s\n", buf);
            }
            """, Toolchain.UklFlags + $" -nostdinc -isystem {prefix}/include", "musl_main");
        var kernel = TestKernel.Fake;
        var inputs = new[] { Path.Combine(prefix, "lib", "crt1.o"), program, Path.Combine(prefix, "lib", "libc.a") };
        CheckMusl(kernel, inputs);
        // musl-gcc -static's whole line: crti.o/crtn.o's .init/.fini and gcc's crtbeginS.o/crtendS.o around it.
        CheckMusl(kernel, [Path.Combine(prefix, "lib", "crt1.o"), Path.Combine(prefix, "lib", "crti.o"), LinkCorpus.GccFile("crtbeginS.o"), program,
            Path.Combine(prefix, "lib", "libc.a"), LinkCorpus.GccFile("libgcc.a"), LinkCorpus.GccFile("libgcc_eh.a"),
            LinkCorpus.GccFile("crtendS.o"), Path.Combine(prefix, "lib", "crtn.o")]);
    }

    private static void CheckMusl(TestKernel kernel, string[] inputs)
    {
        var expected = LdOracle.Link(kernel.Vmlinux, inputs);
        string output = Path.Combine(Toolchain.NewWorkDirectory(), "vmlinux");
        var r = Cli.Run(new[] { "link", "--kernel", kernel.Vmlinux, "-o", output, "--no-syscall-rewrite" }.Concat(inputs).ToArray());
        Assert.True(r.ExitCode == 0, r.Stderr);
        LinkComparer.AssertSameAs(expected, output, kernel.Vmlinux);
    }

    /// <summary>Without --script ukl-link uses linker-scripts/ukl-app.ld, the script ld gets.</summary>
    [Fact] public void DefaultScriptWhenNoneIsGiven() => Check(LinkCorpus.ManyFunctions, TestKernel.Fake, passScript: false);

    /// <summary>Against the real reference kernel (its symbol names and ~30k kernel symbols), when it is cached.</summary>
    [SkippableFact]
    public void ReferenceKernel()
    {
        // ./test builds the kernel first, so this runs there; a bare `dotnet test` on a fresh machine reports it skipped.
        Skip.If(TestKernel.Reference is null, TestKernel.NotBuilt);
        var kernel = TestKernel.Reference!;
        foreach (var corpusCase in new Func<TestKernel, LinkCase>[] { LinkCorpus.ManyFunctions, LinkCorpus.PieAndPic, LinkCorpus.Tls, LinkCorpus.GotEntries })
            Check(corpusCase, kernel);
        // ld orders IFUNC and GOT entries by its symbol table, which also holds the kernel's ~12000 global symbols.
        foreach (var corpusCase in new Func<TestKernel, LinkCase>[] { LinkCorpus.Ifuncs, LinkCorpus.GlibcProgram, LinkCorpus.CxxProgram })
            Check(corpusCase, kernel, rewrite: false);
    }
}
