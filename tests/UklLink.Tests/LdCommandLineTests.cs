using UklLink.CommandLine;
using UklLink.Tests.Support;
using Xunit;

namespace UklLink.Tests;

/// <summary>ld-style inputs among link's arguments: -L/-l searched as ld -static does, groups, gcc's habitual options.</summary>
public class LdCommandLineTests
{
    private static readonly string[] NoDefaults = [];

    private static (bool, bool) Options(string token) => token switch
    {
        "-o" or "-k" or "-e" => (true, true),
        "-v" => (true, false),
        _ => (false, false),
    };

    private static string Archive(string dir, string name, string symbol)
    {
        Directory.CreateDirectory(dir);
        string obj = Toolchain.CompileC($"int {symbol}(void) {{ return 1; }}", Toolchain.UklFlags, symbol);
        string archive = Path.Combine(dir, name);
        Toolchain.Run($"rm -f {archive} && ar rcs {archive} {obj}");
        return archive;
    }

    [Fact]
    public void LibrariesAreSearchedInEveryLDirectoryInOrderWhereverTheLStands()
    {
        string dir = Toolchain.NewWorkDirectory();
        string first = Archive(Path.Combine(dir, "one"), "libfoo.a", "foo_one");
        Archive(Path.Combine(dir, "two"), "libfoo.a", "foo_two");
        string bar = Archive(Path.Combine(dir, "two"), "libbar.a", "bar");
        var x = LdCommandLine.Expand(["-o", "out", "a.o", "-lfoo", "-l", "bar", $"-L{dir}/one", "-L", $"{dir}/two", "b.o"],
            Options, NoDefaults);
        Assert.Equal(["-o", "out", "a.o", first, bar, "b.o"], x.Arguments);
        Assert.Equal([("-lfoo", first), ("-lbar", bar)], x.Libraries);
        Assert.Empty(x.Ignored);
    }

    [Fact]
    public void ColonNamesAFileAndLibraryPathLongFormsWork()
    {
        string dir = Toolchain.NewWorkDirectory();
        string odd = Archive(dir, "odd-name.a", "odd");
        string foo = Archive(dir, "libfoo.a", "foo");
        var x = LdCommandLine.Expand(["-l:odd-name.a", $"--library-path={dir}", "--library=foo"], Options, NoDefaults);
        Assert.Equal([odd, foo], x.Arguments);
    }

    [Fact]
    public void OnlyStaticArchivesAreFoundAndASharedOneSaysWhatToInstall()
    {
        string dir = Toolchain.NewWorkDirectory();
        File.WriteAllText(Path.Combine(dir, "libdyn.so"), "");
        var ex = Assert.Throws<LdCommandLineException>(() => LdCommandLine.Expand(["-ldyn", $"-L{dir}"], Options, NoDefaults));
        Assert.Equal($"-ldyn: only a shared library was found ({dir}/libdyn.so); ukl-link links static archives: install libdyn.a " +
            "(usually in the library's -dev package) or add -L with the directory that has it", ex.Message);
    }

    [Fact]
    public void NostdlibLeavesTheDefaultDirectoriesOut()
    {
        string dir = Toolchain.NewWorkDirectory();
        string lib = Archive(dir, "libfoo.a", "foo_default");
        Assert.Equal([lib], LdCommandLine.Expand(["-lfoo"], Options, [dir]).Arguments);
        var ex = Assert.Throws<LdCommandLineException>(() => LdCommandLine.Expand(["-nostdlib", "-lfoo"], Options, [dir]));
        Assert.Equal("-lfoo: nowhere to search for libfoo.a (-nostdlib and no -L); add -L DIR for the directory that has it", ex.Message);
    }

    [Fact]
    public void GroupsAndTheOptionsGccPassesLdAreDroppedWithANote()
    {
        var x = LdCommandLine.Expand(["-plugin", "/usr/lib/gcc/liblto_plugin.so", "-plugin-opt=-pass-through=-lgcc", "--build-id",
            "-m", "elf_x86_64", "--hash-style=gnu", "--as-needed", "-static", "-z", "relro", "-znow", "--start-group", "a.o",
            "--end-group", "-(", "b.o", "-)", "-O1", "--gc-sections"], Options, NoDefaults);
        Assert.Equal(["a.o", "b.o"], x.Arguments);
        Assert.Equal(["-plugin /usr/lib/gcc/liblto_plugin.so", "-plugin-opt=-pass-through=-lgcc", "--build-id", "-m elf_x86_64",
            "--hash-style=gnu", "--as-needed", "-static", "-z relro", "-znow", "-O1", "--gc-sections"], x.Ignored);
    }

