using System.Diagnostics;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using Xunit.Abstractions;

namespace UklLink.Kernel.Tests;

/// <summary>
/// The ring-0 execution model (issue 13): samples/ring0 (stacks, signals, fork, threads on several CPUs, SMAP, a
/// faulting return) and samples/redzone (code that keeps live data below %rsp), both on the UKL musl, linked by
/// ukl-link and run as /UKL, each next to the same objects linked as an ordinary static process in the same boot.
/// </summary>
public sealed class RingZeroTests(ITestOutputHelper output)
{
    private const string Mounts = "mount -t proc proc /proc; mount -t sysfs sysfs /sys; mount -t devtmpfs devtmpfs /dev 2>/dev/null\n";
    private const string Network = "ip link set lo up\nip link set eth0 up\nip addr add 10.0.2.15/24 dev eth0\nip route add default via 10.0.2.2\n";

    private static QemuOptions Files(params (string, string)[] more) => new()
    {
        TimeoutSeconds = 240,
        ExtraFiles = [(SampleBuild.Placeholder, "/UKL"), .. more],
    };

    private static void AssertClean(QemuResult r)
    {
        Assert.False(r.TimedOut, r.ToString());
        Assert.DoesNotContain("Oops", r.Console);
        Assert.DoesNotContain("double fault", r.Console);
        Assert.DoesNotContain("WARNING", r.Console);
        Assert.DoesNotContain("BUG", r.Console);
        Assert.DoesNotContain("Kernel panic", r.Console);
    }

    private static string[] Lines(QemuResult r, string prefix) =>
        r.Console.Split('\n').Where(l => l.StartsWith(prefix, StringComparison.Ordinal)).ToArray();

    /// <summary>
    /// Floods 127.0.0.1:<paramref name="port"/> (forwarded into the guest) with data until cancelled, reconnecting
    /// whenever the guest side closes: a steady stream of NIC interrupts. Returns the bytes sent.
    /// </summary>
    private static async Task<long> Flood(int port, CancellationToken stop)
    {
        long sent = 0;
        var chunk = new byte[65536];
        new Random(13).NextBytes(chunk);
        while (!stop.IsCancellationRequested)
        {
            try
            {
                using var c = new TcpClient();
                await c.ConnectAsync("127.0.0.1", port, stop);
                var s = c.GetStream();
                while (!stop.IsCancellationRequested)
                {
                    await s.WriteAsync(chunk, stop);
                    sent += chunk.Length;
                }
            }
            catch (Exception)
            {
                // Refused before QEMU listens or after the guest stopped (the test then reports the guest's result).
                if (stop.IsCancellationRequested)
                    break;
                await Task.Delay(100, CancellationToken.None);
            }
        }
        return sent;
    }

    /// <summary>
    /// Boots with guest port 5000 (where the init script's listener runs) forwarded from a free host port, which
    /// <see cref="Flood"/> floods for the whole run; logs the amount and the guest's result. Returns both.
    /// </summary>
    private async Task<(QemuResult R, long Sent)> BootFlooded(string linked, string script, QemuOptions options)
    {
        int port = SampleBuild.FreePort();
        using var stop = new CancellationTokenSource();
        var guest = Task.Run(() => QemuHarness.Boot(linked, script, options with { HostForwards = [(port, 5000)] }));
        var flood = Flood(port, stop.Token);
        var r = await guest;
        stop.Cancel();
        long sent = await flood;
        output.WriteLine($"flooded {sent >> 20} MiB into the guest");
        output.WriteLine(r.ToString());
        return (r, sent);
    }

    private static readonly string[] AllChecks =
        ["stack-grow", "stack-protect", "stack-unmap", "sigaltstack", "fork50", "migrate", "atomics", "smap", "bad-iret"];

