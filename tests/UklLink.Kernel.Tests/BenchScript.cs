using Xunit.Abstractions;

namespace UklLink.Kernel.Tests;

/// <summary>Runs one of the bench/*/run scripts the way the bench tests do.</summary>
internal static class BenchScript
{
    /// <summary>
    /// Runs bench/NAME/run with ARGS plus --out (a fresh work directory, returned) and --ukl-link (the apphost next
    /// to the tests), on the reference kernel; its output goes to the test's log and a non-zero exit fails the test.
    /// </summary>
    public static string Run(string name, string[] args, TimeSpan timeout, ITestOutputHelper output)
    {
        var outDir = SampleBuild.Work($"bench-{name}");
        var uklLink = Path.Combine(AppContext.BaseDirectory, "ukl-link");
        Assert.True(File.Exists(uklLink), $"no ukl-link apphost next to the tests: {uklLink}");
        KernelBuild.Ensure();
        var run = KernelBuild.Run(Path.Combine(KernelBuild.RepoRoot, "bench", name, "run"),
            [.. args, "--out", outDir, "--ukl-link", uklLink], timeout);
        output.WriteLine(run.Stdout);
        output.WriteLine(run.Stderr);
        Assert.True(run.Exit == 0, $"bench/{name}/run exited {run.Exit}:\n{run.Stderr}");
        return outDir;
    }
}
