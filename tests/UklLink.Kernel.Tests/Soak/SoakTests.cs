using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using Xunit.Abstractions;

namespace UklLink.Kernel.Tests.Soak;

/// <summary>
/// Soak under load, bounded in time (SoakSettings: short in ./test, long through bench/soak): Redis in ring 0 under
/// redis-benchmark's continuous load with a checker verifying every reply; samples/tcp_echo with many concurrent
/// clients verifying every byte; consecutive boot-run-exit cycles. Each reports requests served, errors (must be 0),
/// kernel problems on the console (must be none) and the guest's MemAvailable at start and end, as "soak:" lines
/// that bench/soak collects for docs/reliability.md.
/// </summary>
public sealed partial class SoakTests(ITestOutputHelper output)
{
    private static readonly string Placeholder = Path.Combine(KernelBuild.RepoRoot, "samples", "common", "UKL");

    private void Report(string line)
    {
        output.WriteLine($"soak: {line}");
        Console.WriteLine($"soak: {line}"); // bench/soak reads these from the test log
    }

    private static string MemorySummary(QemuResult r, out long start, out long end)
    {
        var mem = KernelConsole.Memory(r.Console);
        start = mem.FirstOrDefault(m => m.Tag == "START").KiB;
        end = mem.LastOrDefault(m => m.Tag == "END").KiB;
        long min = mem.Count > 0 ? mem.Min(m => m.KiB) : 0;
        return $"guest MemAvailable start {start / 1024.0:F1} MiB, lowest {min / 1024.0:F1} MiB, end {end / 1024.0:F1} MiB";
    }

    private static void AssertHealthy(QemuResult r, string what)
    {
        var problems = KernelConsole.Problems(r.Console);
        Assert.True(problems.Count == 0, $"{what}: the kernel reported problems:\n{string.Join('\n', problems.Take(20))}\n{r}");
    }

    // ------------------------------------------------------------------ Redis

    private static string RedisScript => $"""
        #!/bin/sh
        mount -t proc proc /proc; mount -t sysfs sysfs /sys; mount -t devtmpfs devtmpfs /dev 2>/dev/null
        ip link set lo up; ip link set eth0 up; ip addr add 10.0.2.15/24 dev eth0; ip route add default via 10.0.2.2
        {KernelConsole.MemoryProbe("START")}
        (while sleep 15; do {KernelConsole.MemoryProbe("RUN")}; done) &
        /UKL --port 6379 --protected-mode no --save '' --appendonly no --daemonize no
        s=$?
        {KernelConsole.MemoryProbe("END")}
        echo "UKL-STATUS=$s"
        guest-exit $s
        """;

    [GeneratedRegex(@"^(\w+):(\S*)\r?$", RegexOptions.Multiline)]
    private static partial Regex InfoField();

    private static Dictionary<string, string> Info(RespClient c, string section) =>
        InfoField().Matches((string)c.Call("INFO", section)!).ToDictionary(m => m.Groups[1].Value, m => m.Groups[2].Value);

