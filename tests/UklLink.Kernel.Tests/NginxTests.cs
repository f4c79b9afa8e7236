using System.Diagnostics;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using UklLink.Cli;
using Xunit.Abstractions;

namespace UklLink.Kernel.Tests;

/// <summary>
/// nginx 1.22 from Debian's source (samples/nginx/build: the UKL flags, the UKL musl), linked by ukl-link and run as
/// /UKL in ring 0: a pre-forking server, a master process and two worker processes, each with its own .data/.bss
/// (nginx keeps its process role, its pid and its cycle in globals). Debian's curl on the host fetches a page through
/// a forwarded port; then SIGQUIT ends the master, which must exit with status 0 after its workers. Without
/// per-process data the workers' writes land in the master's globals and this breaks (docs/kernel.md).
/// </summary>
public sealed partial class NginxTests(ITestOutputHelper output)
{
    private const string Page = "hello from nginx in ring 0";

    private const string Script = """
        #!/bin/sh
        mount -t proc proc /proc; mount -t sysfs sysfs /sys; mount -t devtmpfs devtmpfs /dev 2>/dev/null
        ip link set lo up; ip link set eth0 up; ip addr add 10.0.2.15/24 dev eth0; ip route add default via 10.0.2.2
        mkdir -p /tmp/nginx /www; echo "hello from nginx in ring 0" > /www/index.html
        /UKL -p /tmp/nginx/ -c /etc/nginx.conf -e stderr & master=$!
        # The test connects here when it has fetched its pages (or the run times out).
        nc -l -p 8081 > /tmp/ctl
        # Printed now, not at the start, where it could race nginx's own startup output.
        echo "NGINX-MASTER $master"
        echo "NGINX-CTL: $(cat /tmp/ctl)"
        for f in /proc/[0-9]*/cmdline; do grep -q 'worker process' $f 2>/dev/null && echo "WORKER $(basename $(dirname $f))"; done
        kill -QUIT $master
        i=0; while kill -0 $master 2>/dev/null && [ $i -lt 150 ]; do usleep 100000; i=$((i+1)); done
        if kill -0 $master 2>/dev/null; then echo "NGINX-HANG"; guest-exit 3; fi
        wait $master; s=$?
        echo "NGINX-STATUS=$s"
        echo "WORKERS-AFTER $(for f in /proc/[0-9]*/cmdline; do grep -l 'worker process' $f 2>/dev/null; done | wc -l)"
        guest-exit $s
        """;

    private string LinkNginx()
    {
        var m = KernelBuild.Ensure();
        var build = KernelBuild.Run(Path.Combine(KernelBuild.RepoRoot, "samples", "nginx", "build"), ["--inputs"],
            TimeSpan.FromMinutes(20));
        Assert.True(build.Exit == 0, $"samples/nginx/build --inputs failed ({build.Exit}): {build.Stderr}");
        var inputs = build.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var dir = SampleBuild.Work("nginx");
        var linked = Path.Combine(dir, "vmlinux.nginx");
        var stderr = new StringWriter();
        int code = UklLinkCli.Run(["link", "--kernel", m.Vmlinux, "-o", linked, .. inputs], new StringWriter(), stderr);
        output.WriteLine(stderr.ToString());
        Assert.True(code == 0, stderr.ToString());
        return linked;
    }

    [GeneratedRegex(@"^X-Worker-Pid: (\d+)\s*$", RegexOptions.Multiline | RegexOptions.IgnoreCase)]
    private static partial Regex WorkerHeader();

