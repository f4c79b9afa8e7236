using System.Diagnostics;
using UklLink.Cli;

namespace UklLink.Kernel.Tests;

/// <summary>One `ukl-link` invocation's outcome.</summary>
public sealed record UklResult(int Exit, string Stdout, string Stderr)
{
    public override string ToString() => $"exit {Exit}\n--- stdout\n{KernelBuild.Tail(Stdout, 60)}\n--- stderr\n{KernelBuild.Tail(Stderr, 40)}";
}

/// <summary>
/// Runs ukl-link the way a user does (in-process through the CLI entry point, or as a separate process when signals
/// and process groups matter), with the toolchain `ukl-link toolchain` prepares, for the run and toolchain tests.
/// </summary>
internal static class UklRun
{
    private static readonly Lazy<IReadOnlyDictionary<string, string>> MuslToolchain = new(() => Toolchain("musl"));

    /// <summary>ukl-link in this process (stdout and stderr captured).</summary>
    public static UklResult InProcess(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = UklLinkCli.Run(args, stdout, stderr);
        return new UklResult(code, stdout.ToString(), stderr.ToString());
    }

    /// <summary>
    /// ukl-link as a process of its own, leader of a new process group (as a shell's foreground job is), with SIGINT
    /// at its default whatever the test runner inherited, so that a group SIGINT is what a terminal's Ctrl-C is.
    /// </summary>
    public static Process Start(params string[] args)
    {
        var psi = new ProcessStartInfo("setsid")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var a in new[] { "env", "--default-signal=INT", "dotnet", typeof(UklLinkCli).Assembly.Location }.Concat(args))
            psi.ArgumentList.Add(a);
        var p = Process.Start(psi) ?? throw new InvalidOperationException("cannot start ukl-link");
        p.StandardInput.Close();
        return p;
    }

    /// <summary>Sends a signal to a process group (as the terminal does for Ctrl-C) or a process.</summary>
    public static void Kill(int pid, string signal, bool group)
    {
        // procps kill reads "-INT -PID" as two options; "-s INT -- -PID" names the group.
        using var kill = Process.Start("kill", ["-s", signal, "--", group ? $"-{pid}" : $"{pid}"])!;
        kill.WaitForExit();
        Assert.Equal(0, kill.ExitCode);
    }

    /// <summary>Processes whose command line contains <paramref name="marker"/> (a test's own temporary path).</summary>
    public static List<int> ProcessesMentioning(string marker)
    {
        var found = new List<int>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out int pid) || pid == Environment.ProcessId)
                continue;
            try
            {
                if (File.ReadAllText(Path.Combine(dir, "cmdline")).Contains(marker, StringComparison.Ordinal))
                    found.Add(pid);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
            }
        }
        return found;
    }

    /// <summary>`ukl-link toolchain --libc LIBC`'s assignments (CC, CXX, UKL_TOOLCHAIN, ...).</summary>
    public static IReadOnlyDictionary<string, string> Toolchain(string libc)
    {
        var r = InProcess("toolchain", "--libc", libc);
        Assert.True(r.Exit == 0, $"ukl-link toolchain --libc {libc}: {r}");
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in r.Stdout.Split('\n'))
        {
            foreach (var word in line.StartsWith("export ", StringComparison.Ordinal) ? line[7..].Split(' ') : [line])
            {
                int eq = word.IndexOf('=');
                if (eq > 0 && !word.StartsWith('#'))
                    values[word[..eq]] = word[(eq + 1)..].Trim('\'');
            }
        }
        Assert.True(values.ContainsKey("CC") && values.ContainsKey("CXX"), r.ToString());
        return values;
    }

    public static IReadOnlyDictionary<string, string> Musl => MuslToolchain.Value;

    private static readonly Lazy<string> SharedProbe = new(() => Probe(SampleBuild.Work("runprobe")));

    /// <summary>One runprobe vmlinux for every test of the run (built on first use).</summary>
    public static string ProbeVmlinux => SharedProbe.Value;

    /// <summary>Runs a shell command (bash -c) in <paramref name="dir"/> with extra environment; asserts success.</summary>
    public static string Shell(string command, string dir, IReadOnlyDictionary<string, string>? env = null, int timeoutMinutes = 30)
    {
        var psi = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = dir };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add(command);
        foreach (var (k, v) in env ?? new Dictionary<string, string>())
            psi.Environment[k] = v;
        using var p = Process.Start(psi)!;
        var so = p.StandardOutput.ReadToEndAsync();
        var se = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromMinutes(timeoutMinutes)))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"`{command}` did not finish in {timeoutMinutes} min");
        }
        Assert.True(p.ExitCode == 0, $"`{command}` in {dir} failed ({p.ExitCode}):\n{KernelBuild.Tail(se.Result + so.Result, 40)}");
        return so.Result;
    }

    /// <summary>runprobe (guest/runprobe.c) built by the musl ukl-cc and linked by ukl-link @runprobe.ukl-inputs.</summary>
    public static string Probe(string dir)
    {
        var m = KernelBuild.Ensure();
        string source = Path.Combine(KernelBuild.RepoRoot, "tests", "UklLink.Kernel.Tests", "guest", "runprobe.c");
        Shell($"\"$CC\" -O2 -Wall -o runprobe {source}", dir, Musl);
        string linked = Path.Combine(dir, "runprobe.vmlinux");
        var r = InProcess("link", "--kernel", m.Vmlinux, "-o", linked, "@" + Path.Combine(dir, "runprobe.ukl-inputs"));
        Assert.True(r.Exit == 0, r.ToString());
        return linked;
    }
}
