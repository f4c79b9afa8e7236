using UklLink.Tests.Support;
using Xunit;

namespace UklLink.Tests;

/// <summary>Archives of every flavour, partial links, and symbol resolution against a kernel.</summary>
public class ArchiveAndResolutionTests
{
    private static string Obj(string source, string name, string flags = Toolchain.UklFlags) => Toolchain.CompileC(source, flags, name);

    private static string Archive(string flags, params string[] members)
    {
        string dir = Toolchain.NewWorkDirectory();
        string lib = Path.Combine(dir, "lib.a");
        Toolchain.Run($"ar {flags} {lib} {string.Join(' ', members)}");
        return lib;
    }

    [Theory]
    [InlineData("rcs")]  // GNU format with symbol index
    [InlineData("rcS")]  // no symbol index
    [InlineData("rcsT")] // thin archive
    public void ArchiveMembersAreCheckedAndNamedLikeLinkersDo(string arFlags)
    {
        var good = Obj("long good(void) { return 1; }", "good");
        var bad = Obj("static long v; long *bad(void) { return &v; }", "bad", Toolchain.SmallModelFlags + " -mno-red-zone");
        var lib = Archive(arFlags, good, bad);
        var r = Cli.Run("validate", lib);
        Assert.Equal(1, r.ExitCode);
        var line = Assert.Single(r.StdoutLines, l => l.Contains("UKL001"));
        // Thin archives store the member's path as its name; ld prints that path too.
        Assert.StartsWith($"{lib}(", line);
        Assert.Contains("bad.o):(.text+0x", line);
        Assert.DoesNotContain("good.o", r.Stdout);
    }

    [Fact]
    public void ThinArchiveHeaderIsReallyThin()
    {
        var good = Obj("long good(void) { return 1; }", "good");
        var lib = Archive("rcsT", good);
        Assert.StartsWith("!<thin>", File.ReadAllText(lib));
        Assert.Equal(0, Cli.Run("validate", lib).ExitCode);
    }

    [Fact]
    public void PartiallyLinkedObjectIsAccepted()
    {
        var a = Obj("long a(void) { return 1; }", "a");
        var b = Obj("extern long a(void); long b(void) { return a() + 1; }", "b");
        string dir = Toolchain.NewWorkDirectory();
        string combined = Path.Combine(dir, "app.o");
        Toolchain.Run($"ld -r {a} {b} -o {combined}");
        var r = Cli.Run("validate", "--kernel", FakeKernel.Build(), combined);
        Assert.Equal(0, r.ExitCode);
    }

    [Fact]
    public void UndefinedSymbolsAreReportedWithTheirReferenceSites()
    {
        var main = Obj("extern long missing(void); extern long printk_like(void); long run(void) { return missing() + printk_like(); }", "main");
        var kernel = FakeKernel.Build(1, "printk_like");
        var r = Cli.Run("validate", "--kernel", kernel, main);
        Assert.Equal(1, r.ExitCode);
        var line = Assert.Single(r.StdoutLines, l => l.Contains("UKL010"));
        Assert.Contains("undefined symbol: missing", line);
        Assert.StartsWith($"{main}:(.text+0x", line);
        Assert.DoesNotContain("printk_like", line); // the kernel defines it
    }

    [Fact]
    public void WithoutKernelNothingIsCalledUndefined()
    {
        var main = Obj("extern long missing(void); long run(void) { return missing(); }", "main");
        Assert.Equal(0, Cli.Run("validate", main).ExitCode);
    }

    [Fact]
    public void ArchiveMembersArePulledOnDemandLikeLd()
    {
        var main = Obj("extern long helper(void); long run(void) { return helper(); }", "main");
        var helper = Obj("long helper(void) { return 2; }", "helper");
        // Never pulled in: its undefined reference must not be reported.
        var unused = Obj("extern long nowhere(void); long unused(void) { return nowhere(); }", "unused");
        var lib = Archive("rcs", helper, unused);
        var kernel = FakeKernel.Build();
        Assert.Equal(0, Cli.Run("validate", "--kernel", kernel, main, lib).ExitCode);

        // Pulled in because main needs it: now its reference to `nowhere` is undefined.
        var main2 = Obj("extern long unused(void); long run(void) { return unused(); }", "main2");
        var r = Cli.Run("validate", "--kernel", kernel, main2, lib);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains(r.StdoutLines, l => l.Contains("UKL010") && l.Contains("undefined symbol: nowhere") && l.StartsWith($"{lib}(unused.o)"));
    }

    [Fact]
    public void WeakUndefinedReferencesAreNotErrors()
    {
        var main = Obj("extern long optional(void) __attribute__((weak)); long run(void) { return optional ? optional() : 0; }", "main");
        Assert.Equal(0, Cli.Run("validate", "--kernel", FakeKernel.Build(), main).ExitCode);
    }

    [Fact]
    public void ScriptDefinedSymbolsAreNotUndefined()
    {
        var main = Obj("extern void (*__init_array_start[])(void), (*__init_array_end[])(void); long n(void) { return __init_array_end - __init_array_start; }", "main");
        Assert.Equal(0, Cli.Run("validate", "--kernel", FakeKernel.Build(), main).ExitCode);
    }

    [Fact]
    public void KernelDescriptorAndAbiVersionAreReported()
    {
        var main = Obj("long run(void) { return 1; }", "main");
        var r = Cli.Run("validate", "--kernel", FakeKernel.Build(1), main);
        Assert.Equal(0, r.ExitCode);
        var line = Assert.Single(r.StdoutLines, l => l.Contains("UKL011"));
        Assert.Contains("slot ABI v1 (text 4 KiB, rodata 4 KiB, data 8 KiB, bss 16 KiB; no application linked; features: none)", line);
    }

    [Fact]
    public void KernelWithoutDescriptorOrWithAnotherAbiIsAnError()
    {
        var main = Obj("long run(void) { return 1; }", "main");
        var plain = Cli.Run("validate", "--kernel", FakeKernel.Build(abiVersion: null), main);
        Assert.Equal(1, plain.ExitCode);
        Assert.Contains(plain.StdoutLines, l => l.Contains("error UKL012") && l.Contains("CONFIG_UNIKERNEL_LINUX"));

        var future = Cli.Run("validate", "--kernel", FakeKernel.Build(abiVersion: 7), main);
        Assert.Equal(1, future.ExitCode);
        Assert.Contains(future.StdoutLines, l => l.Contains("error UKL012") && l.Contains("slot ABI version 7"));
    }
}
