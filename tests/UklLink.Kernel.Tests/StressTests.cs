using System.Text.RegularExpressions;
using Xunit.Abstractions;

namespace UklLink.Kernel.Tests;

/// <summary>
/// samples/stress: runtime checks printed one per line by the ring-0 application, each asserted here. The init script
/// starts it in the background and prints its own timestamped marker lines while the application runs, both pinned to
/// CPU 0, so the console shows whether the shell got the CPU during the application's syscall-free CPU loop.
/// </summary>
public sealed class StressTests(ITestOutputHelper output)
{
    private const string Script = """
        #!/bin/sh
        mount -t proc proc /proc; mount -t devtmpfs devtmpfs /dev 2>/dev/null
        # One CPU for the shell and the application (inherited), so that the shell's lines during the CPU loop
        # can only come from preempting it, also on a guest with more CPUs.
        taskset -p 1 $$ > /dev/null
        /UKL 4 & pid=$!
        i=0
        while kill -0 $pid 2>/dev/null; do i=$((i+1)); echo "SHELL-TICK $i $(cut -d' ' -f1 /proc/uptime)"; usleep 250000; done
        wait $pid; s=$?
        echo "UKL-STATUS=$s"
        guest-exit $s
        """;

    private static QemuOptions Options => new()
    {
        TimeoutSeconds = 120,
        ExtraFiles = [(SampleBuild.Placeholder, "/UKL")],
    };

    private QemuResult Run(string makeArgs = "", string[]? linkArgs = null)
    {
        var linked = SampleBuild.Link("stress", s => output.WriteLine(s), makeArgs, linkArgs);
        var r = QemuHarness.Boot(linked, Script, Options);
        output.WriteLine(r.ToString());
        Assert.False(r.TimedOut, r.ToString());
        return r;
    }

    private static Match Line(QemuResult r, string pattern)
    {
        var m = Regex.Match(r.Console, "^" + pattern + "$", RegexOptions.Multiline);
        Assert.True(m.Success, $"no line matching /{pattern}/ in the console:\n{r}");
        return m;
    }

    [Fact]
    public void EveryCheckPassesAndTheShellRunsDuringTheCpuLoop() => AssertEveryCheck(Run());

    /// <summary>
    /// The same checks with `link --bypass`: the sites whose number is a constant (getppid in the regs check, the
    /// blocking reads of restart, eintr and fpu-switch, the writes of the report lines) enter through the kernel's
    /// ukl_bypass_&lt;nr&gt; entries (patch 0022), which must keep every register and flag, deliver the SIGALRM that
    /// interrupts a read and restart it or fail it with EINTR, and reload the FPU registers after a context switch.
    /// </summary>
    [Fact]
    public void EveryCheckPassesWithBypassEntries()
    {
        var linked = SampleBuild.Link("stress", s => output.WriteLine(s), linkArgs: ["--bypass"]);
        string map = File.ReadAllText(Path.Combine(Path.GetDirectoryName(linked)!, "stress.map"));
        foreach (var entry in new[] { "ukl_bypass_0", "ukl_bypass_1", "ukl_bypass_110" })
            Assert.Matches($@"trampoline for .*stress\.o:.*, syscall \d+ \(\w+\), bypass {entry}\n", map);
        // clock_gettime keeps its own fast path in ukl_entry_SYSCALL_64, and a number from an argument cannot bypass.
        Assert.DoesNotContain("bypass ukl_bypass_228", map);
        Assert.Matches(@"trampoline for .*stress\.o:.*, syscall \?\n", map);
        var r = QemuHarness.Boot(linked, Script, Options);
        output.WriteLine(r.ToString());
        Assert.False(r.TimedOut, r.ToString());
        AssertEveryCheck(r);
    }

