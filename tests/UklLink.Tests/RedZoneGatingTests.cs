using UklLink.Kernel;
using UklLink.Tests.Support;
using Xunit;

namespace UklLink.Tests;

/// <summary>
/// Red-zone use (UKL002) and objects compiled without -mno-red-zone (UKL003) are errors for a kernel that interrupts the
/// application on its own stack (slot ABI v1, or v2 without the event-stack feature) and fine for one that declares
/// the event stack; validate and link agree on which inputs count: link reports every object and pulled archive member
/// it includes, validate reports errors for exactly those and notes for archive members the link leaves out.
/// </summary>
public class RedZoneGatingTests
{
    // A leaf loop gcc keeps below %rsp at -O2 without -mno-red-zone (the volatile array lives in the red zone).
    private const string RedZoneLeaf = """
        unsigned red_sum(const unsigned char *s, unsigned n)
        {
            volatile unsigned char copy[64];
            unsigned sum = 0;
            for (unsigned i = 0; i < n && i < sizeof copy; i++) copy[i] = s[i];
            for (unsigned i = 0; i < n && i < sizeof copy; i++) sum = sum * 31 + copy[i];
            return sum;
        }
        """;

    private const string RedZoneFlags = "-O2 -g -mcmodel=kernel -fno-pic -fno-pie -fno-stack-protector -ffreestanding -fno-asynchronous-unwind-tables";

    private const string Main = """
        extern unsigned red_sum(const unsigned char *, unsigned);
        long _start(void) { static const unsigned char b[4] = { 1, 2, 3, 4 }; return red_sum(b, 4); }
        """;

    private static string[] Lines(CliResult r, string rule) =>
        r.StdoutLines.Concat(r.StderrLines).Where(l => l.Contains($" {rule}:")).ToArray();

    private static string Archive(params string[] members)
    {
        string lib = Path.Combine(Toolchain.NewWorkDirectory(), "libred.a");
        Toolchain.Run($"ar rcs {lib} {string.Join(' ', members)}");
        return lib;
    }

    private static string Out() => Path.Combine(Toolchain.NewWorkDirectory(), "vmlinux.app");

    public static TheoryData<string, bool> Kernels => new()
    {
        { "v1", false },
        { "v2-no-features", false },
        { "v2-event-stack", true },
    };

    private static string KernelOf(string kind) => kind switch
    {
        "v1" => FakeKernel.Build(1, "ukl_entry_SYSCALL_64"),
        "v2-no-features" => FakeKernel.BuildV2(0, "ukl_entry_SYSCALL_64"),
        _ => FakeKernel.BuildV2(SlotAbi.Features.EventStack, "ukl_entry_SYSCALL_64"),
    };

    [Theory]
    [MemberData(nameof(Kernels))]
    public void ObjectWithRedZoneIsAnErrorUnlessTheKernelHasTheEventStack(string kind, bool safe)
    {
        string kernel = KernelOf(kind);
        string red = Toolchain.CompileC(RedZoneLeaf, RedZoneFlags, "red");
        string main = Toolchain.CompileC(Main, Toolchain.UklFlags, "main");
        Assert.Contains("-0x", Toolchain.Run($"objdump -d {red}")); // the oracle: gcc really used the red zone

        var v = Cli.Run("validate", "--kernel", kernel, main, red);
        var l = Cli.Run("link", "--kernel", kernel, "-o", Out(), main, red);
        string severity = safe ? "note" : "error";
        Assert.Contains(Lines(v, "UKL002"), s => s.Contains($"{severity} UKL002") && s.Contains("red_sum uses the red zone"));
        Assert.Contains(Lines(v, "UKL003"), s => s.Contains($"{severity} UKL003"));
        Assert.Equal(safe ? 0 : 1, v.ExitCode);
        Assert.Equal(safe ? 0 : 1, l.ExitCode);
        if (safe)
        {
            Assert.Contains("fine for this kernel", Lines(v, "UKL002")[0]);
            Assert.Empty(Lines(l, "UKL002"));
            Assert.Contains("features: event stack (red-zone safe)", v.Stdout);
        }
        else
        {
            Assert.Contains(Lines(l, "UKL002"), s => s.Contains("error UKL002") && s.Contains("red_sum uses the red zone"));
            Assert.Contains(Lines(l, "UKL003"), s => s.Contains("error UKL003"));
        }
    }

    [Theory]
    [MemberData(nameof(Kernels))]
    public void OnlyPulledArchiveMembersCount(string kind, bool safe)
    {
        string kernel = KernelOf(kind);
        string pulled = Toolchain.CompileC(RedZoneLeaf, RedZoneFlags, "pulled");
        string unused = Toolchain.CompileC(RedZoneLeaf.Replace("red_sum", "unused_sum"), RedZoneFlags, "unused");
        string lib = Archive(pulled, unused);
        string main = Toolchain.CompileC(Main, Toolchain.UklFlags, "main");

        var v = Cli.Run("validate", "--kernel", kernel, main, lib);
        var l = Cli.Run("link", "--kernel", kernel, "-o", Out(), main, lib);
        Assert.Equal(safe ? 0 : 1, v.ExitCode);
        Assert.Equal(safe ? 0 : 1, l.ExitCode);

        // validate: the member the link pulls is judged like an object; the other one is a note either way.
        var pulledLines = Lines(v, "UKL002").Where(s => s.Contains("(pulled.o)")).ToArray();
        var unusedLines = Lines(v, "UKL002").Where(s => s.Contains("(unused.o)")).ToArray();
        Assert.Single(pulledLines);
        Assert.Single(unusedLines);
        Assert.Contains(safe ? "note UKL002" : "error UKL002", pulledLines[0]);
        Assert.Contains("note UKL002", unusedLines[0]);
        Assert.Contains(safe ? "fine for this kernel" : "the link does not include this archive member", unusedLines[0]);

        // link: the pulled member only, and only for a kernel that is not red-zone safe.
        Assert.DoesNotContain(Lines(l, "UKL002").Concat(Lines(l, "UKL003")), s => s.Contains("unused"));
        if (safe)
            Assert.Empty(Lines(l, "UKL002"));
        else
            Assert.Contains(Lines(l, "UKL002"), s => s.Contains("(pulled.o)") && s.Contains("error UKL002"));
    }

    [Fact]
    public void WithoutAKernelRedZoneUseInLinkedObjectsStaysAnError()
    {
        string red = Toolchain.CompileC(RedZoneLeaf, RedZoneFlags, "red");
        var v = Cli.Run("validate", red);
        Assert.Equal(1, v.ExitCode);
        Assert.Contains(Lines(v, "UKL002"), s => s.Contains("error UKL002"));
    }
}