    [Fact]
    public async Task PreForkingServerServesCurlAndShutsDownCleanlyOnSigquit()
    {
        var prereq = RedisTests.Tool(Path.Combine(KernelBuild.RepoRoot, "scripts", "ensure-prereqs"), "curl", 600);
        Assert.True(prereq.Exit == 0, prereq.Out);
        var linked = LinkNginx();
        var dir = SampleBuild.Work("nginx-guest");
        File.WriteAllText(Path.Combine(dir, "passwd"), "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n");
        File.WriteAllText(Path.Combine(dir, "group"), "root:x:0:\nnogroup:x:65534:\n");
        int port = SampleBuild.FreePort(), ctl = SampleBuild.FreePort();
        var guest = Task.Run(() => QemuHarness.Boot(linked, Script, new QemuOptions
        {
            TimeoutSeconds = 180,
            HostForwards = [(port, 80), (ctl, 8081)],
            ExtraFiles =
            [
                (SampleBuild.Placeholder, "/UKL"),
                (Path.Combine(KernelBuild.RepoRoot, "samples", "nginx", "nginx.conf"), "/etc/nginx.conf"),
                (Path.Combine(dir, "passwd"), "/etc/passwd"), (Path.Combine(dir, "group"), "/etc/group"),
            ],
        }));

        var boot = Stopwatch.StartNew();
        (int Exit, string Out) first = (-1, "");
        while (boot.Elapsed < TimeSpan.FromSeconds(120) && !guest.IsCompleted)
        {
            first = RedisTests.Tool("curl", $"-s -i -m 5 http://127.0.0.1:{port}/", 10);
            if (first.Exit == 0 && first.Out.Contains(Page, StringComparison.Ordinal)) break;
            await Task.Delay(500);
        }
        // 40 more requests, 4 at a time, each on its own connection: the workers take turns accepting.
        var answers = new List<(int Exit, string Out)> { first };
        for (int round = 0; round < 10 && !guest.IsCompleted; round++)
            answers.AddRange(await Task.WhenAll(Enumerable.Range(0, 4)
                .Select(_ => Task.Run(() => RedisTests.Tool("curl", $"-s -i -m 10 http://127.0.0.1:{port}/index.html", 20)))));
        var missing = RedisTests.Tool("curl", $"-s -o /dev/null -w %{{http_code}} -m 10 http://127.0.0.1:{port}/missing", 20);
        using (var c = new TcpClient())
        {
            try
            {
                await c.ConnectAsync("127.0.0.1", ctl);
                await c.GetStream().WriteAsync("done\n"u8.ToArray());
            }
            catch (SocketException e)
            {
                output.WriteLine($"control connection: {e.Message}");
            }
        }
        var r = await guest;
        output.WriteLine(r.ToString());
        Assert.False(r.TimedOut, r.ToString());

        Assert.True(answers.All(a => a.Exit == 0 && a.Out.StartsWith("HTTP/1.1 200 OK", StringComparison.Ordinal) &&
                                     a.Out.Contains(Page, StringComparison.Ordinal)),
            "not every request got the page:\n" + string.Join("\n---\n", answers.Where(a => !a.Out.Contains(Page)).Select(a => a.Out)) + "\n" + r);
        Assert.Equal("404", missing.Out.Trim());
        var master = Regex.Match(r.Console, @"^NGINX-MASTER (\d+)$", RegexOptions.Multiline).Groups[1].Value;
        var workers = Regex.Matches(r.Console, @"^WORKER (\d+)$", RegexOptions.Multiline).Select(m => m.Groups[1].Value).ToHashSet();
        Assert.Equal(2, workers.Count);
        Assert.DoesNotContain(master, workers);
        // Each answer came from one of the workers, never from the master.
        var servedBy = answers.Select(a => WorkerHeader().Match(a.Out).Groups[1].Value).ToList();
        output.WriteLine($"master {master}, workers {string.Join(' ', workers)}, answers by {string.Join(' ', servedBy.Distinct())}");
        Assert.All(servedBy, pid => Assert.Contains(pid, workers));

        // SIGQUIT: graceful shutdown; the workers exit 0, the master reaps them and exits 0; nothing is left.
        Assert.DoesNotContain("NGINX-HANG", r.Console);
        foreach (var w in workers)
            Assert.Matches($@"worker process {w} exited with code 0", r.Console);
        Assert.Contains("NGINX-STATUS=0", r.Console);
        Assert.Contains("WORKERS-AFTER 0", r.Console);
        Assert.Equal(0, r.ExitStatus);
        Assert.DoesNotContain("[alert]", r.Console);
        Assert.DoesNotContain("[emerg]", r.Console);
        Assert.DoesNotContain("segfault", r.Console);
        Assert.DoesNotContain("Oops", r.Console);
    }
}
