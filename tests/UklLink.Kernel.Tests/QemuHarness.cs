namespace UklLink.Kernel.Tests;

/// <summary>Outcome of one QEMU boot.</summary>
/// <param name="ExitStatus">Status the guest wrote to isa-debug-exit, or null if it reported none.</param>
/// <param name="Console">Everything the guest printed on its serial console.</param>
/// <param name="TimedOut">True when qemu-run killed QEMU at the timeout.</param>
/// <param name="Elapsed">Wall time of the QEMU run (boot to exit).</param>
public sealed record QemuResult(int? ExitStatus, string Console, bool TimedOut, TimeSpan Elapsed)
{
    public override string ToString() =>
        $"status={ExitStatus?.ToString() ?? "none"} timedOut={TimedOut} elapsed={Elapsed.TotalSeconds:F2}s\n" +
        KernelBuild.Tail(Console, 80);
}

/// <summary>
/// The machine the kernel tests boot, chosen for the whole run by environment variables so that ./test can run the
/// same tests on several machines: UKL_TEST_SMP (CPUs, default 1), UKL_TEST_CPU (QEMU CPU model, default qemu64) and
/// UKL_TEST_APPEND (added to every kernel command line, e.g. pti=on).
/// </summary>
public static class TestMachine
{
    public static int Smp { get; } = int.TryParse(Environment.GetEnvironmentVariable("UKL_TEST_SMP"), out int n) && n > 0 ? n : 1;
    public static string Cpu { get; } = Environment.GetEnvironmentVariable("UKL_TEST_CPU") is { Length: > 0 } c ? c : "qemu64";
    public static string? Append { get; } = Environment.GetEnvironmentVariable("UKL_TEST_APPEND") is { Length: > 0 } a ? a : null;

    public static string Describe() => $"-smp {Smp} -cpu {Cpu}{(Append is null ? "" : $", cmdline +\"{Append}\"")}";
}

public sealed record QemuOptions
{
    public int TimeoutSeconds { get; init; } = 60;
    public string? ExtraCmdline { get; init; }
    /// <summary>Number of CPUs (QEMU -smp, MTTCG when more than one).</summary>
    public int Smp { get; init; } = TestMachine.Smp;
    /// <summary>(host port, guest port) pairs forwarded on 127.0.0.1; enables an e1000 NIC.</summary>
    public IReadOnlyList<(int Host, int Guest)> HostForwards { get; init; } = [];
    public bool Network { get; init; }
    public string Cpu { get; init; } = TestMachine.Cpu;
    /// <summary>(host file, absolute path in the guest) pairs added to the initramfs.</summary>
    public IReadOnlyList<(string Source, string Dest)> ExtraFiles { get; init; } = [];
}

/// <summary>Boots a kernel with a busybox initramfs via kernel/mkinitramfs and kernel/qemu-run.</summary>
public static class QemuHarness
{
    /// <summary>
    /// Boots <paramref name="kernel"/> (a bzImage, or a vmlinux through PVH) with
    /// <paramref name="initScript"/> as /init. The script ends the run with
    /// <c>guest-exit N</c>.
    /// </summary>
    public static QemuResult Boot(string kernel, string initScript, QemuOptions? options = null)
    {
        options ??= new QemuOptions();
        var dir = Directory.CreateTempSubdirectory("ukl-qemu-");
        try
        {
            var init = Path.Combine(dir.FullName, "init");
            File.WriteAllText(init, initScript.ReplaceLineEndings("\n"));
            var initrd = Path.Combine(dir.FullName, "initramfs.cpio.gz");
            var mkArgs = new List<string> { "-o", initrd, "--init", init };
            foreach (var (src, dest) in options.ExtraFiles) mkArgs.AddRange(["--file", $"{src}:{dest}"]);
            var mk = KernelBuild.Run(KernelBuild.Script("mkinitramfs"), mkArgs, TimeSpan.FromMinutes(2));
            if (mk.Exit != 0)
                throw new InvalidOperationException($"mkinitramfs failed ({mk.Exit}): {mk.Stderr}");

            var console = Path.Combine(dir.FullName, "console.log");
            var args = new List<string>
            {
                "--kernel", kernel, "--initrd", initrd, "--console", console,
                "--timeout", options.TimeoutSeconds.ToString(), "--cpu", options.Cpu,
            };
            args.AddRange(["--smp", options.Smp.ToString()]);
            string? append = string.Join(' ', new[] { TestMachine.Append, options.ExtraCmdline }.OfType<string>());
            if (append.Length > 0) args.AddRange(["--append", append]);
            if (options.Network) args.Add("--net");
            foreach (var (host, guest) in options.HostForwards) args.AddRange(["--hostfwd", $"{host}:{guest}"]);

            var run = KernelBuild.Run(KernelBuild.Script("qemu-run"), args,
                TimeSpan.FromSeconds(options.TimeoutSeconds + 30));
            var summary = ParseSummary(run.Stdout);
            if (!summary.TryGetValue("STATUS", out var status))
                throw new InvalidOperationException(
                    $"qemu-run gave no summary (exit {run.Exit}):\n{run.Stdout}\n{run.Stderr}");
            // The guest tty turns "\n" into "\r\n"; hand back plain lines.
            var text = File.Exists(console) ? File.ReadAllText(console).Replace("\r\n", "\n") : "";
            return new QemuResult(
                status == "none" ? null : int.Parse(status),
                text,
                summary.GetValueOrDefault("TIMED_OUT") == "1",
                TimeSpan.FromMilliseconds(long.Parse(summary.GetValueOrDefault("WALL_MS", "0"))));
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    private static Dictionary<string, string> ParseSummary(string stdout)
    {
        var d = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in stdout.Split('\n', StringSplitOptions.TrimEntries))
        {
            var eq = line.IndexOf('=');
            if (eq > 0) d[line[..eq]] = line[(eq + 1)..];
        }
        return d;
    }
}
