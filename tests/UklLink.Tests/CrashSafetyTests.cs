using System.Diagnostics;
using System.Text.RegularExpressions;
using UklLink.Tests.Link;
using UklLink.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace UklLink.Tests;

/// <summary>
/// Outputs survive a killed or starved ukl-link: `link` and `pack` run as real processes and are killed with SIGKILL
/// at every system call that writes, names or syncs the output (strace's syscall fault injection), and after a range
/// of delays, or run out of space on a small tmpfs. After each, the output path holds the previous output byte for
/// byte or the complete new one, and no other file is in the directory, except the one named temporary file a kill
/// between linkat and rename can leave (AtomicFile), which the next run of the same output removes.
/// </summary>
public sealed partial class CrashSafetyTests(ITestOutputHelper output)
{
    private static readonly string UklLinkDll = Path.Combine(AppContext.BaseDirectory, "ukl-link.dll");

    /// <summary>The calls on the way from the first byte to the renamed output (write: pack's stream and the map).</summary>
    private static readonly string[] WriteSyscalls = ["copy_file_range", "pwrite64", "write", "ftruncate", "fsync", "linkat", "rename"];

    private sealed record Scenario(string Name, string OutputName, Func<string, string[]> Arguments, byte[] Previous, byte[] Expected, string[] OtherOutputs);

    private sealed record Run(int ExitCode, bool Killed, string Stderr);

    // ------------------------------------------------------------------ scenarios

    /// <summary>Link a small application into the 12 MiB stand-in kernel (copy, edits, appended symbols) with a map.</summary>
    private static Scenario LinkScenario(string dir)
    {
        var kernel = TestKernel.Fake.Vmlinux;
        string app = Toolchain.CompileC("extern int kprint(const char *);\nint counter = 3;\nvoid _start(void) { kprint(\"hi\"); counter++; }\n", Toolchain.UklFlags + " -g", "crashapp");
        string older = Toolchain.CompileC("void _start(void) { for (;;) ; }\n", Toolchain.UklFlags, "crashold");
        string[] Args(string output, string input) =>
            ["link", "-q", "--kernel", kernel, "-o", output, "--map", Path.Combine(Path.GetDirectoryName(output)!, "app.map"), input];
        string reference = Path.Combine(dir, "reference");
        Directory.CreateDirectory(reference);
        var expected = Produce(Args(Path.Combine(reference, "vmlinux.app"), app), Path.Combine(reference, "vmlinux.app"));
        var previous = Produce(Args(Path.Combine(reference, "vmlinux.old"), older), Path.Combine(reference, "vmlinux.old"));
        Assert.NotEqual(previous, expected);
        return new Scenario("link", "vmlinux.app", o => Args(o, app), previous, expected, ["app.map"]);
    }

    /// <summary>Pack an 8 MiB synthetic vmlinux (written through a stream) into a bzImage.</summary>
    private static Scenario PackScenario(string dir)
    {
        string inputs = Path.Combine(dir, "inputs");
        Directory.CreateDirectory(inputs);
        string vmlinux = BootFixtures.WriteTemp(inputs, "vmlinux", BootFixtures.Vmlinux([new FakeSegment(0x1000000, 8 << 20, 8 << 20), new FakeSegment(0x1a00000, 0x3003, 0x9000, 6)]));
        string small = BootFixtures.WriteTemp(inputs, "vmlinux.small", BootFixtures.Vmlinux(BootFixtures.KernelLikeSegments()));
        string setup = BootFixtures.WriteTemp(inputs, "setup.bin", BootFixtures.SetupBin());
        string[] Args(string output, string kernel) => ["pack", "-q", "--kernel", kernel, "--setup", setup, "-o", output];
        var expected = Produce(Args(Path.Combine(inputs, "bz.new"), vmlinux), Path.Combine(inputs, "bz.new"));
        var previous = Produce(Args(Path.Combine(inputs, "bz.old"), small), Path.Combine(inputs, "bz.old"));
        return new Scenario("pack", "bzImage", o => Args(o, vmlinux), previous, expected, []);
    }

    private static byte[] Produce(string[] args, string output)
    {
        var r = Start(args, null, null);
        Assert.True(r.ExitCode == 0, $"ukl-link {string.Join(' ', args)}: exit {r.ExitCode}\n{r.Stderr}");
        return File.ReadAllBytes(output);
    }

