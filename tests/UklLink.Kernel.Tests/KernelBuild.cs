using System.Diagnostics;

namespace UklLink.Kernel.Tests;

/// <summary>The files kernel/build put into its cache entry (manifest.env).</summary>
public sealed record KernelManifest(
    string Path,
    string Vmlinux,
    string BzImage,
    string SetupBin,
    string SystemMap,
    string Config,
    IReadOnlyDictionary<string, string> Values)
{
    /// <summary>A CONFIG_* value from the kernel's .config ("y", "0x400000", ...), or null.</summary>
    public string? ConfigValue(string name)
    {
        foreach (var line in File.ReadLines(Config))
        {
            if (line.StartsWith(name + "=", StringComparison.Ordinal))
                return line[(name.Length + 1)..].Trim('"');
        }
        return null;
    }

    public ulong ConfigHex(string name) =>
        Convert.ToUInt64(ConfigValue(name) ?? throw new KeyNotFoundException(name), 16);

    public static KernelManifest Parse(string manifestPath)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var raw in File.ReadLines(manifestPath))
        {
            var line = raw.Trim();
            if (line.Length == 0 || line.StartsWith('#')) continue;
            var eq = line.IndexOf('=');
            if (eq > 0) values[line[..eq]] = line[(eq + 1)..];
        }
        string Get(string key) => values.TryGetValue(key, out var v) && v.Length > 0
            ? v
            : throw new InvalidDataException($"{manifestPath}: no {key}=");
        return new KernelManifest(manifestPath, Get("VMLINUX"), Get("BZIMAGE"), Get("SETUP_BIN"),
            Get("SYSTEM_MAP"), Get("CONFIG"), values);
    }
}

/// <summary>
/// Runs kernel/build (which builds once and then answers from its cache outside the
/// repository) and parses the manifest it prints.
/// </summary>
public static class KernelBuild
{
    private static readonly Lock Gate = new();
    private static KernelManifest? cached;

    /// <summary>The repository root: the nearest ancestor holding kernel/build.</summary>
    public static string RepoRoot { get; } = FindRepoRoot();

    public static string Script(string name) => System.IO.Path.Combine(RepoRoot, "kernel", name);

    /// <summary>
    /// Build (or fetch from the cache) the reference kernel. UKL_TEST_KERNEL_MANIFEST names a manifest.env of a kernel
    /// built elsewhere (a development tree) to test instead; ./test never sets it.
    /// </summary>
    public static KernelManifest Ensure()
    {
        lock (Gate)
        {
            if (cached is not null) return cached;
            if (Environment.GetEnvironmentVariable("UKL_TEST_KERNEL_MANIFEST") is { Length: > 0 } other)
                return cached = KernelManifest.Parse(other);
            var (exit, stdout, stderr, _) = Run(Script("build"), ["-q"], TimeSpan.FromMinutes(90));
            if (exit != 0)
                throw new InvalidOperationException(
                    $"kernel/build failed with exit status {exit}:\n{Tail(stderr, 60)}");
            var manifestPath = LastLine(stdout);
            if (!File.Exists(manifestPath))
                throw new InvalidOperationException($"kernel/build printed no manifest path:\n{stdout}");
            cached = KernelManifest.Parse(manifestPath);
            return cached;
        }
    }

    /// <summary>Runs a program, returns exit status, stdout, stderr and wall time.</summary>
    public static (int Exit, string Stdout, string Stderr, TimeSpan Elapsed) Run(
        string file, IEnumerable<string> args, TimeSpan timeout)
    {
        var psi = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = RepoRoot,
        };
        foreach (var a in args) psi.ArgumentList.Add(a);
        var sw = Stopwatch.StartNew();
        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"cannot start {file}");
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(timeout))
        {
            p.Kill(entireProcessTree: true);
            p.WaitForExit();
            throw new TimeoutException($"{file} did not finish within {timeout}");
        }
        p.WaitForExit();
        return (p.ExitCode, stdout.Result, stderr.Result, sw.Elapsed);
    }

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(System.IO.Path.Combine(dir.FullName, "kernel", "build")))
                return dir.FullName;
        }
        throw new DirectoryNotFoundException(
            $"no ancestor of {AppContext.BaseDirectory} contains kernel/build");
    }

    private static string LastLine(string text) =>
        text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .LastOrDefault() ?? "";

    internal static string Tail(string text, int lines)
    {
        var all = text.Split('\n');
        return string.Join('\n', all.Skip(Math.Max(0, all.Length - lines)));
    }
}