    [Fact]
    public async Task RedisInRingZeroServesContinuousLoadAndEveryCheckedReplyIsRight()
    {
        RedisTests.EnsureRedisTools();
        var linked = RedisTests.LinkRedis();
        int port = SampleBuild.FreePort();
        var load = SoakSettings.RedisLoad;
        var guest = Task.Run(() => QemuHarness.Boot(linked, RedisScript, new QemuOptions
        {
            TimeoutSeconds = (int)load.TotalSeconds + 400,
            HostForwards = [(port, 6379)],
            ExtraFiles = [(Placeholder, "/UKL")],
        }));
        var boot = Stopwatch.StartNew();
        bool up = false;
        while (boot.Elapsed < TimeSpan.FromSeconds(180) && !guest.IsCompleted && !up)
        {
            up = RedisTests.Tool("redis-cli", $"-p {port} ping", 10).Out.Trim() == "PONG";
            if (!up)
                await Task.Delay(500);
        }
        if (!up)
            Assert.Fail($"Redis never answered PING:\n{(guest.IsCompleted ? (await guest).ToString() : "(guest still running)")}");

        // The load: short redis-benchmark runs (10 clients, 7 commands, random keys) one after the other until the time
        // is up; under QEMU TCG Redis serves a few thousand commands a second, so a run takes seconds.
        var clock = Stopwatch.StartNew();
        var end = DateTime.UtcNow + load;
        const int PerTest = 2000;
        const string Tests = "set,get,incr,lpush,lpop,sadd,hset";
        var bench = Task.Run(() =>
        {
            int runs = 0, failed = 0;
            string last = "";
            while (DateTime.UtcNow < end)
            {
                var b = RedisTests.Tool("redis-benchmark", $"-p {port} -q -n {PerTest} -c 10 -r 100000 -t {Tests} --csv", 300);
                if (b.Exit == 0 && b.Out.Split('\n').Count(l => l.StartsWith('"') && !l.StartsWith("\"test\"")) == 7)
                    runs++;
                else
                {
                    failed++;
                    last = b.Out;
                }
            }
            return (runs, failed, last);
        });
        var checkers = Enumerable.Range(0, 2).Select(w => new RedisChecker(port, w)).ToList();
        var checking = checkers.Select(c => Task.Run(() => c.Run(load))).ToList();
        Exception? checkerFailure = null;
        try
        {
            await Task.WhenAll(checking);
        }
        catch (Exception ex)
        {
            checkerFailure = ex;
        }
        var (runs, failedRuns, lastFailure) = await bench;
        var loadTime = clock.Elapsed;

        Dictionary<string, string> stats, memory;
        long dbsize;
        using (var c = new RespClient(port, TimeSpan.FromSeconds(30)))
        {
            stats = Info(c, "stats");
            memory = Info(c, "memory");
            dbsize = (long)c.Call("DBSIZE")!;
        }
        RedisTests.Tool("redis-cli", $"-p {port} shutdown nosave", 30);
        var r = await guest;
        File.WriteAllText(Path.Combine(Path.GetDirectoryName(linked)!, "console.log"), r.Console);

        long served = long.Parse(stats["total_commands_processed"], CultureInfo.InvariantCulture);
        long errorReplies = long.Parse(stats.GetValueOrDefault("total_error_replies", "0"), CultureInfo.InvariantCulture);
        long checkedOps = checkers.Sum(c => c.Operations);
        int mismatches = checkers.Sum(c => c.MismatchCount);
        var problems = KernelConsole.Problems(r.Console);
        Report($"redis: {loadTime.TotalSeconds:F0} s of load, {served} commands served ({served / loadTime.TotalSeconds:F0}/s), " +
               $"{runs} redis-benchmark runs of {PerTest} x 7 commands ({failedRuns} failed), {checkedOps} checked replies " +
               $"({mismatches} wrong), {errorReplies} error replies, {dbsize} keys, used_memory {memory.GetValueOrDefault("used_memory_human")}, " +
               $"{problems.Count} kernel problems; {MemorySummary(r, out long start, out long memEnd)}");
        foreach (var m in checkers.SelectMany(c => c.FirstMismatches))
            output.WriteLine($"mismatch: {m}");
        if (failedRuns > 0)
            output.WriteLine($"the last failed redis-benchmark run:\n{lastFailure}");

        Assert.Null(checkerFailure);
        Assert.True(mismatches == 0, string.Join('\n', checkers.SelectMany(c => c.FirstMismatches)));
        Assert.True(failedRuns == 0, $"{failedRuns} redis-benchmark runs failed, the last:\n{lastFailure}");
        Assert.True(runs >= 1, "redis-benchmark never completed a run");
        Assert.Equal(0, errorReplies);
        Assert.True(served >= runs * PerTest * 7L + checkedOps, $"Redis counted {served} commands, fewer than were sent");
        Assert.False(r.TimedOut, r.ToString());
        Assert.Contains("UKL-STATUS=0", r.Console);
        AssertHealthy(r, "redis");
        // Redis's memory comes back once it exits (16 MiB of slack for the page cache and the console).
        Assert.True(memEnd >= start - 16 * 1024, $"MemAvailable {start} kB at the start, {memEnd} kB after Redis exited");
    }

    // ------------------------------------------------------------------ tcp_echo

    private static string EchoScript => $"""
        #!/bin/sh
        mount -t proc proc /proc; mount -t devtmpfs devtmpfs /dev 2>/dev/null
        ifconfig lo 127.0.0.1 up
        ifconfig eth0 10.0.2.15 netmask 255.255.255.0 up
        {KernelConsole.MemoryProbe("START")}
        (while sleep 15; do {KernelConsole.MemoryProbe("RUN")}; done) &
        /UKL 7000 & srv=$!
        nc -l -p 7001 > /tmp/ctl
        kill -TERM $srv; wait $srv; s=$?
        {KernelConsole.MemoryProbe("END")}
        echo "UKL-STATUS=$s"
        guest-exit $s
        """;

    [GeneratedRegex(@"tcp_echo: exit accepted (\d+) closed (\d+) echoed (\d+) resets (\d+)\n")]
    private static partial Regex EchoExit();