    // ------------------------------------------------------------------ running and killing

    /// <summary>Runs ukl-link (under strace when <paramref name="inject"/> is a fault spec) and, with <paramref name="killAfter"/>, SIGKILLs it then.</summary>
    private static Run Start(string[] args, string? inject, TimeSpan? killAfter)
    {
        var psi = inject is null ? new ProcessStartInfo("dotnet") : new ProcessStartInfo("strace");
        if (inject is not null)
            foreach (var a in new[] { "-f", "-qq", "-o", "/dev/null", "-e", $"trace={inject.Split(':')[0]}", "-e", $"inject={inject}", "dotnet" })
                psi.ArgumentList.Add(a);
        psi.ArgumentList.Add(UklLinkDll);
        foreach (var a in args)
            psi.ArgumentList.Add(a);
        psi.RedirectStandardError = true;
        psi.RedirectStandardOutput = true;
        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        _ = p.StandardOutput.ReadToEndAsync();
        bool killed = false;
        if (killAfter is { } delay && !p.WaitForExit(delay))
        {
            p.Kill(); // SIGKILL
            killed = true;
        }
        if (!p.WaitForExit(TimeSpan.FromSeconds(120)))
        {
            p.Kill(entireProcessTree: true);
            Assert.Fail($"ukl-link {string.Join(' ', args)} did not finish within 120 s");
        }
        p.WaitForExit();
        // strace reports the traced program's fate: killed by the injected SIGKILL is exit status 128+9 from strace.
        killed |= p.ExitCode == 137 || stderr.Result.Contains("+++ killed by SIGKILL", StringComparison.Ordinal);
        return new Run(p.ExitCode, killed, stderr.Result);
    }

    [GeneratedRegex(@"^\..+\.[0-9]+\.[0-9a-f]{32}\.tmp$")]
    private static partial Regex TemporaryName();

    /// <summary>
    /// The state after an interrupted run: the output is the previous or the new one (never anything else), the other
    /// outputs are complete or absent, and besides them at most one named temporary file from the linkat-rename window.
    /// </summary>
    private static string? CheckState(Scenario s, string dir, string what, bool allowTemporary)
    {
        string outputPath = Path.Combine(dir, s.OutputName);
        Assert.True(File.Exists(outputPath), $"{what}: the previous output is gone");
        var bytes = File.ReadAllBytes(outputPath);
        bool previous = bytes.AsSpan().SequenceEqual(s.Previous), complete = bytes.AsSpan().SequenceEqual(s.Expected);
        Assert.True(previous || complete, $"{what}: the output is neither the previous one nor the complete new one ({bytes.Length} bytes)");
        string? temporary = null;
        foreach (var file in Directory.GetFiles(dir).Select(Path.GetFileName))
        {
            if (file == s.OutputName || s.OtherOutputs.Contains(file))
                continue;
            Assert.True(allowTemporary && temporary is null && TemporaryName().IsMatch(file!), $"{what}: left {file} behind");
            temporary = file;
        }
        return temporary;
    }

    /// <summary>One interrupted run in a fresh directory holding the previous output; returns whether it was killed.</summary>
    private bool Interrupt(Scenario s, string root, string what, string? inject, TimeSpan? killAfter, Func<string, bool> allowTemporary)
    {
        string dir = Path.Combine(root, $"{s.Name}-{Guid.NewGuid():N}"[..24]);
        Directory.CreateDirectory(dir);
        File.WriteAllBytes(Path.Combine(dir, s.OutputName), s.Previous);
        var r = Start(s.Arguments(Path.Combine(dir, s.OutputName)), inject, killAfter);
        if (!r.Killed)
            Assert.True(r.ExitCode == 0, $"{what}: exit {r.ExitCode} without being killed\n{r.Stderr}");
        var temporary = CheckState(s, dir, what, r.Killed && allowTemporary(inject ?? ""));
        if (temporary is not null)
        {
            // The next run of the same output removes what the killed one left, and completes.
            output.WriteLine($"{what}: killed between linkat and rename, left {temporary}; the next run removes it");
            var again = Start(s.Arguments(Path.Combine(dir, s.OutputName)), null, null);
            Assert.True(again.ExitCode == 0, again.Stderr);
            CheckState(s, dir, what + " then a clean run", allowTemporary: false);
            Assert.Equal(s.Expected, File.ReadAllBytes(Path.Combine(dir, s.OutputName)));
        }
        Directory.Delete(dir, recursive: true);
        return r.Killed;
    }

