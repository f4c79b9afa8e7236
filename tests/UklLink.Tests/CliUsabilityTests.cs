using System.Text.Json;
using UklLink.Tests.Support;
using Xunit;

namespace UklLink.Tests;

/// <summary>What a new user meets first: --version, --help with examples, errors that say the fix, JSON logs.</summary>
public class CliUsabilityTests
{
    [Fact]
    public void VersionIsTheProjectVersion()
    {
        var r = Cli.Run("--version");
        Assert.Equal(0, r.ExitCode);
        string version = System.Xml.Linq.XDocument.Load(Path.Combine(RepositoryPaths.Root, "Directory.Build.props"))
            .Descendants("Version").Single().Value;
        Assert.Equal(version + "\n", r.Stdout);
    }

    [Theory]
    [InlineData("validate")]
    [InlineData("link")]
    [InlineData("pack")]
    [InlineData("inspect")]
    public void EverySubcommandHelpHasExamples(string command)
    {
        var r = Cli.Run(command, "--help");
        Assert.Equal(0, r.ExitCode);
        int at = r.Stdout.IndexOf("Examples:\n", StringComparison.Ordinal);
        Assert.True(at >= 0, r.Stdout);
        var examples = r.Stdout[(at + "Examples:\n".Length)..].Split('\n').TakeWhile(l => l.StartsWith("    ukl-link ", StringComparison.Ordinal)).ToList();
        Assert.True(examples.Count >= 2, r.Stdout);
        Assert.All(examples, e => Assert.Contains($"ukl-link {command} ", e));
        Assert.Contains("Exit status:", r.Stdout);
    }

    [Fact]
    public void ThirtyTwoBitObjectErrorNamesTheFlag()
    {
        string obj = Toolchain.CompileC("int x;", "-m32 -c", "x32");
        var r = Cli.Run("validate", obj);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("is ELF32, expected ELF64", r.Stdout);
        Assert.Contains("hint: rebuild it for x86-64: drop -m32/-mx32 (gcc -m64 -c)", r.Stdout);
    }

    [Fact]
    public void ExecutableInputErrorSaysToPassObjectsOrLdR()
    {
        var r = Cli.Run("validate", FakeKernel.Build(null));
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("expected a relocatable object (ET_REL)", r.Stdout);
        Assert.Contains("ld -r -o app.o a.o b.o", r.Stdout);
    }

    [Fact]
    public void SourceOrScriptPassedAsInputSaysWhatToDo()
    {
        string dir = Toolchain.NewWorkDirectory();
        string c = Path.Combine(dir, "app.c");
        File.WriteAllText(c, "int main(void) { return 0; }\n");
        var r = Cli.Run("validate", c);
        Assert.Equal(2, r.ExitCode);
        Assert.Equal($"ukl-link: error: {c}: not an ELF object or ar archive; it is source code: compile it first (gcc -mcmodel=kernel -mno-red-zone -fno-pic -fno-pie -c)", Assert.Single(r.StderrLines));

        var s = Cli.Run("validate", RepositoryPaths.DefaultScript);
        Assert.Contains("it looks like a linker script: pass it with --script", Assert.Single(s.StderrLines));
    }

    [Fact]
    public void MissingKernelSaysWhereTheKernelComesFrom()
    {
        string obj = Toolchain.CompileC("void _start(void) { for (;;) ; }", Toolchain.UklFlags, "nokernel");
        var r = Cli.Run("link", "--kernel", "/nonexistent/vmlinux", "-o", Path.Combine(Toolchain.NewWorkDirectory(), "out"), obj);
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("/nonexistent/vmlinux: no such file (--kernel takes the vmlinux of a UKL kernel build: `kernel/build --print` names it as VMLINUX)",
            Assert.Single(r.StderrLines));
    }

    [Fact]
    public void BzImageWithoutSetupAndSetupWithoutBzImageAreUsageErrors()
    {
        string obj = Toolchain.CompileC("void _start(void) { for (;;) ; }", Toolchain.UklFlags, "nosetup");
        string dir = Toolchain.NewWorkDirectory();
        var r = Cli.Run("link", "--kernel", FakeKernel.Build(1), "-o", Path.Combine(dir, "out"), "--bzimage", Path.Combine(dir, "bz"), obj);
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("--bzimage needs --setup SETUP: add --setup arch/x86/boot/setup.bin", Assert.Single(r.StderrLines));
        var s = Cli.Run("link", "--kernel", FakeKernel.Build(1), "-o", Path.Combine(dir, "out"), "--setup", "setup.bin", obj);
        Assert.Equal(2, s.ExitCode);
        Assert.Contains("--setup is only used with --bzimage", Assert.Single(s.StderrLines));
        Assert.Empty(Directory.GetFiles(dir));
    }