    /// <summary>
    /// Every check of samples/ring0 in ring 0 and as an ordinary process, in one 256 MiB guest, while the host floods a
    /// guest port (the sigaltstack check runs under that interrupt storm and SIGALRM every millisecond): stack growth
    /// by 4 MiB of page faults, a thread that protects or unmaps a page of its own stack (SIGSEGV as in user space),
    /// 50 forked children alive at once, threads migrating between CPUs, atomics and a futex mutex, SMAP, and a
    /// sigreturn to a non-canonical address.
    /// </summary>
    [Fact]
    public async Task StacksSignalsForkAndThreadsBehaveAsForAnOrdinaryProcess()
    {
        var (linked, native) = SampleBuild.LinkMusl("ring0", output.WriteLine);
        var script = "#!/bin/sh\n" + Mounts + Network +
                     "(while true; do nc -l -p 5000 >/dev/null; done) &\n" +
                     "/ring0-native all\necho \"NATIVE-STATUS=$?\"\n" +
                     "/UKL all\necho \"UKL-STATUS=$?\"\nguest-exit 0\n";
        var (r, sent) = await BootFlooded(linked, script, Files((native, "/ring0-native")));
        AssertClean(r);
        var lines = Lines(r, "ring0: ");
        foreach (var check in AllChecks)
        {
            var both = lines.Where(l => l.StartsWith($"ring0: {check} ")).ToArray();
            Assert.True(both.Length == 2, $"'{check}' should run twice (native, ring 0):\n{r}");
            Assert.All(both, l => Assert.StartsWith($"ring0: {check} ok", l));
        }
        Assert.Equal(2, lines.Count(l => l == "ring0: done failures 0"));
        Assert.Contains("NATIVE-STATUS=0", r.Console);
        Assert.Contains("UKL-STATUS=0", r.Console);
        Assert.True(sent > 1 << 20, $"only {sent} bytes reached the guest");
    }

    /// <summary>
    /// One CPU-bound thread pinned to each CPU the guest has (it must have what qemu-run was asked for) while the init
    /// shell keeps printing: the application never keeps a CPU from the scheduler.
    /// </summary>
    [Fact]
    public void CpuBoundThreadOnEachCpuLeavesTheShellResponsive()
    {
        var (linked, _) = SampleBuild.LinkMusl("ring0", output.WriteLine);
        var script = "#!/bin/sh\n" + Mounts +
                     "echo \"GUEST-CPUS=$(grep -c ^processor /proc/cpuinfo) NPROC=$(nproc)\"\n" +
                     "/UKL cpus 4 &\npid=$!\n" +
                     "i=0; while [ $i -lt 40 ] && kill -0 $pid 2>/dev/null; do echo SHELL-TICK $i; sleep 0.2; i=$((i+1)); done\n" +
                     "wait $pid\necho \"UKL-STATUS=$?\"\nguest-exit 0\n";
        var r = QemuHarness.Boot(linked, script, Files());
        output.WriteLine(r.ToString());
        AssertClean(r);
        int cpus = Math.Min(TestMachine.Smp, 8);
        Assert.Contains($"GUEST-CPUS={cpus} NPROC={cpus}", r.Console);
        Assert.Contains($"ring0: cpus-start {cpus} CPUs online", r.Console);
        var result = Assert.Single(Lines(r, "ring0: cpus "));
        Assert.StartsWith("ring0: cpus ok", result);
        // The shell ran between the start of the threads and their end (4 s).
        int start = r.Console.IndexOf("ring0: cpus-start", StringComparison.Ordinal);
        int end = r.Console.IndexOf("ring0: cpus ok", StringComparison.Ordinal);
        int ticks = Regex.Matches(r.Console[start..end], "SHELL-TICK").Count;
        Assert.True(ticks >= 5, $"only {ticks} shell ticks while {cpus} CPU-bound threads ran:\n{r}");
        Assert.Contains("UKL-STATUS=0", r.Console);
    }

