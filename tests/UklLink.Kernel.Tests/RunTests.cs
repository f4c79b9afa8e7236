using System.Diagnostics;
using System.Net.Sockets;
using Xunit.Abstractions;

namespace UklLink.Kernel.Tests;

/// <summary>
/// `ukl-link run` end to end under QEMU with guest/runprobe.c (ordinary C on musl, built by ukl-cc, linked by
/// `ukl-link link @runprobe.ukl-inputs`): exit statuses, arguments, environment, files, users, a forwarded port
/// answered from the host, Ctrl-C, --timeout, --detach with stop, and bad input.
/// </summary>
public sealed class RunTests(ITestOutputHelper output)
{
    private UklResult Run(params string[] args)
    {
        var r = UklRun.InProcess(["run", .. args]);
        output.WriteLine(r.ToString());
        return r;
    }

    [Theory]
    [InlineData("exit 0", 0)]
    [InlineData("exit 7", 7)]
    [InlineData("signal SEGV", 139)]
    [InlineData("signal KILL", 137)]
    public void TheApplicationsExitStatusIsRunsExitStatus(string command, int expected)
    {
        string vmlinux = UklRun.ProbeVmlinux;
        var r = Run(["-q", vmlinux, "--", .. command.Split(' ')]);
        Assert.Equal(expected, r.Exit);
        Assert.DoesNotContain("Oops", r.Stdout);
        Assert.Empty(UklRun.ProcessesMentioning(vmlinux));
    }

