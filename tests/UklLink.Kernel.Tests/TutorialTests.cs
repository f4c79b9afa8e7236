using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using UklLink.Cli;
using Xunit.Abstractions;

namespace UklLink.Kernel.Tests;

/// <summary>
/// docs/tutorial.md, run as written: its `sh` blocks in order in one bash, each `text` block right after one compared
/// with that block's output. `sh norun` blocks are done another way (packages through scripts/ensure-prereqs, the
/// ukl-link under test on PATH); `sh build` blocks run when their text, the toolchain or the source packages changed,
/// else the test starts from the home directory they left before (cached in /var/cache/ukl-link/projects).
/// </summary>
public sealed partial class TutorialTests(ITestOutputHelper output)
{
    private sealed record Block(string Kind, string Text, string? Expected);

    private static List<Block> Blocks(string markdown)
    {
        var blocks = new List<Block>();
        var matches = Fence().Matches(markdown);
        for (int i = 0; i < matches.Count; i++)
        {
            string info = matches[i].Groups[1].Value.Trim();
            if (!info.StartsWith("sh", StringComparison.Ordinal))
                continue;
            string? expected = null;
            if (i + 1 < matches.Count && matches[i + 1].Groups[1].Value.Trim() == "text"
                && markdown[(matches[i].Index + matches[i].Length)..matches[i + 1].Index].Trim().Length == 0)
                expected = matches[i + 1].Groups[2].Value;
            blocks.Add(new Block(info, matches[i].Groups[2].Value, expected));
        }
        return blocks;
    }

    [Fact]
    public void TheTutorialsCommandsWorkAsWritten()
    {
        var m = KernelBuild.Ensure();
        UklRun.Shell($"{Path.Combine(KernelBuild.RepoRoot, "scripts", "ensure-prereqs")} cmake dpkg-dev libmemcached-tools", KernelBuild.RepoRoot);
        var blocks = Blocks(File.ReadAllText(Path.Combine(KernelBuild.RepoRoot, "docs", "tutorial.md")));
        Assert.Equal(["sh norun", "sh norun", "sh", "sh build", "sh build", "sh", "sh", "sh", "sh", "sh norun"], blocks.Select(b => b.Kind));

        // ukl-link on PATH: this build of it.
        string work = SampleBuild.Work("tutorial");
        string bin = Path.Combine(work, "bin");
        Directory.CreateDirectory(bin);
        File.WriteAllText(Path.Combine(bin, "ukl-link"), $"#!/bin/sh\nexec dotnet {typeof(UklLinkCli).Assembly.Location} \"$@\"\n");
        UklRun.Shell("chmod 755 ukl-link", bin);

        var tc = UklRun.Musl;
        string versions = UklRun.Shell("apt-cache showsrc libevent memcached | awk '/^Version:/ { print }'", "/");
        string key = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(
            string.Join("\n", blocks.Where(b => b.Kind is "sh" or "sh build").TakeWhile(b => b.Kind != "sh" || !b.Text.Contains("ukl-link link")).Select(b => b.Text))
            + tc["UKL_TOOLCHAIN"] + versions)))[..16].ToLowerInvariant();
        // The tree is used where it was built (the .ukl-inputs name absolute paths), one tutorial run at a time.
        string cached = Path.Combine(Environment.GetEnvironmentVariable("UKL_PROJECT_CACHE") is { Length: > 0 } c ? c : "/var/cache/ukl-link/projects",
            $"tutorial-{key}");
        Directory.CreateDirectory(cached);
        using var gate = AcquireLock(Path.Combine(cached, ".lock"));
        string home = Path.Combine(cached, "home");
        string stamp = Path.Combine(cached, ".built");
        bool built = File.Exists(stamp);
        if (!built && Directory.Exists(home))
            Directory.Delete(home, recursive: true);
        Directory.CreateDirectory(home);
        output.WriteLine(built ? $"build steps: done before in {home}" : $"build steps: running in {home}");

        var script = new StringBuilder("set -euo pipefail\n");
        int n = 0;
        var runBlocks = new List<Block>();
        foreach (var b in blocks)
        {
            if (b.Kind == "sh norun" || (b.Kind == "sh build" && built))
                continue;
            script.Append($"echo '@@block {n}@@'\n").Append(b.Text).Append('\n');
            if (b.Kind == "sh build" && b == blocks.Last(x => x.Kind == "sh build"))
                script.Append($"touch {stamp}\n");
            runBlocks.Add(b);
            n++;
        }
        script.Append($"echo '@@block {n}@@'\n");
        int port = SampleBuild.FreePort();
        var env = new Dictionary<string, string>
        {
            ["HOME"] = home,
            ["UKL_SRC"] = KernelBuild.RepoRoot,
            ["PORT"] = port.ToString(),
            ["PATH"] = $"{bin}:{Environment.GetEnvironmentVariable("PATH")}",
        };
        string scriptFile = Path.Combine(work, "tutorial.sh");
        File.WriteAllText(scriptFile, script.ToString());
        string stdout;
        try
        {
            stdout = UklRun.Shell($"bash {scriptFile}", work, env, timeoutMinutes: 80);
        }
        finally
        {
            // Whatever happened, nothing of the tutorial keeps running.
            foreach (int pid in UklRun.ProcessesMentioning(home))
                UklRun.Kill(pid, "KILL", group: false);
        }
        output.WriteLine(stdout);

        var parts = Regex.Split(stdout, @"@@block \d+@@\n");
        for (int i = 0; i < runBlocks.Count; i++)
        {
            if (runBlocks[i].Expected is { } expected)
                Assert.Equal(expected, parts[i + 1]);
        }
        Assert.True(File.Exists(Path.Combine(home, "ukl-tutorial", "memcached-1.6.18", "memcached.vmlinux")));
        Assert.False(File.Exists(Path.Combine(home, "ukl-tutorial", "memcached-1.6.18", "memcached.pid")), "ukl-link stop removes the pid file");
        Assert.Empty(UklRun.ProcessesMentioning(home));
    }

    /// <summary>An exclusive lock on a file, held until disposed (another run waits).</summary>
    private static FileStream AcquireLock(string path)
    {
        for (int i = 0; ; i++)
        {
            try
            {
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException) when (i < 3600)
            {
                Thread.Sleep(1000);
            }
        }
    }

    [GeneratedRegex(@"^```([^\n]*)\n(.*?)^```\s*$", RegexOptions.Multiline | RegexOptions.Singleline)]
    private static partial Regex Fence();
}
