using System.Diagnostics;
using UklLink.Cli;
using Xunit.Abstractions;

namespace UklLink.Kernel.Tests;

/// <summary>
/// samples/musl: an unmodified C program on Debian's musl (built the UKL way by tests/fixtures/musl/build-musl),
/// linked by ukl-link as crt1.o + muslapp.o + libc.a and run as /UKL in ring 0. Every behaviour is one line of the
/// program's output; the exit status is the number of failed checks.
/// </summary>
public sealed class MuslTests(ITestOutputHelper output)
{
    private static readonly string Sample = Path.Combine(KernelBuild.RepoRoot, "samples", "musl");
    private static readonly string Placeholder = Path.Combine(KernelBuild.RepoRoot, "samples", "common", "UKL");

    internal static string MuslPrefix()
    {
        var r = KernelBuild.Run(Path.Combine(KernelBuild.RepoRoot, "tests", "fixtures", "musl", "build-musl"),
            ["--model", "kernel"], TimeSpan.FromMinutes(15));
        Assert.True(r.Exit == 0, $"build-musl failed ({r.Exit}): {r.Stderr}");
        var prefix = r.Stdout.Trim().Split('\n')[^1].Trim();
        Assert.True(File.Exists(Path.Combine(prefix, "lib", "libc.a")), $"build-musl printed '{prefix}'");
        return prefix;
    }

    private string LinkMuslApp()
    {
        var m = KernelBuild.Ensure();
        var musl = MuslPrefix();
        var dir = Path.Combine(Path.GetTempPath(), "ukl-link-tests", $"musl-{Guid.NewGuid().ToString("N")[..8]}");
        var objs = Path.Combine(dir, "obj");
        Directory.CreateDirectory(objs);
        var psi = new ProcessStartInfo("make", $"-s -C {Sample} MUSL={musl} OUT={objs}")
            { RedirectStandardError = true, RedirectStandardOutput = true };
        using (var p = Process.Start(psi)!)
        {
            string err = p.StandardError.ReadToEnd() + p.StandardOutput.ReadToEnd();
            p.WaitForExit();
            Assert.True(p.ExitCode == 0, $"make samples/musl: {err}");
        }
        var linked = Path.Combine(dir, "vmlinux.muslapp");
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = UklLinkCli.Run(["link", "--kernel", m.Vmlinux, "-o", linked, "--map", Path.Combine(dir, "muslapp.map"),
            Path.Combine(musl, "lib", "crt1.o"), Path.Combine(objs, "muslapp.o"), Path.Combine(musl, "lib", "libc.a")],
            stdout, stderr);
        output.WriteLine(stderr.ToString());
        Assert.True(code == 0, stderr.ToString());
        return linked;
    }

    private static readonly string[] Checks =
    [
        "constructor", "printf", "argv-env", "malloc", "pthread", "tls", "mutex", "thread-stack", "detached", "wait-status",
        "file", "unix-socketpair", "tcp-loopback",
    ];

    [Fact]
    public void MuslProgramRunsInRingZeroAndEveryCheckPasses()
    {
        var linked = LinkMuslApp();
        var script = "#!/bin/sh\nmount -t proc proc /proc; mount -t devtmpfs devtmpfs /dev 2>/dev/null\n" +
                     "ip link set lo up\n" +
                     "MUSLAPP_GREETING=hi-there /UKL alpha beta\ns=$?\necho \"UKL-STATUS=$s\"\n" +
                     // Twice in one boot: .data/.bss and the pins start over.
                     "MUSLAPP_GREETING=hi-there /UKL alpha beta >/dev/null\necho \"UKL-STATUS2=$?\"\nguest-exit $s\n";
        var r = QemuHarness.Boot(linked, script, new QemuOptions
        {
            TimeoutSeconds = 120,
            ExtraFiles = [(Placeholder, "/UKL")],
        });
        output.WriteLine(r.ToString());
        Assert.False(r.TimedOut, r.ToString());
        var lines = r.Console.Split('\n').Where(l => l.StartsWith("musl: ")).ToList();
        foreach (var check in Checks)
        {
            var line = lines.FirstOrDefault(l => l.StartsWith($"musl: {check} "));
            Assert.True(line is not null, $"no line for '{check}':\n{r}");
            Assert.True(line.StartsWith($"musl: {check} ok"), line);
        }
        Assert.DoesNotContain(lines, l => l.Contains(" FAIL "));
        Assert.Contains("musl: done failures 0", r.Console);
        Assert.Contains("UKL-STATUS=0", r.Console);
        Assert.Contains("UKL-STATUS2=0", r.Console);
        Assert.Equal(0, r.ExitStatus);
        Assert.DoesNotContain("Oops", r.Console);
        Assert.DoesNotContain("double fault", r.Console);
        Assert.DoesNotContain("WARNING", r.Console);
    }
}
