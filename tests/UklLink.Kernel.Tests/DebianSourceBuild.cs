using System.Security.Cryptography;
using System.Text;

namespace UklLink.Kernel.Tests;

/// <summary>
/// A Debian source package (apt-get source) built with a UKL toolchain's ukl-cc, cached outside the repository in
/// ${UKL_PROJECT_CACHE:-/var/cache/ukl-link/projects}/NAME-KEY, keyed by the package version, the toolchain (its
/// directory names its own key: the drivers, the C library, gcc) and the build commands.
/// </summary>
internal static class DebianSourceBuild
{
    private static readonly Lock Gate = new();

    /// <summary>The unpacked, built source tree.</summary>
    public static string Build(string package, IReadOnlyDictionary<string, string> toolchain, string buildCommand, Action<string> log)
    {
        lock (Gate)
        {
            string root = Environment.GetEnvironmentVariable("UKL_PROJECT_CACHE") is { Length: > 0 } e ? e : "/var/cache/ukl-link/projects";
            string version = UklRun.Shell($"apt-cache showsrc {package} | awk '/^Version:/ {{ print $2; exit }}'", "/").Trim();
            Assert.True(version.Length > 0, $"apt knows no source package {package}: add a deb-src entry (toolchain/build-musl adds one when it builds musl)");
            string key = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes($"{package}\n{version}\n{toolchain["UKL_TOOLCHAIN"]}\n{buildCommand}")))[..16].ToLowerInvariant();
            string tree = Path.Combine(root, $"{package}-{key}");
            string stamp = Path.Combine(tree, ".built");
            if (File.Exists(stamp))
                return File.ReadAllText(stamp).Trim();
            if (Directory.Exists(tree))
                Directory.Delete(tree, recursive: true);
            Directory.CreateDirectory(tree);
            log($"{package} {version}: apt-get source, then: {buildCommand}");
            UklRun.Shell($"apt-get source -qq {package} >/dev/null 2>&1", tree);
            string src = Directory.GetDirectories(tree).Single();
            UklRun.Shell($"{buildCommand} > ukl-build.log 2>&1 || {{ tail -40 ukl-build.log; exit 1; }}", src, toolchain, timeoutMinutes: 40);
            File.WriteAllText(stamp, src + "\n");
            return src;
        }
    }
}
