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
    public static string Check(Func<TestKernel, LinkCase> corpusCase, TestKernel kernel, bool passScript = true)
    {
        var c = corpusCase(kernel);
        var expected = LdOracle.Link(kernel.Vmlinux, c.Inputs);
        string dir = Toolchain.NewWorkDirectory();
        string output = Path.Combine(dir, "vmlinux");
        var args = new List<string> { "link", "--kernel", kernel.Vmlinux, "-o", output, "--map", Path.Combine(dir, "ukl-link.map") };
        if (passScript)
            args.AddRange(["--script", RepositoryPaths.DefaultScript]);
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

    /// <summary>Needs ld's symbol-hash-table order for commons (LdOracleTests.CommonManyPerObject).</summary>
    [Fact] public void CommonManyPerObject() => Fake(LinkCorpus.CommonManyPerObject);

    [Fact] public void ArchivesOnDemand() => Fake(LinkCorpus.ArchivesOnDemand);
    [Fact] public void ArchiveCycle() => Fake(LinkCorpus.ArchiveCycle);
    [Fact] public void CxxConstructorsAndExceptions() => Fake(LinkCorpus.CxxConstructorsAndExceptions);
    [Fact] public void FunctionAndDataSections() => Fake(LinkCorpus.FunctionAndDataSections);
    [Fact] public void PieAndPic() => Fake(LinkCorpus.PieAndPic);
    [Fact] public void GotEntries() => Fake(LinkCorpus.GotEntries);
    [Fact] public void ConstructorTables() => Fake(LinkCorpus.ConstructorTables);
    [Fact] public void UnwindTables() => Fake(LinkCorpus.UnwindTables);
    [Fact] public void MultiMegabyte() => Fake(LinkCorpus.MultiMegabyte);

    /// <summary>Without --script ukl-link uses linker-scripts/ukl-app.ld, the script ld gets.</summary>
    [Fact] public void DefaultScriptWhenNoneIsGiven() => Check(LinkCorpus.ManyFunctions, TestKernel.Fake, passScript: false);

    /// <summary>Against the real reference kernel (its symbol names and ~30k kernel symbols), when it is cached.</summary>
    [Fact]
    public void ReferenceKernel()
    {
        if (TestKernel.Reference is not { } kernel)
            return; // kernel/build has not run on this machine; ./test builds it first
        foreach (var corpusCase in new Func<TestKernel, LinkCase>[] { LinkCorpus.ManyFunctions, LinkCorpus.PieAndPic, LinkCorpus.Tls, LinkCorpus.GotEntries })
            Check(corpusCase, kernel);
    }
}
