using System.Diagnostics;
using System.Text.RegularExpressions;
using UklLink.Cli;
using Xunit.Abstractions;

namespace UklLink.Kernel.Tests;

/// <summary>
/// Faults in the guest (samples/faults on the UKL musl, linked by ukl-link and run as /UKL; the same program as an
/// ordinary static binary beside it in the same boot): SIGKILL while the app is blocked in read or accept and while
/// it is busy in system calls (one thread and four), an out-of-memory under RLIMIT_AS (malloc fails, the app goes
/// on) and without a limit (the kernel's OOM killer ends it), a thread writing through NULL in a multi-threaded app,
/// and a signal storm. Each time: the kernel survives (no oops, BUG or warning on the console), the app's exit status
/// is what the native program's is, and a new /UKL starts afterwards and works; guest memory is back at the end.
/// </summary>
public sealed partial class FaultInjectionTests(ITestOutputHelper output, FaultInjectionTests.Boot fixture) : IClassFixture<FaultInjectionTests.Boot>
{
    private static readonly string Sample = Path.Combine(KernelBuild.RepoRoot, "samples", "faults");
    private static readonly string Placeholder = Path.Combine(KernelBuild.RepoRoot, "samples", "common", "UKL");

    /// <summary>Modes the init script SIGKILLs once they print "MODE ready" (status 128+9).</summary>
    private static readonly string[] KilledModes = ["block-read", "block-accept", "busy-syscall", "busy-threads"];

    /// <summary>Modes that end by themselves, with the status a correct run has.</summary>
    private static readonly (string Mode, int Status)[] EndingModes =
        [("oom-limit", 0), ("segv-thread", 128 + 11), ("oom-kill", 128 + 9)];

    private static string MuslPrefix(string model)
    {
        var r = KernelBuild.Run(Path.Combine(KernelBuild.RepoRoot, "toolchain", "build-musl"),
            ["--model", model], TimeSpan.FromMinutes(15));
        Assert.True(r.Exit == 0, $"build-musl --model {model} failed ({r.Exit}): {r.Stderr}");
        return r.Stdout.Trim().Split('\n')[^1].Trim();
    }

    /// <summary>Builds faults.o and faults-native, links faults.o into the reference kernel; returns (vmlinux, native).</summary>
    internal static (string Vmlinux, string Native) Build(Action<string> log)
    {
        var m = KernelBuild.Ensure();
        string musl = MuslPrefix("kernel"), small = MuslPrefix("small");
        var dir = SampleBuild.Work("faults");
        var objs = Path.Combine(dir, "obj");
        SampleBuild.Make("faults", objs, $"MUSL={musl} MUSL_SMALL={small} all native");
        var linked = Path.Combine(dir, "vmlinux.faults");
        var stderr = new StringWriter();
        int code = UklLinkCli.Run(["link", "--kernel", m.Vmlinux, "-o", linked,
            Path.Combine(musl, "lib", "crt1.o"), Path.Combine(objs, "faults.o"), Path.Combine(musl, "lib", "libc.a")], new StringWriter(), stderr);
        log(stderr.ToString());
        Assert.True(code == 0, stderr.ToString());
        return (linked, Path.Combine(objs, "faults-native"));
    }

