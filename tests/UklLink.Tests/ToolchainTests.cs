using UklLink.CommandLine;
using UklLink.Tests.Support;
using Xunit;

namespace UklLink.Tests;

/// <summary>
/// `ukl-link toolchain` and the drivers it installs, natively (no QEMU): what ukl-cc compiles, the ordinary executable
/// its link makes, and PROGRAM.ukl-inputs checked against an independent reading of gcc's own ld command line.
/// </summary>
public class ToolchainTests
{
    private static readonly Lazy<IReadOnlyDictionary<string, string>> Musl = new(() => Prepare("musl"));
    private static readonly Lazy<IReadOnlyDictionary<string, string>> Glibc = new(() => Prepare("glibc"));

    private static IReadOnlyDictionary<string, string> Prepare(string libc)
    {
        MuslBuild.Prefix("kernel"); // the same cached build the toolchain uses; built here once if missing
        var r = Cli.Run("toolchain", "--libc", libc);
        Assert.True(r.ExitCode == 0, r.Stderr);
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in r.StdoutLines.Where(l => !l.StartsWith('#')))
            foreach (var word in (line.StartsWith("export ", StringComparison.Ordinal) ? line[7..] : line).Split(' '))
                if (word.IndexOf('=') is int eq and > 0)
                    values[word[..eq]] = word[(eq + 1)..].Trim('\'');
        return values;
    }

    private static string Sh(string command, string dir, IReadOnlyDictionary<string, string> tc) =>
        Toolchain.Run("export " + string.Join(" ", tc.Select(kv => $"{kv.Key}='{kv.Value}'")) + "; " + command, dir);

    [Fact]
    public void ToolchainPrintsShellAssignmentsAndPrintFindsItAgain()
    {
        var tc = Musl.Value;
        Assert.Equal("musl", tc["UKL_LIBC"]);
        Assert.True(File.Exists(tc["CC"]) && File.Exists(tc["CXX"]));
        Assert.True(File.Exists(Path.Combine(tc["UKL_SYSROOT"], "lib", "libc.a")));
        var again = Cli.Run("toolchain", "--libc", "musl", "--print");
        Assert.Equal(0, again.ExitCode);
        Assert.Contains($"export CC={tc["CC"]} CXX={tc["CXX"]}", again.StdoutLines);
        var bad = Cli.Run("toolchain", "--libc", "newlib");
        Assert.Equal(2, bad.ExitCode);
        Assert.Equal("ukl-link: error: --libc takes musl or glibc, not 'newlib'", Assert.Single(bad.StderrLines));
    }

    /// <summary>The UKL flags win over a project's own (-fPIC, -fstack-protector-strong, -flto), so validate finds nothing.</summary>
    [Fact]
    public void MuslObjectsAreWhatUklLinkWantsWhateverTheProjectsFlags()
    {
        var tc = Musl.Value;
        string dir = Toolchain.NewWorkDirectory();
        File.WriteAllText(Path.Combine(dir, "app.c"),
            "#include <stdio.h>\n#include <string.h>\nstatic char buf[64];\nint main(int c, char **v) { strcpy(buf, v[0]); printf(\"%s %d\\n\", buf, c); return 0; }\n");
        Sh("\"$CC\" -O2 -fPIC -fstack-protector-strong -flto -c app.c -o app.o", dir, tc);
        string obj = Path.Combine(dir, "app.o");
        var r = Cli.Run("validate", obj);
        Assert.True(r.ExitCode == 0, r.Stdout);
        Assert.DoesNotContain(".gnu.lto", Toolchain.Run($"readelf -S {obj}"));
        Assert.Contains("R_X86_64_32S", Toolchain.Run($"readelf -r {obj}")); // -mcmodel=kernel's absolute form
    }

    /// <summary>
    /// The list the ld wrapper writes is what ld opened; the oracle is gcc's own ld command line (gcc -###), whose
    /// -L/-l and linker-script archives ukl-link resolves itself (LdCommandLine): both must give the same files.
    /// </summary>
    [Theory]
    [InlineData("musl")]
    [InlineData("glibc")]
    public void UklInputsAreTheInputsOfGccsLinkInOrder(string libc)
    {
        var tc = libc == "musl" ? Musl.Value : Glibc.Value;
        string dir = Toolchain.NewWorkDirectory();
        File.WriteAllText(Path.Combine(dir, "main.c"), "#include <math.h>\n#include <stdio.h>\nint helper(void);\nint main(int c, char **v) { printf(\"%.3f %d\\n\", sqrt((double)c + 1), helper()); return 0; }\n");
        File.WriteAllText(Path.Combine(dir, "helper.c"), "int helper(void) { return 42; }\n");
        // Absolute paths: the oracle below resolves them in this process, whose directory is not the build's.
        Sh($"\"$CC\" -O2 -c main.c helper.c && ar rcs libhelper.a helper.o && \"$CC\" -o prog {dir}/main.o -L{dir} -lhelper -lm", dir, tc);
        Assert.Equal("1.414 42\n", Toolchain.Run("./prog", dir));
        var written = ResponseFile.Parse(File.ReadAllText(Path.Combine(dir, "prog.ukl-inputs")));

        // gcc -### prints the collect2 (ld) command it would run; take its arguments after the program name.
        string plan = Sh($"\"$CC\" -### -o prog {dir}/main.o -L{dir} -lhelper -lm 2>&1", dir, tc);
        string collect = plan.Split('\n').Single(l => l.Contains("collect2", StringComparison.Ordinal));
        var ldArgs = ResponseFile.Parse(collect).Skip(1).ToList();
        ldArgs.RemoveAll(a => a.StartsWith("-f", StringComparison.Ordinal)); // collect2's own (-fno-lto), not ld's
        int o = ldArgs.IndexOf("-o");
        ldArgs.RemoveRange(o, 2);
        var expansion = LdCommandLine.Expand(ldArgs, _ => (false, false));
        var expected = expansion.Arguments.Select(p => Path.GetFullPath(p)).ToList();
        Assert.Equal(expected, written.Select(p => Path.GetFullPath(p)).ToList());

        string crtDir = libc == "musl" ? Path.Combine(tc["UKL_SYSROOT"], "lib") : "/usr/lib/x86_64-linux-gnu";
        Assert.Equal(Path.Combine(crtDir, "crt1.o"), written[0]);
        Assert.Contains(Path.Combine(dir, "libhelper.a"), written);
        Assert.Contains(Path.Combine(crtDir, "libc.a"), written);
        if (libc == "glibc")
        {
            // gcc -static's order, as ld opened it (glibc's libm.a is a script naming libm-2.xx.a and libmvec.a).
            Assert.EndsWith("crti.o", written[1]);
            Assert.EndsWith("crtbeginT.o", written[2]);
            Assert.EndsWith("crtend.o", written[^2]);
            Assert.EndsWith("crtn.o", written[^1]);
            Assert.Contains(written, w => w.EndsWith("/libmvec.a", StringComparison.Ordinal));
        }
    }

    [Fact]
    public void CompileAndLinkInOneStepKeepsTheObjectGccDeletes()
    {
        var tc = Musl.Value;
        string dir = Toolchain.NewWorkDirectory();
        File.WriteAllText(Path.Combine(dir, "one.c"), "int main(void) { return 3; }\n");
        Sh("mkdir -p out && \"$CC\" -o out/one one.c", dir, tc);
        var written = ResponseFile.Parse(File.ReadAllText(Path.Combine(dir, "out", "one.ukl-inputs")));
        string kept = Assert.Single(written, w => w.Contains("/out/one.ukl-objects/", StringComparison.Ordinal));
        Assert.True(File.Exists(kept));
        var v = Cli.Run("validate", kept);
        Assert.True(v.ExitCode == 0, v.Stdout);

        // A link that fails leaves no list behind, not even an old one.
        Assert.ThrowsAny<InvalidOperationException>(() => Sh("\"$CC\" -o out/one one.c -lno-such-library", dir, tc));
        Assert.False(File.Exists(Path.Combine(dir, "out", "one.ukl-inputs")));
        // A partial link is not a final link: no list.
        Sh("\"$CC\" -c one.c && \"$CC\" -r -o part.o one.o", dir, tc);
        Assert.False(File.Exists(Path.Combine(dir, "part.o.ukl-inputs")));
    }

    /// <summary>musl's ukl-c++: the C++ language (classes, templates, static constructors and destructors) on musl.</summary>
    [Fact]
    public void MuslCxxBuildsCxxWithoutTheStandardLibrary()
    {
        var tc = Musl.Value;
        string dir = Toolchain.NewWorkDirectory();
        File.WriteAllText(Path.Combine(dir, "cx.cc"), "#include <stdio.h>\nstruct Noisy { int n; Noisy() : n(21) { puts(\"ctor\"); } ~Noisy() { puts(\"dtor\"); } } noisy;\n" +
            "template <class T> T twice(T x) { return x + x; }\nint main() { printf(\"%d\\n\", twice(noisy.n)); }\n");
        Sh("\"$CXX\" -O2 -o cx cx.cc", dir, tc);
        Assert.Equal("ctor\n42\ndtor\n", Toolchain.Run("./cx", dir));
        var written = ResponseFile.Parse(File.ReadAllText(Path.Combine(dir, "cx.ukl-inputs")));
        Assert.Contains(written, w => w.EndsWith("/lib/ukl-dso-handle.o", StringComparison.Ordinal));
    }
}