    [Fact]
    public async Task TcpEchoInRingZeroEchoesEveryByteToManyConcurrentClients()
    {
        var linked = SampleBuild.Link("tcp_echo", s => output.WriteLine(s));
        int port = SampleBuild.FreePort(), control = SampleBuild.FreePort();
        var load = SoakSettings.EchoLoad;
        var boot = Task.Run(() => QemuHarness.Boot(linked, EchoScript, new QemuOptions
        {
            Network = true,
            HostForwards = [(port, 7000), (control, 7001)],
            TimeoutSeconds = (int)load.TotalSeconds + 400,
            ExtraFiles = [(SampleBuild.Placeholder, "/UKL")],
        }));
        const int Clients = 32;
        long connections = 0, bytes = 0, retries = 0, wrong = 0;
        var failures = new List<string>();
        var clock = Stopwatch.StartNew();
        try
        {
            Assert.True(await TcpEchoTests.WaitForServer(port, boot, TimeSpan.FromSeconds(120)), "the server never echoed");
            clock.Restart();
            var end = DateTime.UtcNow + load;
            var workers = Enumerable.Range(0, Clients).Select(w => Task.Run(async () =>
            {
                var rng = new Random(w);
                while (DateTime.UtcNow < end)
                {
                    var data = new byte[rng.Next(1, 128 * 1024)];
                    rng.NextBytes(data);
                    Socket? socket = null;
                    try
                    {
                        var (s, tries) = await TcpEchoTests.Open(port, data[0]);
                        socket = s;
                        Interlocked.Add(ref retries, tries);
                        var echo = await TcpEchoTests.Exchange(socket, data[1..], TimeSpan.FromSeconds(120));
                        if (!echo.AsSpan().SequenceEqual(data.AsSpan(1)))
                        {
                            Interlocked.Increment(ref wrong);
                            lock (failures)
                                failures.Add($"client {w}: {echo.Length + 1} bytes back for {data.Length}");
                        }
                        Interlocked.Increment(ref connections);
                        Interlocked.Add(ref bytes, data.Length);
                    }
                    catch (Exception ex) when (ex is SocketException or IOException or OperationCanceledException)
                    {
                        Interlocked.Increment(ref wrong);
                        lock (failures)
                            failures.Add($"client {w}: {ex.GetType().Name}: {ex.Message}");
                    }
                    finally
                    {
                        socket?.Dispose();
                    }
                }
            })).ToList();
            await Task.WhenAll(workers);
        }
        finally
        {
            await TcpEchoTests.Stop(control);
        }
        var loadTime = clock.Elapsed;
        var r = await boot;
        File.WriteAllText(Path.Combine(Path.GetDirectoryName(linked)!, "console.log"), r.Console);
        var exit = EchoExit().Match(r.Console);
        var problems = KernelConsole.Problems(r.Console);
        Report($"tcp_echo: {loadTime.TotalSeconds:F0} s, {Clients} concurrent clients, {connections} connections, " +
               $"{bytes / 1048576.0:F1} MiB echoed and checked ({2.0 * bytes / 1048576 / loadTime.TotalSeconds:F2} MiB/s both ways), " +
               $"{wrong} errors, {retries} connects reset by slirp before reaching the guest and retried, " +
               $"server: {(exit.Success ? exit.Value.Trim() : "no exit line")}, {problems.Count} kernel problems; {MemorySummary(r, out long start, out long memEnd)}");
        foreach (var f in failures.Take(10))
            output.WriteLine(f);

        Assert.True(wrong == 0, string.Join('\n', failures.Take(10)));
        Assert.True(connections >= Clients, $"only {connections} connections in {loadTime.TotalSeconds:F0} s");
        Assert.False(r.TimedOut, r.ToString());
        Assert.True(exit.Success, r.ToString());
        // Every accepted connection was closed again, and the server echoed at least every checked byte.
        Assert.Equal(exit.Groups[1].Value, exit.Groups[2].Value);
        Assert.True(long.Parse(exit.Groups[3].Value) >= bytes, exit.Value);
        Assert.Contains("UKL-STATUS=0", r.Console);
        AssertHealthy(r, "tcp_echo");
        Assert.True(memEnd >= start - 16 * 1024, $"MemAvailable {start} kB at the start, {memEnd} kB after tcp_echo exited");
    }

    // ------------------------------------------------------------------ boot cycles

    [Fact]
    public void ConsecutiveBootRunExitCycles()
    {
        var linked = SampleBuild.Link("hello", s => output.WriteLine(s));
        int cycles = SoakSettings.BootCycles;
        var times = new List<double>();
        int problems = 0;
        for (int i = 0; i < cycles; i++)
        {
            // Statuses 68..127: 68 is the one whose QEMU exit code (2*68+1 = 137) kernel/qemu-run took for a kill; from
            // 128 on, 2*N+1 no longer fits the 8-bit exit code, so isa-debug-exit can only report 0..127.
            int status = 68 + i % 60;
            string script = "#!/bin/sh\nmount -t proc proc /proc; mount -t devtmpfs devtmpfs /dev 2>/dev/null\n" +
                            $"/UKL {status} cycle{i}\ns=$?\necho \"UKL-STATUS=$s\"\nguest-exit $s\n";
            var r = QemuHarness.Boot(linked, script, new QemuOptions { TimeoutSeconds = 120, ExtraFiles = [(Placeholder, "/UKL")] });
            Assert.False(r.TimedOut, $"cycle {i}: {r}");
            Assert.True(r.Console.Contains($"[/UKL] [{status}] [cycle{i}]", StringComparison.Ordinal), $"cycle {i}: no output from /UKL\n{r}");
            Assert.Equal(status, r.ExitStatus);
            problems += KernelConsole.Problems(r.Console).Count;
            AssertHealthy(r, $"cycle {i}");
            times.Add(r.Elapsed.TotalSeconds);
        }
        var sorted = times.Order().ToList();
        Report($"boots: {cycles} consecutive boot-run-exit cycles, {cycles} right exit statuses, {problems} kernel problems; " +
               $"boot to exit min {sorted[0]:F2} s, median {sorted[sorted.Count / 2]:F2} s, max {sorted[^1]:F2} s");
    }
}