    /// <summary>
    /// The init script: every fault for /UKL and for /faults-native, each followed by `ok` (a new run that must work),
    /// one "FAULT SIDE MODE status=N" line per run, MemAvailable at the start and the end.
    /// </summary>
    private static string Script()
    {
        var s = new System.Text.StringBuilder("""
            #!/bin/sh
            mount -t proc proc /proc; mount -t devtmpfs devtmpfs /dev 2>/dev/null
            ip link set lo up
            {{MEM-START}}
            # killed SIDE PROG MODE: runs PROG MODE in the background and SIGKILLs it once it printed "MODE ready"
            killed() {
              $2 $3 >/tmp/out 2>&1 & pid=$!
              i=0; while ! grep -q "$3 ready" /tmp/out && [ $i -lt 600 ]; do i=$((i+1)); sleep 0.1; done
              sleep 0.5
              kill -KILL $pid; wait $pid; s=$?
              cat /tmp/out | tail -3
              echo "FAULT $1 $3 status=$s"
            }
            # storm SIDE PROG: PROG signal-storm under two native senders of 20000 SIGUSR1 + 20000 SIGUSR2, then SIGTERM
            storm() {
              $2 signal-storm >/tmp/out 2>&1 & pid=$!
              i=0; while ! grep -q "signal-storm ready" /tmp/out && [ $i -lt 600 ]; do i=$((i+1)); sleep 0.1; done
              /faults-native send-storm $pid 20000 >/tmp/s1 2>&1 & a=$!
              /faults-native send-storm $pid 20000 >/tmp/s2 2>&1 & b=$!
              wait $a; sa=$?; wait $b; sb=$?
              sleep 0.5
              kill -TERM $pid; wait $pid; s=$?
              cat /tmp/out /tmp/s1 /tmp/s2 | tail -4
              echo "FAULT $1 signal-storm status=$s"
              echo "FAULT $1 send-storm status=$((sa + sb))"
            }
            # ran SIDE PROG MODE: runs PROG MODE to its end
            ran() {
              $2 $3 >/tmp/out 2>&1; s=$?
              cat /tmp/out | tail -3
              echo "FAULT $1 $3 status=$s"
            }
            for side in ukl native; do
              prog=/UKL; [ $side = native ] && prog=/faults-native
            """);
        s.Append('\n');
        foreach (var mode in KilledModes)
            s.Append($"  killed $side $prog {mode}; ran $side-after-{mode} $prog ok\n");
        foreach (var (mode, _) in EndingModes)
            s.Append($"  ran $side $prog {mode}; ran $side-after-{mode} $prog ok\n");
        s.Append("  storm $side $prog; ran $side-after-signal-storm $prog ok\n");
        s.Append("  ran $side $prog raise-after-fork; ran $side-after-raise-after-fork $prog ok\n");
        s.Append("done\nsync; echo 1 > /proc/sys/vm/drop_caches 2>/dev/null\n");
        s.Append($"{KernelConsole.MemoryProbe("END")}\necho FAULTS-DONE\nguest-exit 0\n");
        return s.ToString().Replace("{{MEM-START}}", KernelConsole.MemoryProbe("START"), StringComparison.Ordinal);
    }

    [GeneratedRegex(@"^FAULT (\S+) (\S+) status=(\d+)$", RegexOptions.Multiline)]
    private static partial Regex FaultLine();

    [Fact]
    public void TheKernelSurvivesKilledCrashedStarvedAndStormedAppsAndANewUklStartsEveryTime()
    {
        var run = fixture.Run;
        output.WriteLine(run.Log);
        var r = run.Result;
        Assert.False(r.TimedOut, r.ToString());
        Assert.Contains("FAULTS-DONE", r.Console);

        var status = Statuses(r);
        string Show(string side, string mode) => status.TryGetValue((side, mode), out var v) ? v.ToString() : "none";
        foreach (var side in new[] { "ukl", "native" })
        {
            foreach (var mode in KilledModes)
                Assert.True(Show(side, mode) == "137", $"{side} {mode}: status {Show(side, mode)}, not 137 (SIGKILL)\n{r}");
            foreach (var (mode, expected) in EndingModes.Append(("signal-storm", 0)).Append(("send-storm", 0)))
                Assert.True(Show(side, mode) == expected.ToString(), $"{side} {mode}: status {Show(side, mode)}, not {expected}\n{r}");
            foreach (var mode in KilledModes.Concat(EndingModes.Select(e => e.Mode)).Append("signal-storm").Append("raise-after-fork"))
                Assert.True(Show($"{side}-after-{mode}", "ok") == "0", $"{side}: `ok` after {mode} did not work\n{r}");
        }
        // The app's own reports: malloc failed cleanly under the limit, nothing was lost in the storm.
        Assert.Equal(2, Regex.Matches(r.Console, "faults: oom-limit ok ").Count);
        Assert.Equal(2, Regex.Matches(r.Console, "faults: signal-storm ok ").Count);
        // The OOM killer chose the application (comm "UKL" in ring 0, the binary's name natively).
        Assert.Matches(@"Out of memory: Killed process \d+ \(UKL\)", r.Console);
        Assert.Matches(@"Out of memory: Killed process \d+ \(faults-native\)", r.Console);
        // The native program is the reference for raise-after-fork (ring 0: RaiseAfterForkIsDeliveredToTheParent).
        Assert.True(Show("native", "raise-after-fork") == "0", r.ToString());
        var problems = KernelConsole.Problems(r.Console);
        Assert.True(problems.Count == 0, $"the kernel reported problems:\n{string.Join('\n', problems)}\n{r}");

        var mem = KernelConsole.Memory(r.Console).ToDictionary(m => m.Tag, m => m.KiB);
        output.WriteLine($"MemAvailable: start {mem["START"]} kB, end {mem["END"]} kB");
        // Every pinned stack and every page of the killed apps came back (a leaked 8 MiB stack pin per run would not).
        Assert.True(mem["END"] >= mem["START"] - 8 * 1024, $"MemAvailable fell from {mem["START"]} kB to {mem["END"]} kB");
        Assert.Equal(0, r.ExitStatus);
    }

