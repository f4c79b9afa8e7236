using UklLink.Cli;
using Xunit.Abstractions;

namespace UklLink.Kernel.Tests;

/// <summary>
/// The rewrite's 2-byte fallback under the runtime: samples/intfallback has one syscall that no trampoline can take
/// (a branch target on both sides), which ukl-link rewrites to `int $0x81` with warning UKL016; the kernel's DPL0
/// gate for that vector must run the system call like ukl_entry_SYSCALL_64 does.
/// </summary>
public sealed class IntFallbackTests(ITestOutputHelper output)
{
    [Fact]
    public void SyscallRewrittenToInt81RunsInRing0()
    {
        var m = KernelBuild.Ensure();
        var dir = SampleBuild.Work("intfallback");
        SampleBuild.Make("intfallback", dir);

        var linked = Path.Combine(dir, "vmlinux.intfallback");
        var map = Path.Combine(dir, "intfallback.map");
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = UklLinkCli.Run(["link", "--kernel", m.Vmlinux, "-o", linked, "--map", map, Path.Combine(dir, "intfallback.o")], stdout, stderr);
        output.WriteLine(stderr.ToString());
        Assert.Equal(0, code);
        Assert.Contains("warning UKL016: syscall rewritten in place to `int $0x81`", stderr.ToString());
        Assert.Contains("2 sites found, 1 jump to a trampoline (0 through a bypass entry), 1 int $0x81 fallback", File.ReadAllText(map));
        // --strict-rewrite refuses the same link.
        var strict = UklLinkCli.Run(["link", "--kernel", m.Vmlinux, "-o", linked + ".strict", "--strict-rewrite", Path.Combine(dir, "intfallback.o")],
            new StringWriter(), new StringWriter());
        Assert.Equal(1, strict);
        Assert.False(File.Exists(linked + ".strict"));

        var script = "#!/bin/sh\nmount -t devtmpfs devtmpfs /dev 2>/dev/null\n/UKL\ns=$?\necho \"UKL-STATUS=$s\"\nguest-exit $s\n";
        var r = QemuHarness.Boot(linked, script, new QemuOptions
        {
            TimeoutSeconds = 60,
            ExtraFiles = [(SampleBuild.Placeholder, "/UKL")],
        });
        output.WriteLine(r.ToString());
        Assert.False(r.TimedOut, r.ToString());
        Assert.Contains("intfallback: write through int $0x81 returned", r.Console);
        Assert.Contains("UKL-STATUS=33", r.Console);
        Assert.Equal(33, r.ExitStatus);
        Assert.DoesNotContain("Oops", r.Console);
    }
}