    /// <summary>SMAP and SMEP are on (QEMU -cpu max): the application runs with no special command line, an access of
    /// its own with EFLAGS.AC cleared is SIGSEGV for it, and the kernel says nothing about it.</summary>
    [Fact]
    public void ApplicationRunsWithSmapAndSmepAndAnAcViolationIsSigsegv()
    {
        var (linked, native) = SampleBuild.LinkMusl("ring0", output.WriteLine);
        var script = "#!/bin/sh\n" + Mounts +
                     "printf 'CPU-FLAGS:'; for f in smap smep umip; do grep -q -w $f /proc/cpuinfo && printf ' %s' $f; done; echo\n" +
                     "/ring0-native smap stack-grow\n/UKL smap stack-grow fork50\necho \"UKL-STATUS=$?\"\nguest-exit 0\n";
        var r = QemuHarness.Boot(linked, script, Files((native, "/ring0-native")) with { Cpu = "max" });
        output.WriteLine(r.ToString());
        AssertClean(r);
        Assert.Contains("CPU-FLAGS: smap smep umip", r.Console);
        Assert.Contains("ring0: smap ok SMAP on, user mode: the access with AC=0 read the value", r.Console);
        Assert.Contains("ring0: smap ok SMAP on, ring 0: the access with AC=0 got SIGSEGV", r.Console);
        Assert.Equal(2, Lines(r, "ring0: stack-grow ok").Length);
        Assert.Single(Lines(r, "ring0: fork50 ok"));
        Assert.Contains("UKL-STATUS=0", r.Console);
    }

    /// <summary>Page table isolation forced on (pti=on): the application never returns through the user page tables,
    /// so it runs as without; the event stack is in the cpu_entry_area that both page tables map.</summary>
    [Fact]
    public void ApplicationRunsWithPageTableIsolation()
    {
        var (linked, _) = SampleBuild.LinkMusl("ring0", output.WriteLine);
        var script = "#!/bin/sh\n" + Mounts + "/UKL stack-grow sigaltstack fork50 atomics bad-iret\necho \"UKL-STATUS=$?\"\nguest-exit 0\n";
        var r = QemuHarness.Boot(linked, script, Files() with { ExtraCmdline = "pti=on" });
        output.WriteLine(r.ToString());
        AssertClean(r);
        Assert.Contains("Kernel/User page tables isolation: enabled", r.Console);
        Assert.Contains("ring0: done failures 0", r.Console);
        Assert.Equal(5, Lines(r, "ring0: ").Count(l => Regex.IsMatch(l, @"^ring0: [a-z0-9-]+ ok ")));
        Assert.Contains("UKL-STATUS=0", r.Console);
    }

    private static readonly Regex Checksum = new(@"^redzone: rounds (\d+) checksum ([0-9a-f]{16})$", RegexOptions.Multiline);
    private static readonly Regex Events = new(@"^redzone: events interrupts (\d+) alarms (\d+) faults (\d+)$", RegexOptions.Multiline);

    /// <summary>samples/redzone's leaf loops really keep their data below %rsp (objdump is the oracle).</summary>
    private void AssertUsesTheRedZone(string native)
    {
        var dis = Process.Start(new ProcessStartInfo("objdump", $"-d --no-show-raw-insn {native}") { RedirectStandardOutput = true })!;
        string text = dis.StandardOutput.ReadToEnd();
        dis.WaitForExit();
        foreach (var fn in new[] { "mix_words", "mix_bytes" })
        {
            var body = Regex.Match(text, $@"<{fn}>:\n(.*?)\n\n", RegexOptions.Singleline);
            Assert.True(body.Success, $"no {fn} in {native}");
            Assert.Matches(@"-0x[0-9a-f]+\(%rsp", body.Groups[1].Value);
            Assert.DoesNotMatch(@"sub\s+\$0x[0-9a-f]+,%rsp", body.Groups[1].Value);
            Assert.DoesNotMatch(@"\bcall", body.Groups[1].Value);
        }
    }

