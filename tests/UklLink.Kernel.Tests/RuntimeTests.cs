using System.Diagnostics;
using System.Text.RegularExpressions;
using Xunit.Abstractions;

namespace UklLink.Kernel.Tests;

/// <summary>
/// The UKL runtime in the reference kernel: samples/hello (with samples/common/start.S) linked by `ukl-link link`
/// into the reference vmlinux, started by exec of /UKL from the init script (or as init itself), in ring 0.
/// </summary>
public sealed class RuntimeTests(ITestOutputHelper output)
{

    private const string Mounts = "mount -t proc proc /proc; mount -t devtmpfs devtmpfs /dev 2>/dev/null\n";

    private static string Work(string name) => SampleBuild.Work(name);

    private static void Run(string file, string args)
    {
        var psi = new ProcessStartInfo(file, args) { RedirectStandardError = true, RedirectStandardOutput = true };
        using var p = Process.Start(psi)!;
        string err = p.StandardError.ReadToEnd() + p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"{file} {args}: {err}");
    }

    private string LinkSample(string name) => SampleBuild.Link(name, output.WriteLine);

    private string LinkHello() => LinkSample("hello");

    /// <summary>A guest helper that calls execve directly and prints the errno (a shell would retry on ENOEXEC).</summary>
    private static string TryExec(string dir)
    {
        var exe = Path.Combine(dir, "tryexec");
        Run("gcc", $"-O2 -static -nostdlib -ffreestanding -fno-stack-protector -fno-pie -no-pie -o {exe} " +
                   Path.Combine(KernelBuild.RepoRoot, "tests", "UklLink.Kernel.Tests", "guest", "tryexec.c"));
        return exe;
    }

    private static QemuOptions WithUkl(params (string, string)[] more) => new()
    {
        TimeoutSeconds = 60,
        ExtraFiles = [(SampleBuild.Placeholder, "/UKL"), .. more],
    };

    private static readonly Regex HelloLine = new(@"hello from ring 0: pid (\d+) argc (\d+) argv(.*)\n");

    [Fact]
    public void HelloRunsFromTheInitScriptAndItsStatusReachesInit()
    {
        var linked = LinkHello();
        var script = "#!/bin/sh\n" + Mounts +
                     "/UKL 42 one two\ns=$?\necho \"UKL-STATUS=$s\"\nguest-exit $s\n";
        var r = QemuHarness.Boot(linked, script, WithUkl());
        output.WriteLine(r.ToString());
        Assert.False(r.TimedOut, r.ToString());
        var match = HelloLine.Match(r.Console);
        Assert.True(match.Success, r.ToString());
        Assert.True(int.Parse(match.Groups[1].Value) > 1, match.Value);
        Assert.Equal("4", match.Groups[2].Value);
        Assert.Equal(" [/UKL] [42] [one] [two]", match.Groups[3].Value);
        Assert.Contains("UKL-STATUS=42", r.Console);
        Assert.Equal(42, r.ExitStatus);
        Assert.DoesNotContain("Oops", r.Console);
        Assert.DoesNotContain("WARNING", r.Console);
    }

    /// <summary>rdinit=/UKL: the application is pid 1 (kernel_execve, then ret_from_fork's return to ring 0).</summary>
    [Fact]
    public void HelloRunsAsInit()
    {
        var linked = LinkHello();
        // loglevel=5: /UKL runs about a second into the boot, when the other CPU's late info messages (the TSC's
        // refined calibration) can land in the middle of its line on the shared console; the panic is KERN_EMERG.
        var opts = WithUkl() with { ExtraCmdline = "rdinit=/UKL loglevel=5", TimeoutSeconds = 60 };
        var r = QemuHarness.Boot(linked, "#!/bin/sh\nguest-exit 3\n", opts);
        output.WriteLine(r.ToString());
        var match = HelloLine.Match(r.Console);
        Assert.True(match.Success, r.ToString());
        Assert.Equal("1", match.Groups[1].Value);
        Assert.Equal(" [/UKL]", match.Groups[3].Value);
        // init exiting with status 0 panics the kernel ("Attempted to kill init! exitcode=0x00000000").
        Assert.Contains("Attempted to kill init! exitcode=0x00000000", r.Console);
    }

    [Fact]
    public void TwentyConsecutiveBootAndRunCycles()
    {
        var linked = LinkHello();
        var times = new List<double>();
        for (int i = 0; i < 20; i++)
        {
            int status = 100 + i;
            var script = "#!/bin/sh\n" + Mounts + $"/UKL {status} cycle{i}\ns=$?\necho \"UKL-STATUS=$s\"\nguest-exit $s\n";
            var r = QemuHarness.Boot(linked, script, WithUkl());
            Assert.False(r.TimedOut, $"cycle {i}: {r}");
            Assert.Contains($"[/UKL] [{status}] [cycle{i}]", r.Console);
            Assert.Equal(status, r.ExitStatus);
            times.Add(r.Elapsed.TotalSeconds);
        }
        output.WriteLine($"20 boot-and-run cycles: min {times.Min():F2}s, mean {times.Average():F2}s, max {times.Max():F2}s");
    }

    /// <summary>Several runs in one boot: fresh processes, each with its own pid, mm and pinned stack.</summary>
    [Fact]
    public void HelloRunsRepeatedlyInOneBoot()
    {
        var linked = LinkHello();
        var script = "#!/bin/sh\n" + Mounts +
                     "i=0; ok=0\nwhile [ $i -lt 50 ]; do /UKL $i >/dev/null; [ $? = $i ] && ok=$((ok+1)); i=$((i+1)); done\n" +
                     "echo \"UKL-OK=$ok\"\n/UKL 5 & wait $!\necho \"UKL-BG=$?\"\nguest-exit 0\n";
        var r = QemuHarness.Boot(linked, script, WithUkl());
        output.WriteLine(r.ToString());
        Assert.Contains("UKL-OK=50", r.Console);
        Assert.Contains("UKL-BG=5", r.Console);
        Assert.Equal(0, r.ExitStatus);
    }

    [Fact]
    public void WithoutAnApplicationExecFailsWithEnoexec()
    {
        var m = KernelBuild.Ensure();
        var tryexec = TryExec(Work("noapp"));
        var script = "#!/bin/sh\n" + Mounts +
                     "/UKL\necho \"SHELL-STATUS=$?\"\n/bin/tryexec /UKL\necho \"TRYEXEC-STATUS=$?\"\nguest-exit 0\n";
        var r = QemuHarness.Boot(m.Vmlinux, script, WithUkl((tryexec, "/bin/tryexec")));
        output.WriteLine(r.ToString());
        Assert.Equal(0, r.ExitStatus);
        Assert.Contains("tryexec: /UKL: execve failed: errno 8 (ENOEXEC)", r.Console);
        Assert.Contains("TRYEXEC-STATUS=8", r.Console);
        // The shell retries an ENOEXEC file as a script: the placeholder says why.
        Assert.Contains("/UKL: exec failed with ENOEXEC", r.Console);
        Assert.Contains("SHELL-STATUS=126", r.Console);
        Assert.Contains("ukl: exec /UKL: no application linked into this kernel", r.Console);
    }

    /// <summary>
    /// SA_RESTART signal during a blocking read on a pipe (sent by a forked child): the read is restarted through the
    /// trampoline's `call *%rcx` and completes; a kernel address outside the image passed to write gives EFAULT.
    /// </summary>
    [Fact]
    public void SignalDuringBlockingReadIsRestartedAndKernelPointersFault()
    {
        var linked = LinkSample("sigrestart");
        var script = "#!/bin/sh\n" + Mounts + "/UKL\ns=$?\necho \"UKL-STATUS=$s\"\nguest-exit $s\n";
        var r = QemuHarness.Boot(linked, script, WithUkl() with { TimeoutSeconds = 90 });
        output.WriteLine(r.ToString());
        Assert.Contains("sigrestart: handler 1 read 1 byte 'x' efault 1 child status 0", r.Console);
        Assert.Equal(0, r.ExitStatus);
    }

    /// <summary>Faults of the ring-0 application are user faults: SIGSEGV for the process, no oops.</summary>
    [Fact]
    public void ApplicationFaultsAreSigsegvNotOops()
    {
        var linked = LinkSample("sigrestart");
        var script = "#!/bin/sh\n" + Mounts +
                     "/UKL null\necho \"NULL-STATUS=$?\"\n/UKL rodata\necho \"RODATA-STATUS=$?\"\nguest-exit 0\n";
        var r = QemuHarness.Boot(linked, script, WithUkl());
        output.WriteLine(r.ToString());
        Assert.Contains("NULL-STATUS=139", r.Console);
        Assert.Contains("RODATA-STATUS=139", r.Console);
        Assert.DoesNotContain("Oops", r.Console);
        Assert.Equal(0, r.ExitStatus);
    }

    /// <summary>On a CPU with SMAP, SMEP and UMIP (QEMU -cpu max) hello runs with the default command line.</summary>
    [Fact]
    public void HelloRunsWithSmapAndSmep()
    {
        var linked = LinkHello();
        var script = "#!/bin/sh\n" + Mounts + "grep -q -w smap /proc/cpuinfo && echo HAS-SMAP\n/UKL 7\necho \"UKL-STATUS=$?\"\nguest-exit 0\n";
        var r = QemuHarness.Boot(linked, script, WithUkl() with { Cpu = "max", TimeoutSeconds = 120 });
        output.WriteLine(r.ToString());
        Assert.Contains("HAS-SMAP", r.Console);
        Assert.Matches(HelloLine, r.Console);
        Assert.Contains("UKL-STATUS=7", r.Console);
        Assert.DoesNotContain("refused", r.Console);
        Assert.DoesNotContain("Oops", r.Console);
        Assert.Equal(0, r.ExitStatus);
    }
}
