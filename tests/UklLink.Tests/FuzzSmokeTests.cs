using System.Diagnostics;
using System.Globalization;
using UklLink.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace UklLink.Tests;

/// <summary>
/// The CI smoke run of the coverage-guided fuzzers (fuzz/run --smoke: SharpFuzz + AFL++, 30 s per target): no target
/// may crash or hang, each must have run, and the corpora must grow (so instrumentation and feedback work). The long
/// campaigns and their figures: fuzz/README.md, docs/reliability.md.
/// </summary>
public sealed class FuzzSmokeTests(ITestOutputHelper output)
{
    private static readonly string[] Targets = ["object", "archive", "kernel", "script", "setup", "dwarf", "validate", "link"];

    [Fact]
    public async Task EveryFuzzTargetRunsItsSmokeCampaignWithoutCrashOrHang()
    {
        string work = Toolchain.NewWorkDirectory();
        var psi = new ProcessStartInfo(Path.Combine(RepositoryPaths.Root, "fuzz", "run"), ["--smoke", "--out", work])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = RepositoryPaths.Root,
        };
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromMinutes(25)))
        {
            p.Kill(entireProcessTree: true);
            Assert.Fail("fuzz/run --smoke did not finish within 25 minutes");
        }
        await p.WaitForExitAsync();
        string text = await stdout, errors = await stderr;
        output.WriteLine(text);
        Assert.True(p.ExitCode == 0, $"fuzz/run --smoke exited {p.ExitCode} (1: a crash or hang, inputs under {work}/findings):\n{text}\n{errors}");

        var rows = File.ReadAllLines(Path.Combine(work, "summary.tsv")).Skip(1).Select(l => l.Split('\t')).ToDictionary(c => c[0]);
        int grew = 0;
        foreach (var t in Targets)
        {
            Assert.True(rows.TryGetValue(t, out var row), $"no summary for target {t}");
            long execs = long.Parse(row![2], CultureInfo.InvariantCulture), found = long.Parse(row[6], CultureInfo.InvariantCulture);
            Assert.True(execs >= 100, $"{t}: only {execs} executions");
            Assert.Equal("0", row[9]);
            Assert.Equal("0", row[10]);
            if (found > 0)
                grew++;
        }
        // Coverage feedback works: the corpora grow. 30 s is short for the slowest target (setup: inspect and pack per
        // input, a few hundred executions on a loaded machine), so most, not all, must have found new coverage.
        Assert.True(grew >= Targets.Length - 2, $"only {grew} of {Targets.Length} targets found new coverage: the instrumentation is not reaching ukl-link");
        Directory.Delete(work, recursive: true);
    }
}