    [Fact]
    public void LinkAndRunInOneStepFromTheResponseFile()
    {
        var m = KernelBuild.Ensure();
        string inputs = Path.ChangeExtension(UklRun.ProbeVmlinux, null) + ".ukl-inputs";
        var r = Run("--kernel", m.Vmlinux, "@" + inputs, "--", "exit", "42");
        Assert.Equal(42, r.Exit);
        Assert.Contains("ukl-link: linked ", r.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void ArgumentsEnvironmentFilesDirectoriesAndUsersReachTheApplication()
    {
        string dir = SampleBuild.Work("runshow");
        File.WriteAllText(Path.Combine(dir, "data.txt"), "from the host\n");
        Directory.CreateDirectory(Path.Combine(dir, "tree", "sub"));
        File.WriteAllText(Path.Combine(dir, "tree", "sub", "leaf"), "leaf text\n");
        var r = Run("-q", "-e", "GREETING=hi there", "-e", "EMPTY=", "--file", $"{dir}/data.txt:/srv/data.txt",
            "--dir", $"{dir}/tree:/opt/tree", "-w", "/srv", UklRun.ProbeVmlinux,
            "--", "show", "GREETING", "EMPTY", "HOME", "UNSET", "--", "/srv/data.txt", "/opt/tree/sub/leaf", "data.txt", "it's \"quoted\"");
        Assert.Equal(0, r.Exit);
        string[] expected =
        [
            "runprobe: argv[0]=[/UKL]",
            "runprobe: argv[1]=[show]",
            "runprobe: argv[6]=[--]",
            "runprobe: argv[10]=[it's \"quoted\"]",
            "runprobe: env GREETING=[hi there]",
            "runprobe: env EMPTY=[]",
            "runprobe: env HOME=[/root]",
            "runprobe: env UNSET=[(unset)]",
            "runprobe: file /srv/data.txt=[from the host]",
            "runprobe: file /opt/tree/sub/leaf=[leaf text]",
            "runprobe: file data.txt=[from the host]",
            "runprobe: file it's \"quoted\"=[No such file or directory]",
            // /etc/passwd and /etc/group in the guest: getpwnam/getgrnam as on Debian.
            "runprobe: cwd=[/srv] nobody=65534 www-data=33",
        ];
        var lines = r.Stdout.Split('\n');
        foreach (var line in expected)
            Assert.Contains(line, lines);
    }

    [Fact]
    public async Task AForwardedPortIsAnsweredFromTheHostAndCtrlCStopsTheGuestCleanly()
    {
        string vmlinux = UklRun.ProbeVmlinux;
        int port = SampleBuild.FreePort();
        using var run = UklRun.Start("run", "-p", $"{port}:7000", "--wait-port", port.ToString(), vmlinux, "--", "serve", "7000");
        var stderr = new System.Text.StringBuilder();
        var ready = new ManualResetEventSlim();
        run.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            lock (stderr) stderr.AppendLine(e.Data);
            if (e.Data.Contains("ready: the application listens on host port", StringComparison.Ordinal)) ready.Set();
        };
        run.BeginErrorReadLine();
        var stdout = run.StandardOutput.ReadToEndAsync();
        try
        {
            Assert.True(ready.Wait(TimeSpan.FromMinutes(3)), $"no readiness line:\n{stderr}");
            using (var client = new TcpClient("127.0.0.1", port))
            {
                using var stream = client.GetStream();
                using var writer = new StreamWriter(stream) { AutoFlush = true, NewLine = "\n" };
                using var reader = new StreamReader(stream);
                writer.WriteLine("hello from the host");
                stream.ReadTimeout = 30000;
                Assert.Equal("runprobe: hello from the host", reader.ReadLine());
            }
            // A terminal's Ctrl-C: SIGINT to the whole foreground process group.
            UklRun.Kill(run.Id, "INT", group: true);
            Assert.True(run.WaitForExit(TimeSpan.FromSeconds(60)), $"ukl-link run did not exit after SIGINT:\n{stderr}");
            run.WaitForExit();
            string console = await stdout;
            output.WriteLine(console);
            output.WriteLine(stderr.ToString());
            Assert.Contains("runprobe: got SIGINT", console);
            Assert.Equal(3, run.ExitCode);
            Assert.Contains("sent SIGINT to the application", stderr.ToString());
            Assert.Empty(UklRun.ProcessesMentioning(vmlinux));
        }
        finally
        {
            if (!run.HasExited)
                run.Kill(entireProcessTree: true);
        }
    }

    [Fact]
    public void TimeoutStopsTheApplicationAndExits124()
    {
        var clock = Stopwatch.StartNew();
        var r = Run("--timeout", "20", UklRun.ProbeVmlinux, "--", "serve", "7000");
        Assert.Equal(124, r.Exit);
        Assert.Contains("runprobe: got SIGTERM", r.Stdout);
        Assert.Contains("--timeout 20 s reached", r.Stderr);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20 + 60), $"took {clock.Elapsed}");
    }

    [Fact]
    public void DetachReturnsWhenThePortListensAndStopReportsTheStatus()
    {
        string vmlinux = UklRun.ProbeVmlinux;
        string dir = SampleBuild.Work("detach");
        string pidFile = Path.Combine(dir, "probe.pid");
        int port = SampleBuild.FreePort();
        var started = Run("-d", "--pid-file", pidFile, "-p", $"{port}:7000", "--wait-port", port.ToString(), vmlinux, "--", "serve", "7000");
        try
        {
            Assert.Equal(0, started.Exit);
            Assert.Contains("running in the background", started.Stderr);
            int pid = int.Parse(File.ReadAllText(pidFile).Trim());
            Assert.Contains(pid, UklRun.ProcessesMentioning(vmlinux));
            using (var client = new TcpClient("127.0.0.1", port))
            {
                using var stream = client.GetStream();
                stream.ReadTimeout = 30000;
                using var writer = new StreamWriter(stream) { AutoFlush = true, NewLine = "\n" };
                using var reader = new StreamReader(stream);
                writer.WriteLine("still there?");
                Assert.Equal("runprobe: still there?", reader.ReadLine());
            }
        }
        finally
        {
            var stop = UklRun.InProcess("stop", pidFile);
            output.WriteLine(stop.ToString());
            Assert.Equal(3, stop.Exit);
        }
        Assert.False(File.Exists(pidFile));
        Assert.Empty(UklRun.ProcessesMentioning(vmlinux));
        Assert.Contains("runprobe: got SIGTERM", File.ReadAllText(pidFile + ".console"));
    }

    [Fact]
    public void BadInputIsOneLineAndExitTwoWithNothingLeftRunning()
    {
        string vmlinux = UklRun.ProbeVmlinux;
        var missing = Run("/nonexistent/app.vmlinux");
        Assert.Equal(2, missing.Exit);
        Assert.Equal("ukl-link: error: /nonexistent/app.vmlinux: no such file (give the vmlinux `ukl-link link -o` wrote)",
            Assert.Single(missing.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries)));

        var unlinked = Run(KernelBuild.Ensure().Vmlinux);
        Assert.Equal(2, unlinked.Exit);
        Assert.Contains("no application is linked into this kernel", Assert.Single(unlinked.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries)));

        var noFile = Run("--file", "/nonexistent/app.conf:/etc/app.conf", vmlinux);
        Assert.Equal(2, noFile.Exit);
        Assert.Equal("ukl-link: error: --file /nonexistent/app.conf: no such file", Assert.Single(noFile.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries)));

        using var busy = new TcpListener(System.Net.IPAddress.Loopback, 0);
        busy.Start();
        int port = ((System.Net.IPEndPoint)busy.LocalEndpoint).Port;
        var inUse = Run("-p", $"{port}:80", vmlinux);
        Assert.Equal(2, inUse.Exit);
        Assert.Equal($"ukl-link: error: -p {port}:80: host port 127.0.0.1:{port}/tcp is already in use; pick another host port",
            Assert.Single(inUse.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries)));
        Assert.Empty(UklRun.ProcessesMentioning(vmlinux));
    }
}
