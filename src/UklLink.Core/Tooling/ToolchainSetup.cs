using System.Reflection;
using System.Security.Cryptography;
using System.Text;

namespace UklLink.Tooling;

/// <summary>What to prepare.</summary>
/// <param name="Libc">The C library flavour.</param>
/// <param name="Prefix">Install the drivers here (DIR/bin/ukl-cc ...) instead of the cache.</param>
/// <param name="PrintOnly">Only find a toolchain prepared before; build nothing (null result when there is none).</param>
public sealed record ToolchainRequest(ToolchainLibc Libc, string? Prefix = null, bool PrintOnly = false);

/// <summary>A prepared toolchain.</summary>
/// <param name="Libc">Its flavour.</param>
/// <param name="Directory">Where bin/ukl-cc, bin/ukl-c++, libexec/ukl-ld/ld, lib/ and toolchain.env are.</param>
/// <param name="Sysroot">The UKL musl's prefix (include/, lib/libc.a); null for glibc (the system's).</param>
/// <param name="Description">One line: the C library, its version and how it was built.</param>
public sealed record ToolchainInfo(ToolchainLibc Libc, string Directory, string? Sysroot, string Description)
{
    public string CC => Path.Combine(Directory, "bin", "ukl-cc");
    public string CXX => Path.Combine(Directory, "bin", "ukl-c++");

    /// <summary>The "use it" lines: shell assignments, so <c>eval "$(ukl-link toolchain)"</c> sets CC and CXX.</summary>
    public string ShellEnvironment()
    {
        var sb = new StringBuilder();
        sb.Append("# ukl-link toolchain: ").Append(Description).Append('\n');
        sb.Append("UKL_LIBC=").Append(Libc.ToString().ToLowerInvariant()).Append('\n');
        sb.Append("UKL_TOOLCHAIN=").Append(ToolchainSetup.ShellQuote(Directory)).Append('\n');
        if (Sysroot is not null)
            sb.Append("UKL_SYSROOT=").Append(ToolchainSetup.ShellQuote(Sysroot)).Append('\n');
        sb.Append("export CC=").Append(ToolchainSetup.ShellQuote(CC)).Append(" CXX=").Append(ToolchainSetup.ShellQuote(CXX)).Append('\n');
        return sb.ToString();
    }
}

/// <summary>
/// <c>ukl-link toolchain</c>: prepares what a UKL build needs and installs the compiler drivers. For musl, Debian's
/// musl source built with the UKL flags (toolchain/build-musl, cached under /var/cache/ukl-link/musl); for glibc, a
/// check that Debian's static glibc, libstdc++ and libgcc are installed. Then ukl-cc, ukl-c++ and the ld wrapper
/// (toolchain/ukl-cc, toolchain/ukl-ld, embedded in this library) go into a directory keyed by everything they
/// depend on (/var/cache/ukl-link/toolchain/KEY, or --prefix), and a test program is built with them.
/// </summary>
public static class ToolchainSetup
{
    /// <summary>The files of toolchain/ the drivers are made of (build-musl is keyed by its own cache).</summary>
    private static readonly string[] DriverResources = ["ukl-cc", "ukl-ld", "ukl-musl-c.specs", "ukl-musl-c++.specs"];

