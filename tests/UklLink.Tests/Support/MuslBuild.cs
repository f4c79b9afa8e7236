using System.Collections.Concurrent;

namespace UklLink.Tests.Support;

/// <summary>
/// A static musl libc built from Debian's source by toolchain/build-musl (cached under
/// /var/cache/ukl-link/musl after the first build, about 30 s on 2 cores).
/// </summary>
public static class MuslBuild
{
    private static readonly ConcurrentDictionary<string, Lazy<string>> Prefixes = new();

    /// <summary>The install prefix for a code model ("kernel" or "small"): lib/libc.a, lib/crt1.o, include/.</summary>
    public static string Prefix(string model) =>
        Prefixes.GetOrAdd(model, m => new Lazy<string>(() => Build(m))).Value;

    public static string Script { get; } = Path.Combine(RepoRoot(), "toolchain", "build-musl");

    private static string Build(string model)
    {
        string prefix = Toolchain.Run($"{Script} --model {model}").Trim().Split('\n')[^1];
        if (!File.Exists(Path.Combine(prefix, "lib", "libc.a")))
            throw new InvalidOperationException($"build-musl printed '{prefix}', which has no lib/libc.a");
        return prefix;
    }

    private static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "toolchain", "build-musl")))
                return dir.FullName;
        }
        throw new DirectoryNotFoundException($"no ancestor of {AppContext.BaseDirectory} contains toolchain/build-musl");
    }
}
