using UklLink.CommandLine;
using UklLink.Inputs;
using UklLink.Tests.Support;
using Xunit;

namespace UklLink.Tests;

/// <summary>@FILE response files read as gcc and ld read them (libiberty's buildargv), checked against ld itself.</summary>
public class ResponseFileTests
{
    [Theory]
    [InlineData("a.o b.o\nc.a", new[] { "a.o", "b.o", "c.a" })]
    [InlineData("  \t\n a.o  \r\n\v\f b.o \n\n", new[] { "a.o", "b.o" })]
    [InlineData("'with space.o' \"dq space.o\"", new[] { "with space.o", "dq space.o" })]
    [InlineData(@"back\ slash.o a\\b.o", new[] { "back slash.o", @"a\b.o" })]
    [InlineData(@"'it\'s.o' ""say \""hi\"".o""", new[] { "it's.o", "say \"hi\".o" })]
    [InlineData("mi'x ed'\"  q\".o", new[] { "mix ed  q.o" })]
    [InlineData("'' x", new[] { "", "x" })]
    [InlineData("", new string[0])]
    [InlineData("-L/opt/lib -lc --start-group", new[] { "-L/opt/lib", "-lc", "--start-group" })]
    public void ParsesLikeLibiberty(string text, string[] expected) => Assert.Equal(expected, ResponseFile.Parse(text));

    [Theory]
    [InlineData("plain/path.o")]
    [InlineData("with space.o")]
    [InlineData("quote'single.o")]
    [InlineData("quote\"double.o")]
    [InlineData(@"back\slash.o")]
    [InlineData("tab\tand\nnewline.o")]
    [InlineData("")]
    [InlineData("$dollar*star?.o")]
    [InlineData("@at.o")]
    public void QuoteRoundTrips(string arg) => Assert.Equal([arg], ResponseFile.Parse(ResponseFile.Quote(arg)));

    /// <summary>The oracle: GNU ld opens the same oddly named files from the response file ukl-link writes and reads.</summary>
    [Fact]
    public void LdReadsTheResponseFilesWeWrite()
    {
        string dir = Toolchain.NewWorkDirectory();
        string[] names = ["a b.o", "it's.o", "say \"hi\".o", @"back\slash.o", "tab\there.o"];
        var paths = new List<string>();
        for (int i = 0; i < names.Length; i++)
        {
            string obj = Toolchain.CompileC($"int symbol_{i} = {i};", Toolchain.UklFlags, $"rsp{i}");
            string path = Path.Combine(dir, names[i]);
            File.Copy(obj, path);
            paths.Add(path);
        }
        string rsp = Path.Combine(dir, "inputs.rsp");
        File.WriteAllText(rsp, ResponseFile.Format(paths));
        Toolchain.Run($"ld -r -o {dir}/all.o @{rsp}");
        string symbols = Toolchain.Run($"nm {dir}/all.o");
        for (int i = 0; i < names.Length; i++)
            Assert.Contains($"symbol_{i}", symbols);
        Assert.Equal(paths, ResponseFile.Expand([$"@{rsp}"]));
    }

    [Fact]
    public void NestedFilesExpandInPlaceAndTheApplicationsArgumentsStayAsTheyAre()
    {
        string dir = Toolchain.NewWorkDirectory();
        File.WriteAllText(Path.Combine(dir, "inner"), "b.o c.o");
        File.WriteAllText(Path.Combine(dir, "outer"), $"a.o @{dir}/inner d.o");
        Assert.Equal(["x", "a.o", "b.o", "c.o", "d.o", "y", "--", $"@{dir}/outer"],
            ResponseFile.Expand(["x", $"@{dir}/outer", "y", "--", $"@{dir}/outer"]));
    }

    [Fact]
    public void SelfIncludingFileIsAnErrorNotAHang()
    {
        string dir = Toolchain.NewWorkDirectory();
        string self = Path.Combine(dir, "self");
        File.WriteAllText(self, $"a.o @{self}");
        var ex = Assert.Throws<InputException>(() => ResponseFile.Expand([$"@{self}"]));
        Assert.Contains("nest more than 2000 deep", ex.Message);
    }

    [Fact]
    public void MissingResponseFileIsOneLineAndExitTwo()
    {
        var r = Cli.Run("link", "-k", "vmlinux", "-o", "out", "@/nonexistent/app.ukl-inputs");
        Assert.Equal(2, r.ExitCode);
        Assert.Equal("ukl-link: error: /nonexistent/app.ukl-inputs: no such file (response file @/nonexistent/app.ukl-inputs)",
            Assert.Single(r.StderrLines));
    }

    /// <summary>A response file may hold ukl-link's own options too, as gcc's may hold gcc's.</summary>
    [Fact]
    public void LinkThroughAResponseFileGivesTheSameBytesAsTheArgumentsThemselves()
    {
        string kernel = FakeKernel.Build();
        string obj = Toolchain.CompileC("int counter; void _start(void) { counter++; for (;;) ; }", Toolchain.UklFlags, "rspapp");
        string dir = Toolchain.NewWorkDirectory();
        string direct = Path.Combine(dir, "direct"), viaFile = Path.Combine(dir, "via file");
        Assert.Equal(0, Cli.Run("link", "-k", kernel, "-o", direct, obj).ExitCode);
        string rsp = Path.Combine(dir, "app.ukl-inputs");
        File.WriteAllText(rsp, ResponseFile.Format(["-o", viaFile, obj]));
        var r = Cli.Run("link", "-k", kernel, $"@{rsp}");
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Equal(File.ReadAllBytes(direct), File.ReadAllBytes(viaFile));
    }
}