    public static ToolchainInfo? Prepare(ToolchainRequest request, Action<string> progress)
    {
        string cc = Which("gcc") ?? throw new ToolchainException("gcc is not installed: apt-get install gcc g++ binutils");
        string cxx = Which("g++") ?? throw new ToolchainException("g++ is not installed: apt-get install g++");
        string gccVersion = Gcc(cc, "-dumpfullversion");
        string ldName = Gcc(cc, "-print-prog-name=ld");
        string ld = Path.IsPathRooted(ldName) ? ldName : Which(ldName) ?? throw new ToolchainException("GNU ld is not installed: apt-get install binutils");

        string? sysroot = null;
        string description;
        if (request.Libc == ToolchainLibc.Musl)
        {
            sysroot = BuildMusl(request.PrintOnly, progress);
            if (sysroot is null)
                return null;
            string version = ManifestValue(Path.Combine(sysroot, "..", "manifest.env"), "MUSL_VERSION") ?? "(unknown version)";
            description = $"musl {version} from Debian's source, built for UKL (-mcmodel=kernel -mno-red-zone -fno-pic -fno-pie), gcc {gccVersion}";
        }
        else
        {
            CheckGlibc(cc, cxx, gccVersion);
            description = $"Debian's glibc, libstdc++ and libgcc static archives (gcc -static), gcc {gccVersion}";
        }

        string key = Key(request.Libc, sysroot, gccVersion, cc, cxx, ld);
        string dir = request.Prefix is { } prefix ? Path.GetFullPath(prefix) : Path.Combine(CacheRoot("toolchain", "UKL_TOOLCHAIN_CACHE"), key);
        var info = new ToolchainInfo(request.Libc, dir, sysroot, description);
        string stamp = Path.Combine(dir, ".ukl-toolchain-key");
        if (File.Exists(stamp) && File.ReadAllText(stamp).Trim() == key)
            return info;
        if (request.PrintOnly)
            return null;

        progress($"installing ukl-cc and ukl-c++ in {dir}");
        if (request.Prefix is null)
        {
            // Cache entries appear whole: built in a temporary directory, then renamed.
            string temp = $"{dir}.tmp-{Environment.ProcessId}";
            if (Directory.Exists(temp))
                Directory.Delete(temp, recursive: true);
            Install(temp, dir, request.Libc, sysroot, cc, cxx, ld, key);
            if (Directory.Exists(dir))
                Directory.Delete(dir, recursive: true);
            Directory.Move(temp, dir);
        }
        else
        {
            Install(dir, dir, request.Libc, sysroot, cc, cxx, ld, key);
        }
        try
        {
            SmokeTest(info, progress);
        }
        catch (ToolchainException)
        {
            File.Delete(stamp); // not usable: the next run installs again
            throw;
        }
        return info;
    }

    /// <summary>
    /// Writes the drivers into <paramref name="target"/>. Paths inside the files name <paramref name="final"/>, where
    /// they will live; ukl-cc finds toolchain.env next to itself, so only the specs carry the path.
    /// </summary>
    private static void Install(string target, string final, ToolchainLibc libc, string? sysroot, string cc, string cxx, string ld, string key)
    {
        string bin = Path.Combine(target, "bin"), lib = Path.Combine(target, "lib"), ldDir = Path.Combine(target, "libexec", "ukl-ld");
        Directory.CreateDirectory(bin);
        Directory.CreateDirectory(lib);
        Directory.CreateDirectory(ldDir);
        WriteExecutable(Path.Combine(bin, "ukl-cc"), Resource("ukl-cc"));
        Link(Path.Combine(bin, "ukl-c++"), "ukl-cc");
        WriteExecutable(Path.Combine(ldDir, "ld"), Resource("ukl-ld"));
        Link(Path.Combine(ldDir, "ld.bfd"), "ld");

        string gccInclude = Gcc(cc, "-print-file-name=include");
        var env = new StringBuilder();
        env.Append("# Written by `ukl-link toolchain`; read by bin/ukl-cc and libexec/ukl-ld/ld.\n");
        env.Append("UKL_LIBC=").Append(libc.ToString().ToLowerInvariant()).Append('\n');
        env.Append("UKL_REAL_CC=").Append(ShellQuote(cc)).Append('\n');
        env.Append("UKL_REAL_CXX=").Append(ShellQuote(cxx)).Append('\n');
        env.Append("UKL_REAL_LD=").Append(ShellQuote(ld)).Append('\n');
        env.Append("UKL_GCC_INCLUDE=").Append(ShellQuote(gccInclude)).Append('\n');
        if (sysroot is not null)
        {
            env.Append("UKL_SYSROOT=").Append(ShellQuote(sysroot)).Append('\n');
            string gccLib = Path.GetDirectoryName(Gcc(cc, "-print-libgcc-file-name"))!;
            foreach (var lang in new[] { "c", "c++" })
            {
                string specs = Resource($"ukl-musl-{lang}.specs").Replace("@SYSROOT@", sysroot).Replace("@GCCLIBDIR@", gccLib)
                    .Replace("@TOOLCHAIN@", final);
                File.WriteAllText(Path.Combine(lib, $"ukl-musl-{lang}.specs"), specs);
            }
            // C++ static destructors register with __cxa_atexit(..., &__dso_handle); crtbeginT.o, which defines it,
            // also registers unwind tables through glibc-only code, so the musl flavour brings its own.
            var r = ExternalCommand.Run(cc, ["-x", "c", "-c", "-O2", "-mcmodel=kernel", "-mno-red-zone", "-fno-pic", "-fno-pie",
                "-o", Path.Combine(lib, "ukl-dso-handle.o"), "-"],
                stdin: "void *__dso_handle __attribute__((visibility(\"hidden\"))) = &__dso_handle;\n");
            if (r.ExitCode != 0)
                throw new ToolchainException($"gcc could not compile the toolchain's __dso_handle object: {OneLine(r.Stderr)}", buildFailed: true);
        }
        File.WriteAllText(Path.Combine(target, "toolchain.env"), env.ToString());
        File.WriteAllText(Path.Combine(target, ".ukl-toolchain-key"), key + "\n");
    }

