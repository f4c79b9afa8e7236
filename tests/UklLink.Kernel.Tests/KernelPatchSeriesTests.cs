using System.Diagnostics;
using System.Text.RegularExpressions;
using Xunit.Abstractions;

namespace UklLink.Kernel.Tests;

/// <summary>
/// kernel/patches is a `git format-patch` series: every file is one mail (From, Subject, Date, a message), the series
/// applies with `git am` on Debian's linux-source-6.1 (the tarball kernel/build unpacks), and the source's own
/// scripts/checkpatch.pl reports no errors on any patch (kernel/README.md explains the warnings it keeps).
/// Only the files the series touches are taken from the tarball, so the test needs seconds, not a kernel tree.
/// </summary>
public sealed class KernelPatchSeriesTests(ITestOutputHelper output)
{
    private const string Tarball = "/usr/src/linux-source-6.1.tar.xz";
    private static readonly string PatchDir = Path.Combine(KernelBuild.RepoRoot, "kernel", "patches");
    private static string[] Patches => Directory.GetFiles(PatchDir, "*.patch").Order(StringComparer.Ordinal).ToArray();

    private static (int Exit, string Out) Sh(string command, string dir)
    {
        var psi = new ProcessStartInfo("bash", ["-c", command]) { WorkingDirectory = dir, RedirectStandardOutput = true, RedirectStandardError = true };
        using var p = Process.Start(psi)!;
        var so = p.StandardOutput.ReadToEndAsync();
        var se = p.StandardError.ReadToEndAsync();
        p.WaitForExit();
        return (p.ExitCode, so.Result + se.Result);
    }

    /// <summary>Unpacks the named files of the tarball (the ones that exist there) into a new directory.</summary>
    private static string Extract(IEnumerable<string> files)
    {
        KernelBuild.Ensure(); // installs linux-source-6.1 on a fresh machine
        string dir = SampleBuild.Work("patch-series");
        string list = Path.Combine(dir, "..", Path.GetFileName(dir) + ".files");
        var listing = Sh($"tar -tf {Tarball} | sed -n 1p", dir).Out.Trim();
        string top = listing.Split('/')[0];
        File.WriteAllLines(list, files.Select(f => $"{top}/{f}"));
        var r = Sh($"tar -xf {Tarball} --strip-components=1 --ignore-failed-read -T {list} 2>&1 | grep -v 'Not found in archive' | grep -v 'Exiting with failure' || true", dir);
        return dir;
    }

    private static IEnumerable<string> TouchedFiles() => Patches
        .SelectMany(p => File.ReadLines(p).Where(l => l.StartsWith("--- a/") || l.StartsWith("+++ b/")).Select(l => l[6..]))
        .Distinct();

    [Fact]
    public void EveryPatchIsAMailWithAMessage()
    {
        Assert.True(Patches.Length >= 10, $"only {Patches.Length} patches in {PatchDir}");
        foreach (var p in Patches)
        {
            var text = File.ReadAllText(p);
            string name = Path.GetFileName(p);
            Assert.Matches(@"^From [0-9a-f]{40} Mon Sep 17 00:00:00 2001\n", text);
            Assert.Matches(@"\nFrom: .+\n", text);
            Assert.Matches(@"\nDate: .+\n", text);
            var subject = Regex.Match(text, @"\nSubject: \[PATCH \d+/\d+\] (.+)\n");
            Assert.True(subject.Success, $"{name}: no numbered Subject");
            // A message of its own between the headers and the diffstat, and no Signed-off-by (nobody signs here).
            var body = Regex.Match(text, @"\n\n(.+?)\n---\n", RegexOptions.Singleline);
            Assert.True(body.Success && body.Groups[1].Value.Trim().Length > 40, $"{name}: no commit message");
            Assert.DoesNotContain("Signed-off-by", text);
        }
    }

    [Fact]
    public void SeriesAppliesWithGitAmOnDebianSource()
    {
        string dir = Extract(TouchedFiles().Append("arch/x86/kernel/Makefile"));
        var init = Sh("git init -q && git -c user.name=t -c user.email=t@t add -f -A && git -c user.name=t -c user.email=t@t commit -q -m base && " +
                      // kernel/build copies the slot fragment from ukl-link before applying the series
                      $"cp {Path.Combine(KernelBuild.RepoRoot, "linker-scripts", "ukl-slots.lds.h")} arch/x86/kernel/ && " +
                      "git add -f arch/x86/kernel/ukl-slots.lds.h && git -c user.name=t -c user.email=t@t commit -q -m slots", dir);
        Assert.True(init.Exit == 0, init.Out);
        var am = Sh($"git -c user.name=t -c user.email=t@t am --whitespace=nowarn {string.Join(' ', Patches)}", dir);
        output.WriteLine(am.Out);
        Assert.True(am.Exit == 0, am.Out);
        var log = Sh("git log --format=%s", dir).Out.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(Patches.Length + 2, log.Length);
    }

    [Fact]
    public void CheckpatchReportsNoErrors()
    {
        string dir = Extract(["scripts/checkpatch.pl", "scripts/spelling.txt", "scripts/const_structs.checkpatch"]);
        Assert.True(File.Exists(Path.Combine(dir, "scripts", "checkpatch.pl")), "no checkpatch.pl in the tarball");
        foreach (var p in Patches)
        {
            var r = Sh($"perl scripts/checkpatch.pl --no-tree --no-signoff --summary-file --terse {p}", dir);
            output.WriteLine($"{Path.GetFileName(p)}:\n{r.Out}");
            var total = Regex.Match(r.Out, @"total: (\d+) errors, (\d+) warnings");
            // With --terse a clean patch prints nothing and exits 0; any finding prints the summary and exits 1.
            if (r.Exit == 0 && r.Out.Trim().Length == 0) continue;
            Assert.True(total.Success, $"{Path.GetFileName(p)}: no checkpatch summary:\n{r.Out}");
            Assert.True(total.Groups[1].Value == "0", $"{Path.GetFileName(p)}: checkpatch errors:\n{r.Out}");
        }
    }
}