    private void KillAtEverySyscall(Scenario s)
    {
        Toolchain.Run($"'{Path.Combine(RepositoryPaths.Root, "scripts", "ensure-prereqs")}' strace");
        string root = Toolchain.NewWorkDirectory();
        int kills = 0;
        foreach (var call in WriteSyscalls)
        {
            // Kill at the 1st, 2nd, ... call until one run completes (the count varies: the runtime writes too).
            for (int n = 1; n <= 24; n++)
            {
                string inject = $"{call}:signal=KILL:when={n}";
                if (!Interrupt(s, root, $"{s.Name}, SIGKILL at {call} #{n}", inject, null, i => i.StartsWith("rename:", StringComparison.Ordinal)))
                    break;
                kills++;
            }
        }
        output.WriteLine($"{s.Name}: {kills} runs killed at a system call");
        Assert.True(kills >= 8, $"only {kills} kills: the injection is not reaching the writes");
    }

    private void KillAfterDelays(Scenario s)
    {
        string root = Toolchain.NewWorkDirectory();
        // How long an uninterrupted run takes here (the median of three), then kills spread over that time.
        var runs = new List<TimeSpan>();
        for (int i = 0; i < 3; i++)
        {
            var clock = Stopwatch.StartNew();
            Interrupt(s, root, $"{s.Name}, uninterrupted", null, null, _ => false);
            runs.Add(clock.Elapsed);
        }
        var full = runs.Order().ElementAt(1);
        int killed = 0;
        const int Points = 24;
        for (int i = 0; i < Points; i++)
        {
            var delay = TimeSpan.FromMilliseconds(full.TotalMilliseconds * i / Points);
            if (Interrupt(s, root, $"{s.Name}, SIGKILL after {delay.TotalMilliseconds:F0} ms", null, delay, _ => true))
                killed++;
        }
        output.WriteLine($"{s.Name}: uninterrupted run {full.TotalMilliseconds:F0} ms; {killed} of {Points} runs killed on the way");
        // Run times vary with the machine's load; most kills must still land before the end.
        Assert.True(killed >= Points / 3, $"only {killed} of {Points} runs were killed before finishing");
    }

    [Fact]
    public void LinkKilledAtEveryWriteSyscallLeavesThePreviousOutputOrTheNewOne() =>
        KillAtEverySyscall(LinkScenario(Toolchain.NewWorkDirectory()));

    [Fact]
    public void PackKilledAtEveryWriteSyscallLeavesThePreviousOutputOrTheNewOne() =>
        KillAtEverySyscall(PackScenario(Toolchain.NewWorkDirectory()));

    [Fact]
    public void LinkKilledAfterEveryDelayLeavesThePreviousOutputOrTheNewOne() =>
        KillAfterDelays(LinkScenario(Toolchain.NewWorkDirectory()));

    [Fact]
    public void PackKilledAfterEveryDelayLeavesThePreviousOutputOrTheNewOne() =>
        KillAfterDelays(PackScenario(Toolchain.NewWorkDirectory()));