    private const int Rounds = 10000;

    /// <summary>The checksum test's rounds: long enough runs that every run sees 100+ interrupts and SIGALRMs even
    /// on a quiet host (10000 rounds gave 90-130 alarms).</summary>
    private const int CheckedRounds = 30000;

    /// <summary>
    /// Deliverable 1: code built with gcc's default red zone computes in ring 0 exactly what it computes as an
    /// ordinary process, run after run, while a thread page-faults and unmaps memory, SIGALRM arrives every
    /// millisecond and the host floods a guest port.
    /// </summary>
    [Fact]
    public async Task RedZoneCodeComputesTheNativeChecksumUnderInterrupts()
    {
        var (linked, native) = SampleBuild.LinkMusl("redzone", output.WriteLine);
        AssertUsesTheRedZone(native);
        var script = "#!/bin/sh\n" + Mounts + Network +
                     $"/redzone-native --port 5000 {CheckedRounds}\n" +
                     $"for i in 1 2 3; do /UKL --port 5000 {CheckedRounds}; echo \"UKL-STATUS=$?\"; done\nguest-exit 0\n";
        var (r, _) = await BootFlooded(linked, script, Files((native, "/redzone-native")) with { TimeoutSeconds = 400 });
        AssertClean(r);
        var sums = Checksum.Matches(r.Console).Select(m => m.Groups[2].Value).ToList();
        Assert.True(sums.Count == 4, $"expected 4 checksums (1 native, 3 ring 0):\n{r}");
        Assert.All(sums.Skip(1), s => Assert.Equal(sums[0], s));
        Assert.Equal(3, Regex.Matches(r.Console, "UKL-STATUS=0").Count);
        // The runs in ring 0 really were interrupted: at least a hundred interrupts and SIGALRMs each, thousands of page
        // faults (the counts follow the run's length, hence CheckedRounds).
        var events = Events.Matches(r.Console).Skip(1).ToList();
        Assert.Equal(3, events.Count);
        foreach (Match e in events)
        {
            output.WriteLine(e.Value);
            Assert.True(long.Parse(e.Groups[1].Value) >= 100, e.Value);
            Assert.True(long.Parse(e.Groups[2].Value) >= 100, e.Value);
            Assert.True(long.Parse(e.Groups[3].Value) >= 1000, e.Value);
        }
    }

    /// <summary>
    /// The same program on the same kernel booted with ukl.event_stack=off (events delivered on the application's
    /// stack, as before the event stack): the red zone is clobbered and the checksum differs from the native one, or
    /// the run dies. This is what the test above would see on a kernel without the event stack.
    /// </summary>
    [Fact]
    public async Task WithoutTheEventStackTheRedZoneIsClobbered()
    {
        var (linked, native) = SampleBuild.LinkMusl("redzone", output.WriteLine);
        // Single-threaded: thread stacks are not faulted in ahead with the event stack off (the main one is).
        var script = "#!/bin/sh\n" + Mounts + Network +
                     $"/redzone-native --single --port 5000 {Rounds}\n" +
                     $"/UKL --single --port 5000 {Rounds}\necho \"UKL-STATUS=$?\"\nguest-exit 0\n";
        var (r, _) = await BootFlooded(linked, script, Files((native, "/redzone-native")) with
        {
            ExtraCmdline = "ukl.event_stack=off", TimeoutSeconds = 300,
        });
        Assert.Contains("ukl: ukl.event_stack=off", r.Console);
        var sums = Checksum.Matches(r.Console).Select(m => m.Groups[2].Value).ToList();
        Assert.True(sums.Count >= 1, $"the native run printed no checksum:\n{r}");
        bool clobbered = sums.Count == 1 || sums[1] != sums[0];
        Assert.True(clobbered, $"ring 0 computed the native checksum {sums[0]} although events used its stack:\n{r}");
    }
}