    private static List<JsonElement> JsonLines(string stderr) =>
        stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement.Clone()).ToList();

    [Fact]
    public void JsonLogsGiveEachLinkPassOnceWithItsDuration()
    {
        string obj = Toolchain.CompileC("static int n; void _start(void) { n++; __asm__ volatile(\"syscall\" ::: \"rcx\", \"r11\"); for (;;) ; }",
            Toolchain.UklFlags, "jsonlog");
        string dir = Toolchain.NewWorkDirectory();
        var r = Cli.Run("-v", "--log-format", "json", "link", "--kernel", FakeKernel.Build(1, "ukl_entry_SYSCALL_64"),
            "-o", Path.Combine(dir, "out"), "--map", Path.Combine(dir, "out.map"), obj);
        Assert.True(r.ExitCode == 0, r.Stderr);
        var events = JsonLines(r.Stderr); // every stderr line is one JSON object
        var passes = events.Where(e => e.TryGetProperty("Pass", out _)).ToList();
        string[] expected = ["read kernel", "read inputs", "check kernel", "resolve", "mark live", "rewrite", "scan relocations", "assign", "merge", "layout",
            "bind", "relocate", "write", "map"];
        Assert.Equal(expected, passes.Select(p => p.GetProperty("Pass").GetString()));
        Assert.All(passes, p => Assert.True(p.GetProperty("Milliseconds").GetInt64() >= 0));
        Assert.All(passes, p => Assert.Equal("Debug", p.GetProperty("@l").GetString()));
        Assert.Contains(events, e => e.GetProperty("@m").GetString()!.StartsWith("linked 1 inputs into ", StringComparison.Ordinal));

        // Without -v the timings are not logged; the result line still is.
        var quiet = Cli.Run("--log-format", "json", "link", "--kernel", FakeKernel.Build(1, "ukl_entry_SYSCALL_64"), "-o", Path.Combine(dir, "out2"), obj);
        Assert.DoesNotContain(JsonLines(quiet.Stderr), e => e.TryGetProperty("Pass", out _));
    }

    [Fact]
    public void JsonLogsCarryFindingsAndOneLineErrors()
    {
        string obj = Toolchain.CompileC("extern int nothere(void); void _start(void) { nothere(); }", Toolchain.UklFlags, "jsonundef");
        var r = Cli.Run("--log-format", "json", "link", "--kernel", FakeKernel.Build(1), "-o", Path.Combine(Toolchain.NewWorkDirectory(), "out"), obj);
        Assert.Equal(1, r.ExitCode);
        var finding = Assert.Single(JsonLines(r.Stderr), e => e.TryGetProperty("RuleId", out _));
        Assert.Equal("UKL010", finding.GetProperty("RuleId").GetString());
        Assert.Equal("Error", finding.GetProperty("@l").GetString());

        var missing = Cli.Run("--log-format", "json", "link", "--kernel", "/nonexistent/vmlinux", "-o", "out", obj);
        Assert.Equal(2, missing.ExitCode);
        var line = Assert.Single(JsonLines(missing.Stderr));
        Assert.Contains("/nonexistent/vmlinux: no such file", line.GetProperty("@m").GetString());
    }

    [Fact]
    public void PackLogsItsPassTiming()
    {
        string dir = Toolchain.NewWorkDirectory();
        string setup = BootFixtures.WriteTemp(dir, "setup.bin", BootFixtures.SetupBin());
        string vm = BootFixtures.WriteTemp(dir, "vmlinux", BootFixtures.Vmlinux(BootFixtures.KernelLikeSegments()));
        var r = Cli.Run("pack", "-v", "--log-format", "json", "--kernel", vm, "--setup", setup, "-o", Path.Combine(dir, "bz"));
        Assert.True(r.ExitCode == 0, r.Stderr);
        var pass = Assert.Single(JsonLines(r.Stderr), e => e.TryGetProperty("Pass", out _));
        Assert.Equal("pack", pass.GetProperty("Pass").GetString());
        Assert.True(pass.GetProperty("Milliseconds").GetInt64() >= 0);
    }
}
