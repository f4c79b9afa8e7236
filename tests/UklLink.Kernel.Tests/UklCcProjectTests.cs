using Xunit.Abstractions;

namespace UklLink.Kernel.Tests;

/// <summary>
/// ukl-cc as CC for real build systems, with real small programs from Debian's sources: GNU hello (autotools) and
/// cmark (CMake, which also checks CXX=ukl-c++). Each builds natively as usual (configure's checks run its
/// executables), its program is linked with `ukl-link link @PROGRAM.ukl-inputs`, runs as /UKL through `ukl-link run`,
/// and prints exactly what the native build of the same objects prints.
/// </summary>
public sealed class UklCcProjectTests(ITestOutputHelper output)
{
    private string Link(string inputs, string name)
    {
        var m = KernelBuild.Ensure();
        string linked = Path.Combine(SampleBuild.Work(name), $"{name}.vmlinux");
        var r = UklRun.InProcess("link", "--kernel", m.Vmlinux, "-o", linked, "@" + inputs);
        output.WriteLine(r.ToString());
        Assert.Equal(0, r.Exit);
        return linked;
    }

    [Fact]
    public void AutotoolsProjectGnuHello()
    {
        var tc = UklRun.Musl;
        string src = DebianSourceBuild.Build("hello", tc, "./configure --disable-nls && make -j2", output.WriteLine);
        string inputs = Path.Combine(src, "hello.ukl-inputs");
        var lines = File.ReadAllLines(inputs);
        Assert.EndsWith("/lib/crt1.o", lines[0]);
        Assert.Contains(Path.Combine(src, "src", "hello.o"), lines);
        Assert.Contains(Path.Combine(src, "lib", "libhello.a"), lines);
        Assert.Contains(lines, l => l.StartsWith(tc["UKL_SYSROOT"], StringComparison.Ordinal) && l.EndsWith("/libc.a"));

        string native = UklRun.Shell("./hello --greeting='ring 0 says hi' && ./hello --traditional", src);
        Assert.Equal("ring 0 says hi\nhello, world\n", native);
        string vmlinux = Link(inputs, "hello");
        var run = UklRun.InProcess("run", "-q", vmlinux, "--", "--greeting=ring 0 says hi");
        output.WriteLine(run.ToString());
        Assert.Equal(0, run.Exit);
        Assert.Equal("ring 0 says hi\n", run.Stdout);
    }

    [Fact]
    public void CMakeProjectCmark()
    {
        var tc = UklRun.Musl;
        UklRun.Shell($"{Path.Combine(KernelBuild.RepoRoot, "scripts", "ensure-prereqs")} cmake", KernelBuild.RepoRoot);
        string src = DebianSourceBuild.Build("cmark", tc,
            "cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DCMARK_SHARED=OFF -DCMARK_TESTS=OFF && cmake --build build -j2", output.WriteLine);
        string dir = SampleBuild.Work("cmark-doc");
        string doc = Path.Combine(dir, "doc.md");
        File.WriteAllText(doc, "# Ring 0\n\nSome *emphasis*, `code` and a [link](https://example.org).\n\n- one\n- two\n\n```c\nint main(void);\n```\n\n> quoted: a & b, 1 < 2\n");
        string native = UklRun.Shell($"build/src/cmark {doc}", src);
        Assert.Contains("<h1>Ring 0</h1>", native);
        Assert.Contains("a &amp; b, 1 &lt; 2", native);

        string vmlinux = Link(Path.Combine(src, "build", "src", "cmark.ukl-inputs"), "cmark");
        var run = UklRun.InProcess("run", "-q", "--file", $"{doc}:/srv/doc.md", vmlinux, "--", "/srv/doc.md");
        output.WriteLine(run.ToString());
        Assert.Equal(0, run.Exit);
        Assert.Equal(native, run.Stdout);
    }
}