    /// <summary>A C program compiled and linked with the new ukl-cc runs natively and leaves its .ukl-inputs.</summary>
    private static void SmokeTest(ToolchainInfo info, Action<string> progress)
    {
        string dir = Directory.CreateTempSubdirectory("ukl-toolchain-check-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(dir, "check.c"),
                "#include <stdio.h>\nint main(int argc, char **argv) { printf(\"ukl-cc works: %s\\n\", argv[argc - 1]); return 0; }\n");
            var build = ExternalCommand.Run(info.CC, ["-O2", "-o", "check", "check.c"], workingDirectory: dir);
            if (build.ExitCode != 0)
                throw new ToolchainException($"the new ukl-cc cannot build a test program: {OneLine(build.Stderr)}", buildFailed: true);
            var run = ExternalCommand.Run(Path.Combine(dir, "check"), ["yes"], workingDirectory: dir);
            if (run.ExitCode != 0 || run.Stdout != "ukl-cc works: yes\n")
                throw new ToolchainException($"a test program built by the new ukl-cc misbehaves (exit {run.ExitCode}): {OneLine(run.Stdout + run.Stderr)}",
                    buildFailed: true);
            string inputs = Path.Combine(dir, "check.ukl-inputs");
            if (!File.Exists(inputs) || !File.ReadAllText(inputs).Contains("crt1.o", StringComparison.Ordinal))
                throw new ToolchainException("the new ukl-cc's link wrote no usable check.ukl-inputs", buildFailed: true);
            progress($"checked: ukl-cc ({info.Libc.ToString().ToLowerInvariant()}) builds and links a test program, with its .ukl-inputs");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>Runs the embedded toolchain/build-musl (progress lines pass through); null in print-only mode when not built.</summary>
    private static string? BuildMusl(bool printOnly, Action<string> progress)
    {
        string script = Path.Combine(Directory.CreateTempSubdirectory("ukl-build-musl-").FullName, "build-musl");
        try
        {
            File.WriteAllText(script, Resource("build-musl"));
            var env = new Dictionary<string, string> { ["UKL_MUSL_CACHE"] = CacheRoot("musl", "UKL_MUSL_CACHE") };
            var r = ExternalCommand.Run("bash", [script, "--model", "kernel", "--print"], progress, env);
            if (r.ExitCode == 3)
            {
                if (printOnly)
                    return null;
                progress("building musl from Debian's source the UKL way (once; about 2-4 minutes on 2 cores, then cached)");
                r = ExternalCommand.Run("bash", [script, "--model", "kernel"], progress, env);
            }
            if (r.ExitCode != 0)
                throw new ToolchainException($"the musl build failed (exit {r.ExitCode}); its messages are above", buildFailed: true);
            string prefix = r.Stdout.Trim().Split('\n')[^1].Trim();
            if (!File.Exists(Path.Combine(prefix, "lib", "libc.a")))
                throw new ToolchainException($"the musl build printed '{prefix}', which has no lib/libc.a", buildFailed: true);
            return prefix;
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(script)!, recursive: true);
        }
    }