    /// <summary>
    /// KNOWN LIMITATION of today's kernel (found by this test, reported to the lead): fork children share the image's
    /// .data/.bss with their parent (docs/kernel.md), so the child's musl overwrites the main thread's descriptor
    /// (its tid) in .bss and the parent's later raise() signals the dead child's tid: the signal is lost (the same
    /// program natively delivers it). A kernel with per-process data (slot ABI v2 feature bit) fixes this; on such a
    /// kernel the test runs and must pass, on today's it is skipped with this reason.
    /// </summary>
    [SkippableFact]
    public void RaiseAfterForkIsDeliveredToTheParent()
    {
        var run = fixture.Run;
        var status = Statuses(run.Result);
        output.WriteLine(string.Join('\n', run.Result.Console.Split('\n').Where(l => l.Contains("raise-after-fork", StringComparison.Ordinal))));
        Assert.True(status.GetValueOrDefault(("native", "raise-after-fork"), -1) == 0, run.Result.ToString());
        Skip.IfNot(run.PerProcessData,
            "known limitation: this kernel shares .data/.bss between a UKL process and its fork children, so musl's main-thread " +
            $"descriptor is the child's after fork (ring 0 status {status.GetValueOrDefault(("ukl", "raise-after-fork"), -1)}); needs per-process data");
        Assert.True(status.GetValueOrDefault(("ukl", "raise-after-fork"), -1) == 0, run.Result.ToString());
    }

    private static Dictionary<(string Side, string Mode), int> Statuses(QemuResult r)
    {
        var status = new Dictionary<(string Side, string Mode), int>();
        foreach (Match m in FaultLine().Matches(r.Console))
            status[(m.Groups[1].Value, m.Groups[2].Value)] = int.Parse(m.Groups[3].Value);
        return status;
    }

    /// <summary>The one boot both tests read: build, link, boot with every fault.</summary>
    public sealed class Boot
    {
        private readonly Lazy<(QemuResult Result, string Log, bool PerProcessData)> _run = new(Execute);

        public (QemuResult Result, string Log, bool PerProcessData) Run => _run.Value;

        private static (QemuResult, string, bool) Execute()
        {
            var log = new System.Text.StringBuilder();
            var (linked, native) = Build(s => log.AppendLine(s));
            bool perProcess = UklLink.Kernel.KernelImage.Load(linked).ReadDescriptor()?.PerProcessData == true;
            var clock = Stopwatch.StartNew();
            var r = QemuHarness.Boot(linked, Script(), new QemuOptions
            {
                TimeoutSeconds = 600,
                ExtraFiles = [(Placeholder, "/UKL"), (native, "/faults-native")],
            });
            string consoleLog = Path.Combine(Path.GetDirectoryName(linked)!, "console.log");
            File.WriteAllText(consoleLog, r.Console);
            log.AppendLine($"boot and faults: {clock.Elapsed.TotalSeconds:F1}s; console: {consoleLog}; per-process data: {perProcess}");
            log.AppendLine(r.ToString());
            return (r, log.ToString(), perProcess);
        }
    }
}
