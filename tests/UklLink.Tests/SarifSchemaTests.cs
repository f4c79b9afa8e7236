using NJsonSchema;
using UklLink.Tests.Support;
using Xunit;

namespace UklLink.Tests;

/// <summary>`validate --format sarif` against the SARIF 2.1.0 JSON schema (tests/UklLink.Tests/schemas).</summary>
public class SarifSchemaTests
{
    private static readonly Lazy<JsonSchema> Schema = new(() =>
        JsonSchema.FromJsonAsync(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "schemas", "sarif-2.1.0-rtm.5.json"))).GetAwaiter().GetResult());

    private static void AssertValid(string sarif)
    {
        var errors = Schema.Value.Validate(sarif);
        Assert.True(errors.Count == 0, string.Join("\n", errors.Select(e => $"{e.Path}: {e.Kind} {e}")) + "\n" + sarif);
    }

    [Fact]
    public void FindingsWithSourceLinesSymbolsAndHintsAreValidSarif()
    {
        // Debug info gives source files and lines; the small code model gives errors with hints and symbols.
        string bad = Toolchain.CompileC("""
            static long v;
            long *where(void) { return &v; }
            int leaf(int a) { volatile int b[8]; b[a & 7] = a; return b[(a + 1) & 7]; }
            void f(void) { __asm__ volatile("syscall" ::: "rcx", "r11", "memory"); }
            """, Toolchain.SmallModelFlags + " -g", "sarifbad");
        var r = Cli.Run("-v", "validate", "--format", "sarif", bad);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("\"logicalLocations\"", r.Stdout);
        AssertValid(r.Stdout);
    }

    [Fact]
    public void KernelChecksAndWrongInputsAreValidSarif()
    {
        string kernel = FakeKernel.Build(1);
        string app = Toolchain.CompileC("extern int missing(void); void _start(void) { missing(); __asm__ volatile(\"syscall\"); }",
            Toolchain.UklFlags, "sarifkernel");
        string exe = FakeKernel.Build(null);
        string dir = Toolchain.NewWorkDirectory();
        string output = Path.Combine(dir, "ukl.sarif");
        var r = Cli.Run("validate", "--kernel", kernel, "--format", "sarif", "-o", output, app, exe);
        Assert.Equal(1, r.ExitCode);
        string sarif = File.ReadAllText(output);
        Assert.Contains("UKL009", sarif);
        Assert.Contains("UKL010", sarif);
        AssertValid(sarif);
    }

    [Fact]
    public void CleanObjectGivesValidSarifWithNoResults()
    {
        string good = Toolchain.CompileC("int add(int a, int b) { return a + b; }", Toolchain.UklFlags, "sarifgood");
        var r = Cli.Run("validate", "--format", "sarif", good);
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Contains("\"results\": []", r.Stdout);
        AssertValid(r.Stdout);
    }

    [Fact]
    public void SchemaRejectsABrokenLog()
    {
        // The check has teeth: a result with an unknown level and no message fails.
        var errors = Schema.Value.Validate("""
            { "version": "2.1.0", "runs": [ { "tool": { "driver": { "name": "x" } }, "results": [ { "level": "fatal" } ] } ] }
            """);
        Assert.NotEmpty(errors);
    }
}