    private void AssertEveryCheck(QemuResult r)
    {

        // fork + wait4: the child's exit status and a SIGKILLed child's signal reach the parent.
        Line(r, @"stress: fork-wait ok child \d+ exit 42 killed-by 9");
        // SIGTERM handler (SA_SIGINFO, restorer in the app): sent by the app to itself and by a forked child.
        Line(r, "stress: sigterm ok self 1 from-child 1 handled 2");
        // nanosleep(250 ms) measured with clock_gettime(CLOCK_MONOTONIC).
        var slept = int.Parse(Line(r, @"stress: nanosleep ok slept_ms (\d+)").Groups[1].Value);
        Assert.InRange(slept, 250, 1999);
        // Bad user pointers: copy_from_user (write), copy_to_user (clock_gettime), put_user (wait4 status).
        Line(r, "stress: efault-user ok write -14 clock_gettime -14 wait4 -14");
        // The kernel's _text (0xffffffff81000000) is outside the application's slots: EFAULT both ways.
        Line(r, "stress: efault-kernel ok write -14 clock_gettime -14");
        // access_ok is exact at the image's edges (ranges read from ukl_descriptor): per range the first and last byte
        // and the whole range are accepted; the byte before and after it, a buffer straddling either end are refused,
        // and so are init_task and the kernel's .bss. Text, rodata, data (the program headers at least) and bss.
        var image = Line(r, @"stress: efault-image ok accepted (\d+) refused (\d+)");
        int accepted = int.Parse(image.Groups[1].Value), refused = int.Parse(image.Groups[2].Value);
        Assert.Equal(12, accepted);
        Assert.Equal(4 * 4 + 2, refused);
        // Registers, flags and the red zone across getppid and across clock_gettime on both its paths (patch 0020's
        // own path for CLOCK_MONOTONIC, the full system call for clock id 100), under SIGALRM every millisecond.
        var regs = Line(r, @"stress: regs ok calls (\d+) alarms (\d+) bad 0");
        Assert.True(int.Parse(regs.Groups[2].Value) > 0, regs.Value);
        Line(r, @"stress: regs-clock ok monotonic \d+ bad 0 invalid \d+ bad 0 alarms [1-9]\d*");
        // clock_gettime's answers: .bss buffer, never backwards, REALTIME = gettimeofday to the second, the CPU-time
        // clock and an invalid id (both through the full system call).
        // A read blocked on an empty pipe, interrupted by SIGALRM after 100 ms; a child writes "hello" after 400 ms:
        // restarted with SA_RESTART (the handler ran once, the read returns the 5 bytes), EINTR (-4) without.
        Line(r, "stress: restart ok handled 1 read 5 data hello");
        Line(r, "stress: eintr ok handled 1 read -4");
        // xmm0-xmm15 across a read that blocks while a child loads other values: all 32 words are the reader's own.
        Line(r, "stress: fpu-switch ok read 1 own-words 32 child-words 0");
        Line(r, @"stress: clock ok bss 0 backwards 0 gettimeofday-minus-realtime-s [01] cputime 0 invalid -22");
        // __thread int = 1234 and a .tbss long via %fs (local-exec); %fs:0 is the thread pointer; fork copies TLS.
        Line(r, "stress: tls ok initial 1234 tbss 0 written 1235 after-child 1235 fs0-is-tp 1");
        // A fork child's write to .data stays in the child (per-process .data, copy-on-write; it used to be shared).
        Line(r, "stress: fork-data ok parent keeps 7 child saw its write 8");

        // The CPU loop makes no system call for 4 s; the shell's marker lines appear while it runs.
        var start = Line(r, @"stress: cpu-start ok seconds 4");
        var cpu = Line(r, @"stress: cpu ok elapsed_ms (\d+) gaps (\d+) max_gap_us (\d+) iterations (\d+)");
        var ticks = Regex.Matches(r.Console, @"^SHELL-TICK (\d+) ([\d.]+)$", RegexOptions.Multiline)
            .Where(t => t.Index > start.Index && t.Index < cpu.Index).ToList();
        output.WriteLine($"{ticks.Count} shell marker lines during the CPU loop; {cpu.Value}");
        Assert.True(ticks.Count >= 4, $"only {ticks.Count} shell lines during the 4 s CPU loop:\n{r}");
        Assert.True(int.Parse(cpu.Groups[2].Value) > 0, cpu.Value);
        Assert.InRange(int.Parse(cpu.Groups[1].Value), 3800, 11999);

        Line(r, "stress: done ok failures 0");
        Assert.Contains("UKL-STATUS=0", r.Console);
        Assert.Equal(0, r.ExitStatus);
        Assert.DoesNotContain("FAIL", r.Console);
        Assert.DoesNotContain("Oops", r.Console);
        Assert.DoesNotContain("WARNING", r.Console);
        Assert.DoesNotContain("BUG", r.Console);
    }

    /// <summary>
    /// The same TLS check without the sample's workaround (a 64-byte aligned TLS variable): PT_TLS p_align 4, memsz 16.
    /// </summary>
    [Fact]
    public void TlsTemplateWithSmallAlignment()
    {
        var r = Run("EXTRA_CFLAGS=-DSTRESS_TLS_ALIGN=4");
        Line(r, "stress: tls ok initial 1234 tbss 0 written 1235 after-child 1235 fs0-is-tp 1");
    }
}
