using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;

namespace UklLink.Tests.Support;

/// <summary>
/// Builds test fixtures from source with the machine's gcc/as/ld/ar during the test run (no committed binaries).
/// Outputs are cached in a temp folder keyed by a hash of the source text and the command, so parallel tests and
/// repeated runs reuse them.
/// </summary>
public static class Toolchain
{
    public static string CacheDirectory { get; } = CreateCacheDirectory();

    /// <summary>The UKL compile flags: what a correctly built application object uses.</summary>
    public const string UklFlags = "-O2 -mcmodel=kernel -mno-red-zone -fno-pic -fno-pie -fno-stack-protector -ffreestanding -fno-asynchronous-unwind-tables";

    /// <summary>A distribution's usual flags minus PIE: small code model, red zone allowed.</summary>
    public const string SmallModelFlags = "-O2 -mcmodel=small -fno-pic -fno-pie -fno-stack-protector -ffreestanding -fno-asynchronous-unwind-tables";

    private static string CreateCacheDirectory()
    {
        string dir = Path.Combine(Path.GetTempPath(), "ukl-link-tests", "fixtures");
        Directory.CreateDirectory(dir);
        return dir;
    }

    /// <summary>Compiles C source to an object with the given flags.</summary>
    public static string CompileC(string source, string flags, string name = "t") =>
        Build(source, ".c", name, (src, obj) => $"gcc {flags} -c {src} -o {obj}");

    /// <summary>Assembles GNU as source (AT&amp;T syntax) to an object.</summary>
    public static string Assemble(string source, string name = "t", string flags = "--64") =>
        Build(source, ".s", name, (src, obj) => $"as {flags} {src} -o {obj}");

    /// <summary>A C source file from tests/UklLink.Tests/fixtures, by name.</summary>
    public static string FixtureSource(string fileName) =>
        File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "fixtures", fileName));

    /// <summary>Runs a shell command in a fresh cached directory keyed by the command and the inputs' contents.</summary>
    public static string Build(string source, string extension, string name, Func<string, string, string> command)
    {
        string probe = command("SRC", "OUT");
        string key = Hash(source + "\0" + extension + "\0" + name + "\0" + probe);
        string dir = Path.Combine(CacheDirectory, key);
        string obj = Path.Combine(dir, name + ".o");
        if (File.Exists(obj))
            return obj;
        string work = dir + "." + Guid.NewGuid().ToString("N");
        Directory.CreateDirectory(work);
        string src = Path.Combine(work, name + extension);
        File.WriteAllText(src, source);
        Run(command(src, Path.Combine(work, name + ".o")), work);
        try
        {
            Directory.Move(work, dir);
        }
        catch (IOException) when (Directory.Exists(dir))
        {
            Directory.Delete(work, true); // another test built the same fixture first
        }
        return obj;
    }

    /// <summary>Runs a command with bash; throws with its output when it fails.</summary>
    public static string Run(string command, string? workingDirectory = null)
    {
        var psi = new ProcessStartInfo("bash", new[] { "-c", command })
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory,
        };
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        p.WaitForExit();
        if (p.ExitCode != 0)
            throw new InvalidOperationException($"`{command}` failed with {p.ExitCode}: {stderr.Result}{stdout.Result}");
        return stdout.Result;
    }

    /// <summary>A fresh empty directory for a test's own files.</summary>
    public static string NewWorkDirectory()
    {
        string dir = Path.Combine(Path.GetTempPath(), "ukl-link-tests", "work", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        return dir;
    }

    private static string Hash(string text) => Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(text)))[..24].ToLowerInvariant();
}
