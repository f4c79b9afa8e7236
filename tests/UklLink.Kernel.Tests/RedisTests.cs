using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using UklLink.Cli;
using Xunit.Abstractions;

namespace UklLink.Kernel.Tests;

/// <summary>
/// Redis 7.0 from Debian's source (samples/redis/build: the UKL flags, the UKL musl, MALLOC=libc), linked by
/// ukl-link and run as /UKL in ring 0 with networking; the host talks to it through a forwarded port with Debian's
/// redis-cli and redis-benchmark (package redis-tools, installed by scripts/ensure-prereqs when missing).
/// </summary>
public sealed class RedisTests(ITestOutputHelper output)
{
    private static readonly string Placeholder = Path.Combine(KernelBuild.RepoRoot, "samples", "common", "UKL");

    /// <summary>The guest's init: network as QEMU's user networking expects, then redis-server as /UKL.</summary>
    public const string InitScript =
        "#!/bin/sh\nmount -t proc proc /proc; mount -t sysfs sysfs /sys; mount -t devtmpfs devtmpfs /dev 2>/dev/null\n" +
        "ip link set lo up\nip link set eth0 up\nip addr add 10.0.2.15/24 dev eth0\nip route add default via 10.0.2.2\n" +
        "echo REDIS-BOOTED\n" +
        "/UKL --port 6379 --protected-mode no --save '' --appendonly no --daemonize no\n" +
        "s=$?\necho \"UKL-STATUS=$s\"\nguest-exit $s\n";

    /// <summary>The same, with Redis's I/O threads: 4 threads (the main one and 3 more) read and write the sockets.</summary>
    public static string ThreadedInitScript => InitScript.Replace("--daemonize no", "--daemonize no --io-threads 4 --io-threads-do-reads yes")
        .Replace("echo REDIS-BOOTED\n", "echo \"REDIS-BOOTED CPUS=$(nproc)\"\n");

