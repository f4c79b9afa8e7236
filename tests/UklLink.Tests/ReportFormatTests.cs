using System.Text.Json;
using UklLink.Tests.Support;
using Xunit;

namespace UklLink.Tests;

/// <summary>The text, JSON and SARIF reports and the -o option.</summary>
public class ReportFormatTests
{
    private static string MisBuilt() => Toolchain.CompileC("""
        static long v;
        long *where(void) { return &v; }
        int leaf(int a) { volatile int b[8]; b[a & 7] = a; return b[(a + 1) & 7]; }
        """, Toolchain.SmallModelFlags + " -g", "bad");

    [Fact]
    public void JsonCarriesEveryFindingWithItsStructuredLocation()
    {
        var r = Cli.Run("validate", "--format", "json", MisBuilt());
        Assert.Equal(1, r.ExitCode);
        using var doc = JsonDocument.Parse(r.Stdout);
        var root = doc.RootElement;
        Assert.Equal("ukl-link", root.GetProperty("tool").GetString());
        var findings = root.GetProperty("findings").EnumerateArray().ToList();
        Assert.Equal(root.GetProperty("summary").GetProperty("errors").GetInt32(), findings.Count(f => f.GetProperty("severity").GetString() == "error"));
        var abs = findings.First(f => f.GetProperty("ruleId").GetString() == "UKL001");
        var loc = abs.GetProperty("location");
        Assert.Equal(".text", loc.GetProperty("section").GetString());
        Assert.Equal("where", loc.GetProperty("symbol").GetString());
        Assert.EndsWith("bad.c", loc.GetProperty("sourceFile").GetString());
        Assert.Equal(2, loc.GetProperty("sourceLine").GetInt32());
        Assert.Equal("compile with -mcmodel=kernel (and -fno-pic -fno-pie)", abs.GetProperty("hint").GetString());
        Assert.Contains(findings, f => f.GetProperty("ruleId").GetString() == "UKL002");
    }

    [Fact]
    public void SarifHasTheShapeCodeScanningNeeds()
    {
        var r = Cli.Run("validate", "--format", "sarif", MisBuilt());
        Assert.Equal(1, r.ExitCode);
        using var doc = JsonDocument.Parse(r.Stdout);
        var root = doc.RootElement;
        Assert.Equal("2.1.0", root.GetProperty("version").GetString());
        var run = Assert.Single(root.GetProperty("runs").EnumerateArray());
        var driver = run.GetProperty("tool").GetProperty("driver");
        Assert.Equal("ukl-link", driver.GetProperty("name").GetString());
        var rules = driver.GetProperty("rules").EnumerateArray().ToList();
        Assert.Equal(rules.Count, rules.Select(x => x.GetProperty("id").GetString()).Distinct().Count());
        foreach (var result in run.GetProperty("results").EnumerateArray())
        {
            string id = result.GetProperty("ruleId").GetString()!;
            int index = result.GetProperty("ruleIndex").GetInt32();
            Assert.Equal(id, rules[index].GetProperty("id").GetString());
            Assert.Contains(result.GetProperty("level").GetString(), new[] { "error", "warning", "note" });
            Assert.False(string.IsNullOrEmpty(result.GetProperty("message").GetProperty("text").GetString()));
            var physical = result.GetProperty("locations")[0].GetProperty("physicalLocation");
            Assert.False(string.IsNullOrEmpty(physical.GetProperty("artifactLocation").GetProperty("uri").GetString()));
            Assert.True(physical.GetProperty("region").GetProperty("startLine").GetInt32() >= 1);
        }
        var abs = run.GetProperty("results").EnumerateArray().First(x => x.GetProperty("ruleId").GetString() == "UKL001");
        var absLoc = abs.GetProperty("locations")[0];
        Assert.EndsWith("bad.c", absLoc.GetProperty("physicalLocation").GetProperty("artifactLocation").GetProperty("uri").GetString());
        Assert.Equal(2, absLoc.GetProperty("physicalLocation").GetProperty("region").GetProperty("startLine").GetInt32());
        Assert.Equal("where", absLoc.GetProperty("logicalLocations")[0].GetProperty("name").GetString());
    }

    [Fact]
    public void OutputFileIsWrittenWholeAndStdoutStaysEmpty()
    {
        string dir = Toolchain.NewWorkDirectory();
        string report = Path.Combine(dir, "report.sarif");
        var r = Cli.Run("validate", "--format", "sarif", "-o", report, MisBuilt());
        Assert.Equal(1, r.ExitCode);
        Assert.Equal("", r.Stdout);
        using var doc = JsonDocument.Parse(File.ReadAllText(report));
        Assert.Equal("2.1.0", doc.RootElement.GetProperty("version").GetString());
        Assert.Equal(new[] { "report.sarif" }, Directory.GetFiles(dir).Select(Path.GetFileName));
    }

    [Fact]
    public void UsageErrorsExitWithTwo()
    {
        Assert.Equal(2, Cli.Run("validate").ExitCode);
        Assert.Equal(2, Cli.Run("validate", "--format", "xml", "x.o").ExitCode);
        Assert.Equal(2, Cli.Run("frobnicate").ExitCode);
        var r = Cli.Run("validate", "--no-such-option", "x.o");
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("ukl-link: error:", r.Stderr);
    }

    [Fact]
    public void TextFindingLineHasCompilerShape()
    {
        var r = Cli.Run("validate", MisBuilt());
        var line = r.StdoutLines.First(l => l.Contains("UKL001"));
        Assert.Matches(@"^\S+bad\.o:\(\.text\+0x[0-9a-f]+\): error UKL001: relocation R_X86_64_32 against '\.bss' .* \[\S*bad\.c:2, in where\+0x[0-9a-f]+\]$", line);
        Assert.Matches(@"^validate: 1 input, \d+ errors, 0 warnings, 0 notes$", r.StdoutLines[^1]);
    }
}