    private static void CheckGlibc(string cc, string cxx, string gccVersion)
    {
        var missing = new List<string>();
        if (!Path.IsPathRooted(Gcc(cc, "-print-file-name=libc.a")))
            missing.Add("libc6-dev");
        if (!Path.IsPathRooted(Gcc(cxx, "-print-file-name=libstdc++.a")))
            missing.Add($"libstdc++-{gccVersion.Split('.')[0]}-dev");
        if (missing.Count > 0)
            throw new ToolchainException($"the glibc flavour links Debian's static archives, which are not installed: apt-get install {string.Join(" ", missing)}");
    }

    private static string Key(ToolchainLibc libc, string? sysroot, string gccVersion, string cc, string cxx, string ld)
    {
        var sb = new StringBuilder();
        sb.Append($"libc {libc}\nsysroot {sysroot}\ngcc {gccVersion}\ncc {cc}\ncxx {cxx}\nld {ld}\n");
        foreach (var name in DriverResources)
            sb.Append(name).Append('\n').Append(Resource(name)).Append('\n');
        return Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(sb.ToString())))[..24].ToLowerInvariant();
    }

    /// <summary>
    /// /var/cache/ukl-link/NAME (the environment variable overrides it) when it can be written, else
    /// $XDG_CACHE_HOME/ukl-link/NAME (~/.cache/ukl-link/NAME) for users without root.
    /// </summary>
    public static string CacheRoot(string name, string environmentVariable)
    {
        if (Environment.GetEnvironmentVariable(environmentVariable) is { Length: > 0 } set)
            return set;
        string system = Path.Combine("/var/cache/ukl-link", name);
        if (Writable(system))
            return system;
        string home = Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } xdg
            ? xdg
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
        return Path.Combine(home, "ukl-link", name);
    }

    private static bool Writable(string dir)
    {
        try
        {
            Directory.CreateDirectory(dir);
            string probe = Path.Combine(dir, $".probe-{Environment.ProcessId}");
            File.WriteAllText(probe, "");
            File.Delete(probe);
            return true;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>A file of the toolchain/ directory, embedded in this library.</summary>
    public static string Resource(string name)
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream($"toolchain/{name}")
            ?? throw new InvalidOperationException($"toolchain/{name} is not embedded in UklLink.Core");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    private static string Gcc(string compiler, string option)
    {
        var r = ExternalCommand.Run(compiler, [option]);
        if (r.ExitCode != 0)
            throw new ToolchainException($"{compiler} {option} failed: {OneLine(r.Stderr)}");
        return r.Stdout.Trim();
    }

    /// <summary>The program's path on PATH, or null.</summary>
    public static string? Which(string program)
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin:/bin").Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            string candidate = Path.Combine(dir, program);
            if (File.Exists(candidate) && (OperatingSystem.IsWindows() || (File.GetUnixFileMode(candidate) & UnixFileMode.UserExecute) != 0))
                return candidate;
        }
        return null;
    }

    private static void WriteExecutable(string path, string text)
    {
        File.WriteAllText(path, text);
        if (!OperatingSystem.IsWindows())
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute |
            UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
    }

    private static void Link(string path, string target)
    {
        if (File.Exists(path) || Directory.Exists(path) || new FileInfo(path).LinkTarget is not null)
            File.Delete(path);
        File.CreateSymbolicLink(path, target);
    }

    private static string? ManifestValue(string file, string key) =>
        File.Exists(file)
            ? File.ReadLines(file).Where(l => l.StartsWith(key + "=", StringComparison.Ordinal)).Select(l => l[(key.Length + 1)..].Trim('"')).FirstOrDefault()
            : null;

    /// <summary>Single-quoted for sh unless it needs no quotes.</summary>
    public static string ShellQuote(string s) =>
        s.Length > 0 && s.All(c => char.IsAsciiLetterOrDigit(c) || "_./+,:=%@-".Contains(c)) ? s : "'" + s.Replace("'", "'\\''") + "'";

    private static string OneLine(string s)
    {
        var lines = s.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return lines.Length == 0 ? "(no message)" : string.Join(" | ", lines.TakeLast(3));
    }
}