    internal static (int Exit, string Out) Tool(string file, string args, int timeoutSeconds = 60)
    {
        var psi = new ProcessStartInfo(file, args) { RedirectStandardError = true, RedirectStandardOutput = true };
        using var p = Process.Start(psi)!;
        var so = p.StandardOutput.ReadToEndAsync();
        var se = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(timeoutSeconds * 1000))
        {
            p.Kill(entireProcessTree: true);
            return (-1, so.Result + se.Result + $"\n(timed out after {timeoutSeconds}s)");
        }
        return (p.ExitCode, so.Result + se.Result);
    }

    private static int FreePort()
    {
        var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        int port = ((IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        return port;
    }

    /// <summary>redis-cli and redis-benchmark on the host (package redis-tools).</summary>
    internal static void EnsureRedisTools()
    {
        var prereq = Tool(Path.Combine(KernelBuild.RepoRoot, "scripts", "ensure-prereqs"), "redis-tools", 600);
        Assert.True(prereq.Exit == 0, prereq.Out);
    }

    /// <summary>Redis's link inputs (samples/redis/build --inputs) and a fresh directory for what is made of them.</summary>
    private static (string[] Inputs, string Dir) RedisInputs(string name)
    {
        var build = KernelBuild.Run(Path.Combine(KernelBuild.RepoRoot, "samples", "redis", "build"), ["--inputs"],
            TimeSpan.FromMinutes(20));
        Assert.True(build.Exit == 0, $"samples/redis/build --inputs failed ({build.Exit}): {build.Stderr}");
        var inputs = build.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var dir = Path.Combine(Path.GetTempPath(), "ukl-link-tests", $"{name}-{Guid.NewGuid().ToString("N")[..8]}");
        Directory.CreateDirectory(dir);
        return (inputs, dir);
    }

    internal static string LinkRedis()
    {
        var m = KernelBuild.Ensure();
        var (inputs, dir) = RedisInputs("redis");
        var linked = Path.Combine(dir, "vmlinux.redis");
        var stderr = new StringWriter();
        int code = UklLinkCli.Run(["link", "--kernel", m.Vmlinux, "-o", linked, .. inputs], new StringWriter(), stderr);
        Assert.True(code == 0, stderr.ToString());
        return linked;
    }

    /// <summary>
    /// Redis with `io-threads 4` under concurrent load from the host: redis-benchmark with 50 clients while 4 clients
    /// of our own each increment a counter 500 times and write and read back 200 keys of their own. Every answer must
    /// be right and the counter exact; the guest's threads run on every CPU it has.
    /// </summary>
    [Fact]
    public async Task ThreadedRedisServesConcurrentClientsCorrectly()
    {
        EnsureRedisTools();
        var linked = LinkRedis();
        int port = FreePort();
        var boot = Stopwatch.StartNew();
        var guest = Task.Run(() => QemuHarness.Boot(linked, ThreadedInitScript, new QemuOptions
        {
            TimeoutSeconds = 300,
            HostForwards = [(port, 6379)],
            ExtraFiles = [(Placeholder, "/UKL")],
        }));
        bool up = false;
        while (boot.Elapsed < TimeSpan.FromSeconds(120) && !guest.IsCompleted)
        {
            if (Tool("redis-cli", $"-p {port} ping", 10).Out.Trim() == "PONG") { up = true; break; }
            await Task.Delay(250);
        }
        string bench = "";
        var clientResults = new List<string>();
        string counter = "", threads = "";
        if (up)
        {
            threads = Tool("redis-cli", $"-p {port} config get io-threads").Out;
            var benchTask = Task.Run(() => Tool("redis-benchmark", $"-p {port} -q -c 50 -n 4000 -t set,get,incr,lpush", 240).Out);
            // Each client pipes its commands through one redis-cli connection and checks every reply.
            var clients = Enumerable.Range(0, 4).Select(c => Task.Run(() =>
            {
                var cmds = new System.Text.StringBuilder();
                for (int i = 0; i < 500; i++) cmds.Append("INCR shared-counter\n");
                for (int i = 0; i < 200; i++) cmds.Append($"SET client{c}-key{i} value-{c}-{i * 7919}\n");
                for (int i = 0; i < 200; i++) cmds.Append($"GET client{c}-key{i}\n");
                var file = Path.Combine(Path.GetTempPath(), $"redis-cmds-{Guid.NewGuid():N}");
                File.WriteAllText(file, cmds.ToString());
                var psi = new ProcessStartInfo("sh", $"-c \"redis-cli -p {port} < {file}\"") { RedirectStandardOutput = true, RedirectStandardError = true };
                using var p = Process.Start(psi)!;
                var replies = p.StandardOutput.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries);
                p.WaitForExit();
                File.Delete(file);
                int bad = 0;
                var incrs = replies.Take(500).Select(r => long.TryParse(r, out long v) ? v : -1).ToList();
                bad += incrs.Count(v => v < 1 || v > 2000);
                bad += incrs.Zip(incrs.Skip(1)).Count(z => z.Second <= z.First); // one connection: increasing
                bad += replies.Skip(500).Take(200).Count(r => r != "OK");
                bad += replies.Skip(700).Select((r, i) => r == $"value-{c}-{i * 7919}" ? 0 : 1).Sum();
                return $"client {c}: {replies.Length} replies, {bad} wrong";
            })).ToArray();
            foreach (var t in clients) clientResults.Add(await t);
            bench = await benchTask;
            counter = Tool("redis-cli", $"-p {port} get shared-counter").Out.Trim();
            Tool("redis-cli", $"-p {port} shutdown nosave", 20);
        }
        var r = await guest;
        output.WriteLine($"io-threads: {threads}\nbenchmark:\n{bench}\n{string.Join('\n', clientResults)}\ncounter: {counter}");
        output.WriteLine(r.ToString());
        Assert.True(up, $"no PONG from redis in ring 0:\n{r}");
        Assert.Contains("4", threads);
        Assert.All(clientResults, c => Assert.EndsWith("900 replies, 0 wrong", c));
        Assert.Equal("2000", counter);
        var lines = bench.Split('\r', '\n').Select(l => l.Trim()).ToList();
        foreach (var test in new[] { "SET", "GET", "INCR", "LPUSH" })
            Assert.True(lines.Any(l => Regex.IsMatch(l, $@"^{test}: [0-9.]+ requests per second")), $"no {test} result:\n{bench}");
        Assert.False(r.TimedOut, r.ToString());
        Assert.Contains("UKL-STATUS=0", r.Console);
        Assert.DoesNotContain("Oops", r.Console);
        Assert.DoesNotContain("double fault", r.Console);
    }

    /// <summary>
    /// The same Redis objects linked by GNU ld as an ordinary static executable (text at 0x20000000: the kernel code
    /// model's sign-extended 32-bit addresses reach it too), so it runs in the same guest as a normal process.
    /// </summary>
    internal static string LinkRedisNative()
    {
        var (inputs, dir) = RedisInputs("redis-native");
        var exe = Path.Combine(dir, "redis-native");
        string libgcc = Tool("gcc", "-print-libgcc-file-name").Out.Trim();
        var ld = Tool("ld", $"-static -o {exe} -Ttext-segment=0x20000000 --start-group {string.Join(' ', inputs)} {libgcc} --end-group", 120);
        Assert.True(ld.Exit == 0, $"ld: {ld.Out}");
        return exe;
    }

    /// <summary>
    /// redis-benchmark with its default 50 connections, against the same Redis as a native process and as the UKL app,
    /// one after the other in one boot. Both must complete: before the forwarded port's listen backlog was raised
    /// (kernel/hostfwd-backlog) both stalled the same way, which is how that stall was shown not to be the kernel's.
    /// </summary>
    [Fact]
    public async Task NativeAndRingZeroRedisBothCompleteTheBenchmarkWith50Connections()
    {
        EnsureRedisTools();
        var linked = LinkRedis();
        var native = LinkRedisNative();
        int nativePort = FreePort(), uklPort = FreePort();
        string script = InitScript.Replace("/UKL --port 6379",
            "/redis-native --port 6380 --protected-mode no --save '' --appendonly no --daemonize no\n" +
            "echo \"NATIVE-STATUS=$?\"\n/UKL --port 6379");
        var guest = Task.Run(() => QemuHarness.Boot(linked, script, new QemuOptions
        {
            TimeoutSeconds = 400,
            HostForwards = [(uklPort, 6379), (nativePort, 6380)],
            ExtraFiles = [(Placeholder, "/UKL"), (native, "/redis-native")],
        }));
        var results = new Dictionary<string, string>();
        foreach (var (mode, port) in new[] { ("native", nativePort), ("ukl", uklPort) })
        {
            var clock = Stopwatch.StartNew();
            bool up = false;
            while (clock.Elapsed < TimeSpan.FromSeconds(120) && !guest.IsCompleted)
            {
                if (Tool("redis-cli", $"-p {port} ping", 10).Out.Trim() == "PONG") { up = true; break; }
                await Task.Delay(250);
            }
            Assert.True(up, $"{mode}: no PONG on port {port}");
            // The mode is the server's own report: the UKL app runs in ring 0 as /UKL, the native one as /redis-native.
            string exe = Tool("redis-cli", $"-p {port} info server", 10).Out;
            Assert.Contains(mode == "ukl" ? "executable:/UKL" : "executable:/redis-native", exe);
            results[mode] = Tool("redis-benchmark", $"-p {port} -q -n 2000 -t set,get", 150).Out;
            Tool("redis-cli", $"-p {port} shutdown nosave", 20);
        }
        var r = await guest;
        output.WriteLine(r.ToString());
        foreach (var (mode, bench) in results)
        {
            var lines = bench.Split('\r', '\n').Select(l => l.Trim()).ToList();
            foreach (var test in new[] { "SET", "GET" })
            {
                var line = lines.LastOrDefault(l => Regex.IsMatch(l, $@"^{test}: [0-9.]+ requests per second"));
                Assert.True(line is not null, $"{mode}: no {test} result (stalled?):\n{bench}");
                output.WriteLine($"{mode} {line}");
            }
        }
        Assert.Contains("NATIVE-STATUS=0", r.Console);
        Assert.Contains("UKL-STATUS=0", r.Console);
        Assert.DoesNotContain("Oops", r.Console);
    }

    [Fact]
    public async Task RedisServerAnswersPingSetGetAndTheBenchmark()
    {
        EnsureRedisTools();
        var linked = LinkRedis();
        int port = FreePort();
        var boot = Stopwatch.StartNew();
        var guest = Task.Run(() => QemuHarness.Boot(linked, InitScript, new QemuOptions
        {
            TimeoutSeconds = 150,
            HostForwards = [(port, 6379)],
            ExtraFiles = [(Placeholder, "/UKL")],
        }));

        string? pong = null;
        while (boot.Elapsed < TimeSpan.FromSeconds(90) && !guest.IsCompleted)
        {
            var ping = Tool("redis-cli", $"-p {port} ping", 10);
            if (ping.Out.Trim() == "PONG") { pong = ping.Out.Trim(); break; }
            await Task.Delay(250);
        }
        var bootToPong = boot.Elapsed;
        string set = "", get = "", bench = "", shutdown = "";
        if (pong is not null)
        {
            set = Tool("redis-cli", $"-p {port} set ukl-key ring0-value").Out.Trim();
            get = Tool("redis-cli", $"-p {port} get ukl-key").Out.Trim();
            bench = Tool("redis-benchmark", $"-p {port} -q -n 2000 -t set,get", 120).Out;
            shutdown = Tool("redis-cli", $"-p {port} shutdown nosave", 20).Out;
        }
        var r = await guest;
        output.WriteLine($"boot to PONG: {bootToPong.TotalSeconds:F2}s");
        output.WriteLine($"SET: {set}\nGET: {get}\nbenchmark:\n{bench}\nshutdown: {shutdown}");
        output.WriteLine(r.ToString());
        Assert.True(pong == "PONG", $"no PONG from redis in ring 0:\n{r}");
        Assert.Equal("OK", set);
        Assert.Equal("ring0-value", get);
        // redis-benchmark -q prints "SET: 1234.56 requests per second, p50=... msec" (the line may follow \r updates).
        var lines = bench.Split('\r', '\n').Select(l => l.Trim()).ToList();
        foreach (var test in new[] { "SET", "GET" })
        {
            var line = lines.LastOrDefault(l => l.StartsWith(test + ":"));
            Assert.True(line is not null && Regex.IsMatch(line, @"^\w+: [0-9.]+ requests per second"), $"no {test} result:\n{bench}");
            output.WriteLine(line);
        }
        Assert.False(r.TimedOut, r.ToString());
        Assert.Contains("Ready to accept connections", r.Console);
        Assert.Contains("UKL-STATUS=0", r.Console);
        Assert.Equal(0, r.ExitStatus);
        Assert.DoesNotContain("Oops", r.Console);
        Assert.DoesNotContain("double fault", r.Console);
    }

    /// <summary>
    /// The guest's init for the persistence test: Redis A serves with a save dir; once A's BGSAVE has written
    /// /tmp/dump.rdb (rename-on-completion), Redis B starts as a second /UKL process on another port and loads it.
    /// </summary>
    private const string PersistenceScript =
        "#!/bin/sh\nmount -t proc proc /proc; mount -t sysfs sysfs /sys; mount -t devtmpfs devtmpfs /dev 2>/dev/null\n" +
        "ip link set lo up\nip link set eth0 up\nip addr add 10.0.2.15/24 dev eth0\nip route add default via 10.0.2.2\n" +
        "/UKL --port 6379 --protected-mode no --save '' --appendonly no --dir /tmp --dbfilename dump.rdb --daemonize no & a=$!\n" +
        "until [ -s /tmp/dump.rdb ]; do usleep 200000; done\necho DUMP-WRITTEN\n" +
        "/UKL --port 6380 --protected-mode no --save '' --appendonly no --dir /tmp --dbfilename dump.rdb --daemonize no & b=$!\n" +
        "wait $a; echo \"A-STATUS=$?\"\nwait $b; echo \"B-STATUS=$?\"\nguest-exit 0\n";

    /// <summary>One RESP command on an open connection; returns the first reply line.</summary>
    private static async Task<string> Command(NetworkStream s, StreamReader reader, params string[] args)
    {
        var sb = new System.Text.StringBuilder($"*{args.Length}\r\n");
        foreach (var a in args) sb.Append($"${System.Text.Encoding.UTF8.GetByteCount(a)}\r\n{a}\r\n");
        await s.WriteAsync(System.Text.Encoding.UTF8.GetBytes(sb.ToString()));
        return await reader.ReadLineAsync() ?? "";
    }

    private static int DbSize(int port) => int.Parse(Tool("redis-cli", $"-p {port} dbsize").Out.Trim());

    /// <summary>
    /// BGSAVE forks Redis; the child writes a snapshot of the data while the serving parent keeps taking writes from a
    /// host client. The parent's data set stays complete, and the dump, loaded by a fresh Redis (a second /UKL process
    /// running at the same time), has every key written before the BGSAVE and exactly a prefix of the keys the writer
    /// was adding (a consistent snapshot).
    /// </summary>
    [Fact]
    public async Task BgsaveWhileAClientWritesDumpsAConsistentSnapshotThatASecondInstanceLoads()
    {
        EnsureRedisTools();
        var linked = LinkRedis();
        int portA = FreePort(), portB = FreePort();
        var guest = Task.Run(() => QemuHarness.Boot(linked, PersistenceScript, new QemuOptions
        {
            TimeoutSeconds = 240,
            HostForwards = [(portA, 6379), (portB, 6380)],
            ExtraFiles = [(Placeholder, "/UKL")],
        }));
        async Task<bool> WaitPong(int port)
        {
            var sw = Stopwatch.StartNew();
            while (sw.Elapsed < TimeSpan.FromSeconds(120) && !guest.IsCompleted)
            {
                if (Tool("redis-cli", $"-p {port} ping", 10).Out.Trim() == "PONG") return true;
                await Task.Delay(250);
            }
            return false;
        }

        const int Base = 1000;
        string bgsave = "", info = "";
        int written = 0, beforeBgsave = 0, dbA = -1, dbB = -1, wInB = -1, maxWInB = -1;
        var kInB = new List<string>();
        bool pongA = await WaitPong(portA), pongB = false;
        if (pongA)
        {
            var pipe = string.Concat(Enumerable.Range(0, Base).Select(i => $"SET k:{i} v:{i}\n"));
            var psi = new ProcessStartInfo("redis-cli", $"-p {portA} --pipe")
                { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
            using (var p = Process.Start(psi)!)
            {
                await p.StandardInput.WriteAsync(pipe);
                p.StandardInput.Close();
                output.WriteLine((await p.StandardOutput.ReadToEndAsync()).Trim());
                await p.WaitForExitAsync();
            }

            using var client = new TcpClient();
            await client.ConnectAsync("127.0.0.1", portA);
            var stream = client.GetStream();
            var reader = new StreamReader(stream);
            var stop = new CancellationTokenSource();
            var writer = Task.Run(async () =>
            {
                while (!stop.IsCancellationRequested && written < 100000)
                {
                    Assert.Equal("+OK", await Command(stream, reader, "SET", $"w:{written}", $"x:{written}"));
                    written++;
                }
            });
            while (written < 200 && !writer.IsCompleted) await Task.Delay(20);
            beforeBgsave = written;
            bgsave = Tool("redis-cli", $"-p {portA} bgsave").Out.Trim();
            var sw = Stopwatch.StartNew();
            do
            {
                await Task.Delay(300);
                info = Tool("redis-cli", $"-p {portA} info persistence").Out;
            } while (!info.Contains("rdb_bgsave_in_progress:0") && sw.Elapsed < TimeSpan.FromSeconds(60));
            await Task.Delay(500);
            stop.Cancel();
            await writer;
            dbA = DbSize(portA);

            pongB = await WaitPong(portB);
            if (pongB)
            {
                dbB = DbSize(portB);
                var ws = Tool("redis-cli", $"-p {portB} --scan --pattern w:*", 60).Out
                    .Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                    .Select(k => int.Parse(k[2..])).ToList();
                wInB = ws.Count;
                maxWInB = ws.Count == 0 ? -1 : ws.Max();
                foreach (var i in new[] { 0, 1, Base / 2, Base - 1 })
                    kInB.Add(Tool("redis-cli", $"-p {portB} get k:{i}").Out.Trim());
            }
            output.WriteLine($"A: {written} keys written by the client ({beforeBgsave} before BGSAVE), dbsize {dbA}; " +
                             $"B: dbsize {dbB}, {wInB} writer keys, highest w:{maxWInB}");
            output.WriteLine(Tool("redis-cli", $"-p {portA} shutdown nosave", 20).Out);
            output.WriteLine(Tool("redis-cli", $"-p {portB} shutdown nosave", 20).Out);
        }
        var r = await guest;
        output.WriteLine(r.ToString());
        Assert.True(pongA, $"no PONG from redis A:\n{r}");
        Assert.Equal("Background saving started", bgsave);
        Assert.Contains("rdb_last_bgsave_status:ok", info);
        Assert.Contains("Background saving terminated with success", r.Console);
        // The serving parent: every key, the ones written while the child saved too.
        Assert.Equal(Base + written, dbA);
        Assert.True(written > beforeBgsave, "the writer added nothing while the child saved");
        // The snapshot: all k:*, and w:0..w:(m-1) for some m between the keys acked before BGSAVE and all of them.
        Assert.True(pongB, $"no PONG from redis B (loading the dump):\n{r}");
        Assert.Equal(new[] { "v:0", "v:1", $"v:{Base / 2}", $"v:{Base - 1}" }, kInB);
        Assert.Equal(Base + wInB, dbB);
        Assert.Equal(wInB - 1, maxWInB);
        Assert.InRange(wInB, beforeBgsave, written);
        Assert.Contains("DB loaded from disk", r.Console);
        Assert.Contains("A-STATUS=0", r.Console);
        Assert.Contains("B-STATUS=0", r.Console);
        Assert.False(r.TimedOut, r.ToString());
        Assert.DoesNotContain("Oops", r.Console);
        Assert.DoesNotContain("segfault", r.Console);
    }
}