    [Fact]
    public void StaleTemporaryFilesOfDeadWritersAreRemovedAndLiveOnesKept()
    {
        var s = PackScenario(Toolchain.NewWorkDirectory());
        string dir = Toolchain.NewWorkDirectory();
        string outputPath = Path.Combine(dir, s.OutputName);
        File.WriteAllBytes(outputPath, s.Previous);
        // A pid that is not running (above the kernel's pid_max) and this test's own, live, pid.
        int deadPid = int.Parse(File.ReadAllText("/proc/sys/kernel/pid_max").Trim()) + 1;
        string dead = Path.Combine(dir, $".{s.OutputName}.{deadPid}.{Guid.NewGuid():N}.tmp");
        string live = Path.Combine(dir, $".{s.OutputName}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        string otherOutput = Path.Combine(dir, $".other.{deadPid}.{Guid.NewGuid():N}.tmp");
        foreach (var f in new[] { dead, live, otherOutput })
            File.WriteAllText(f, "partial");
        var r = Start(s.Arguments(outputPath), null, null);
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.False(File.Exists(dead), "the dead writer's temporary file is still there");
        Assert.True(File.Exists(live), "a live writer's temporary file was removed");
        Assert.True(File.Exists(otherOutput), "another output's temporary file was removed");
        Assert.Equal(s.Expected, File.ReadAllBytes(outputPath));
    }

    // ------------------------------------------------------------------ a full disk

    /// <summary>
    /// Runs a shell script in a private mount namespace with DIR a tmpfs of <paramref name="size"/>: as root with
    /// `unshare -m`, otherwise in a user namespace (`unshare -rm`). Null when neither is allowed here.
    /// </summary>
    private static (int Exit, string Output)? OnSmallTmpfs(string dir, string size, string script)
    {
        bool root = Environment.UserName == "root" || Toolchain.Run("id -u").Trim() == "0";
        string unshare = root ? "unshare -m" : "unshare -rm";
        string probe = Toolchain.Run($"{unshare} true >/dev/null 2>&1 && echo yes || echo no").Trim();
        if (probe != "yes")
            return null;
        string full = $"mount -t tmpfs -o size={size} tmpfs '{dir}' || exit 99\n{script}";
        var psi = new ProcessStartInfo("bash", ["-c", $"{unshare} bash -c \"$0\"", full]) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var p = Process.Start(psi)!;
        var so = p.StandardOutput.ReadToEndAsync();
        var se = p.StandardError.ReadToEndAsync();
        Assert.True(p.WaitForExit(TimeSpan.FromSeconds(120)), "the tmpfs run did not finish");
        return (p.ExitCode, so.Result + se.Result);
    }

    private void DiskFull(Scenario s)
    {
        string dir = Toolchain.NewWorkDirectory();
        string mount = Path.Combine(dir, "full");
        Directory.CreateDirectory(mount);
        string previous = BootFixtures.WriteTemp(dir, "previous", s.Previous);
        string outputPath = Path.Combine(mount, s.OutputName);
        string args = string.Join(' ', s.Arguments(outputPath).Select(a => $"'{a}'"));
        // The tmpfs holds the previous output and 1 MiB more: the new output (megabytes) cannot fit.
        long size = s.Previous.Length + (1 << 20);
        string script = $"""
            cp '{previous}' '{outputPath}'
            dotnet '{UklLinkDll}' {args} 2>'{dir}/stderr'; echo "exit=$?"
            cp '{outputPath}' '{dir}/after' 2>/dev/null
            echo "files=$(ls -A '{mount}' | tr '\n' ' ')"
            echo "used=$(df --output=used -B1 '{mount}' | tail -1)"
            """;
        var r = OnSmallTmpfs(mount, size.ToString(), script);
        Skip.If(r is null, "neither root nor user namespaces: no tmpfs can be mounted for the disk-full test");
        var (exit, text) = r!.Value;
        output.WriteLine(text);
        Assert.True(exit == 0, $"the tmpfs script failed ({exit}): {text}");
        string stderr = File.ReadAllText(Path.Combine(dir, "stderr"));
        output.WriteLine(stderr);
        Assert.Contains("exit=2", text);
        var lines = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, $"expected one line on stderr:\n{stderr}");
        Assert.StartsWith("ukl-link: error: ", lines[0]);
        Assert.Contains(outputPath, lines[0]);
        Assert.Contains("No space left on device", lines[0]);
        Assert.Equal(s.Previous, File.ReadAllBytes(Path.Combine(dir, "after")));
        var files = Regex.Match(text, "files=(.*)").Groups[1].Value.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal([s.OutputName], files);
    }

    [SkippableFact]
    public void LinkOnAFullDiskFailsWithOneLineAndKeepsThePreviousOutput() => DiskFull(LinkScenario(Toolchain.NewWorkDirectory()));

    [SkippableFact]
    public void PackOnAFullDiskFailsWithOneLineAndKeepsThePreviousOutput() => DiskFull(PackScenario(Toolchain.NewWorkDirectory()));
}