    [Theory]
    [InlineData("--whole-archive", "--whole-archive: ukl-link pulls in only the archive members a reference needs")]
    [InlineData("-shared", "-shared: a UKL application is one static image")]
    [InlineData("-Bdynamic", "-Bdynamic: ukl-link links static archives only")]
    [InlineData("-r", "-r: for a partial link use ld -r")]
    [InlineData("-melf_i386", "-m elf_i386: ukl-link links x86-64 ELF objects only")]
    public void OptionsThatWouldChangeTheLinkAreRefusedWithTheReason(string option, string message)
    {
        var ex = Assert.Throws<LdCommandLineException>(() => LdCommandLine.Expand(["a.o", option], Options, NoDefaults));
        Assert.StartsWith(message, ex.Message);
    }

    [Fact]
    public void TheCommandsOwnOptionsAndTheirValuesPassThrough()
    {
        // -e is ukl-link's entry option (ld's too): its value is not an input; -v is not ld's --version here.
        var x = LdCommandLine.Expand(["-e", "-lnot-a-library", "-v", "a.o", "--", "-lc", "@x"], Options, NoDefaults);
        Assert.Equal(["-e", "-lnot-a-library", "-v", "a.o", "--", "-lc", "@x"], x.Arguments);
    }

    [Fact]
    public void AnOwnOptionsValueThatLooksLikeAnInputScriptIsNotExpanded()
    {
        // Found by the script fuzz target: `--script FILE` whose text starts with OUTPUT_FORMAT (as GNU ld's own
        // scripts do) was read as an input script and replaced by the (no) files it names, so the next argument became
        // the script and the link failed with "Option '--output' is required" instead of a message about the script.
        string dir = Toolchain.NewWorkDirectory();
        string script = Path.Combine(dir, "looks-like-input.ld");
        File.WriteAllText(script, "OUTPUT_FORMAT(elf64-x86-64)\nGROUP ( libc.a )\n");
        var x = LdCommandLine.Expand(["-k", "vmlinux", "-T", script, "-o", "out", "a.o"],
            t => t is "-T" ? (true, true) : Options(t), NoDefaults);
        Assert.Equal(["-k", "vmlinux", "-T", script, "-o", "out", "a.o"], x.Arguments);

        // Through the command: the script's own error, one line naming it.
        File.WriteAllText(script, "OUTPUT_FORMAT)\n");
        var r = Cli.Run("link", "-k", FakeKernel.Build(), "--script", script, "-o", Path.Combine(dir, "out"),
            Toolchain.CompileC("void _start(void) { for (;;) ; }", Toolchain.UklFlags, "scriptapp"));
        Assert.Equal(2, r.ExitCode);
        var line = Assert.Single(r.StderrLines);
        Assert.Contains($"{script}:1:14: expected '('", line);
    }

    [Fact]
    public void AnInputScriptStandsForTheArchivesItNames()
    {
        // glibc's libm.a is such a script: GROUP ( libm-2.36.a libmvec.a ).
        string dir = Toolchain.NewWorkDirectory();
        string a = Archive(dir, "libreal-1.a", "real_one");
        string b = Archive(dir, "libreal-2.a", "real_two");
        File.WriteAllText(Path.Combine(dir, "libreal.a"),
            $"/* GNU ld script\n*/\nOUTPUT_FORMAT(elf64-x86-64)\nGROUP ( {a} libreal-2.a AS_NEEDED ( -lextra ) )\n");
        string extra = Archive(dir, "libextra.a", "extra");
        var x = LdCommandLine.Expand(["-lreal", $"-L{dir}"], Options, NoDefaults);
        Assert.Equal([a, b, extra], x.Arguments);
    }

    [Fact]
    public void LinkWithLAndLGivesTheSameBytesAsTheArchivePath()
    {
        string kernel = FakeKernel.Build();
        string dir = Toolchain.NewWorkDirectory();
        string lib = Archive(dir, "libhelper.a", "helper");
        string obj = Toolchain.CompileC("int helper(void); int r; void _start(void) { r = helper(); for (;;) ; }", Toolchain.UklFlags, "lapp");
        string direct = Path.Combine(dir, "direct"), searched = Path.Combine(dir, "searched");
        Assert.Equal(0, Cli.Run("link", "-k", kernel, "-o", direct, obj, lib).ExitCode);
        var r = Cli.Run("link", "-k", kernel, "-o", searched, obj, "--start-group", "-lhelper", "--end-group", "-L", dir,
            "--build-id", "-z", "noexecstack");
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Equal(File.ReadAllBytes(direct), File.ReadAllBytes(searched));
        Assert.Contains("ukl-link: note: ignored ld options that mean nothing for a UKL link: --build-id -z noexecstack", r.StderrLines);
    }

    [Fact]
    public void UnknownLibraryIsOneLineAndExitTwo()
    {
        string obj = Toolchain.CompileC("void _start(void) { for (;;) ; }", Toolchain.UklFlags, "nolib");
        var r = Cli.Run("validate", obj, "-lno-such-library-anywhere");
        Assert.Equal(2, r.ExitCode);
        Assert.Equal("ukl-link: error: -lno-such-library-anywhere: no libno-such-library-anywhere.a in ld's default directories " +
            "(no -L given); add -L DIR for the directory that has it", Assert.Single(r.StderrLines));
    }
}
