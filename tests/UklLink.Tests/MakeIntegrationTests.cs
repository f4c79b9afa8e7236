using System.Diagnostics;
using UklLink.Output;
using UklLink.Tests.Support;
using Xunit;

namespace UklLink.Tests;

/// <summary>
/// make/ukl.mk and `--depfile`: the app in fixtures/make-app builds with make against the stand-in kernel, and make's
/// rebuild decisions follow the sources, the kernel and the linker script.
/// </summary>
public class MakeIntegrationTests
{
    private static readonly string UklMk = Path.Combine(RepositoryPaths.Root, "make", "ukl.mk");
    private static readonly string UklLinkCommand = $"dotnet {Path.Combine(AppContext.BaseDirectory, "ukl-link.dll")}";

    private sealed record MakeResult(int ExitCode, string Output);

    /// <summary>A copy of the app with its own kernel and linker script (so touching them touches nothing shared).</summary>
    private static string NewApp()
    {
        string dir = Toolchain.NewWorkDirectory();
        foreach (var f in Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "fixtures", "make-app")))
            File.Copy(f, Path.Combine(dir, Path.GetFileName(f)));
        File.Copy(FakeKernel.Build(1, "ukl_entry_SYSCALL_64"), Path.Combine(dir, "vmlinux"));
        File.Copy(RepositoryPaths.DefaultScript, Path.Combine(dir, "app.ld"));
        return dir;
    }

    private static MakeResult Make(string dir, params string[] extra)
    {
        var psi = new ProcessStartInfo("make")
        {
            WorkingDirectory = dir,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var a in new[] { $"UKL_MK={UklMk}", "UKL_KERNEL=vmlinux", "UKL_SCRIPT=app.ld", $"UKL_LINK={UklLinkCommand}" }.Concat(extra))
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        p.WaitForExit();
        return new MakeResult(p.ExitCode, stdout.Result + stderr.Result);
    }

    private static bool Linked(MakeResult r) => r.Output.Contains("ukl-link.dll link --kernel vmlinux", StringComparison.Ordinal);

    private static bool Compiled(MakeResult r, string source) => r.Output.Contains($"-o {Path.ChangeExtension(source, ".o")} {source}", StringComparison.Ordinal);

    private static void Touch(string path) => File.SetLastWriteTimeUtc(path, DateTime.UtcNow);

    [Fact]
    public void MakeBuildsOnceThenRebuildsOnlyWhatChanged()
    {
        string app = NewApp();

        var first = Make(app);
        Assert.True(first.ExitCode == 0, first.Output);
        Assert.True(Compiled(first, "main.c") && Compiled(first, "util.c") && Linked(first), first.Output);
        Assert.Contains("-mcmodel=kernel -mno-red-zone -fno-pic -fno-pie -fno-stack-protector -ffreestanding", first.Output);
        Assert.True(File.Exists(Path.Combine(app, "app.vmlinux")));
        string dep = File.ReadAllText(Path.Combine(app, "app.vmlinux.d"));
        Assert.StartsWith("app.vmlinux: \\\n  app.ld \\\n  vmlinux \\\n  app.o\n", dep);

        // Nothing changed: make -q says up to date, and make does nothing.
        var question = Make(app, "-q");
        Assert.True(question.ExitCode == 0, question.Output);
        var second = Make(app);
        Assert.True(second.ExitCode == 0 && !Linked(second) && !Compiled(second, "main.c"), second.Output);
        Assert.Contains("Nothing to be done", second.Output);

        // One source: that object is compiled again and the app relinked; the other object is left alone.
        Touch(Path.Combine(app, "util.c"));
        Assert.Equal(1, Make(app, "-q").ExitCode);
        var source = Make(app);
        Assert.True(source.ExitCode == 0 && Compiled(source, "util.c") && !Compiled(source, "main.c") && Linked(source), source.Output);

        // The kernel, then the linker script: only the link runs again (make learnt both from the depfile).
        Touch(Path.Combine(app, "vmlinux"));
        var kernel = Make(app);
        Assert.True(kernel.ExitCode == 0 && Linked(kernel) && !Compiled(kernel, "util.c") && !Compiled(kernel, "main.c"), kernel.Output);
        Touch(Path.Combine(app, "app.ld"));
        var script = Make(app);
        Assert.True(script.ExitCode == 0 && Linked(script) && !Compiled(script, "util.c"), script.Output);

        Assert.Equal(0, Make(app, "-q").ExitCode);
    }

    [Fact]
    public void MissingCompilerFlagStopsMakeNamingTheFlag()
    {
        string app = NewApp();
        string cc = Path.Combine(app, "old-cc");
        File.WriteAllText(cc, "#!/bin/sh\nfor a; do [ \"$a\" = -mno-red-zone ] && { echo \"error: unrecognized option $a\" >&2; exit 1; }; done\nexec gcc \"$@\"\n");
        Toolchain.Run($"chmod +x '{cc}'");
        var r = Make(app, $"CC={cc}");
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains($"ukl.mk: the C compiler '{cc}' does not accept -mno-red-zone, which UKL objects need", r.Output);
        Assert.False(File.Exists(Path.Combine(app, "main.o")));
    }

    [Fact]
    public void DepfileListsThinArchiveMembersAndEscapesForMake()
    {
        string dir = Toolchain.NewWorkDirectory();
        string odd = Path.Combine(dir, "a dir $with #odd");
        Directory.CreateDirectory(odd);
        File.Copy(Toolchain.CompileC("int helper(void) { return 7; }", Toolchain.UklFlags, "helper"), Path.Combine(odd, "helper.o"));
        File.Copy(Toolchain.CompileC("int helper(void); void _start(void) { helper(); for (;;) ; }", Toolchain.UklFlags, "start"), Path.Combine(dir, "start.o"));
        Toolchain.Run($"ar rcT libthin.a 'a dir $with #odd/helper.o'", dir);
        string kernel = FakeKernel.Build(1, "ukl_entry_SYSCALL_64");

        string cwd = Environment.CurrentDirectory;
        CliResult r;
        try
        {
            // Relative paths, as make passes them: the depfile keeps them relative.
            Environment.CurrentDirectory = dir;
            r = Cli.Run("link", "--kernel", kernel, "-o", "out vmlinux", "--depfile", "out.d", "start.o", "libthin.a");
        }
        finally
        {
            Environment.CurrentDirectory = cwd;
        }
        Assert.True(r.ExitCode == 0, r.Stderr);
        string dep = File.ReadAllText(Path.Combine(dir, "out.d"));
        Assert.Equal(
            $"out\\ vmlinux: \\\n  {kernel} \\\n  start.o \\\n  libthin.a \\\n  a\\ dir\\ $$with\\ \\#odd/helper.o\n" +
            $"\n{kernel}:\n\nstart.o:\n\nlibthin.a:\n\na\\ dir\\ $$with\\ \\#odd/helper.o:\n", dep);
        Assert.Empty(Directory.GetFiles(dir, ".out.d*"));

        // make reads it back as the same file names: up to date, then out of date once the oddly named member changes.
        File.WriteAllText(Path.Combine(dir, "Makefile"), "include out.d\nout\\ vmlinux:\n\t@echo relink\n");
        Assert.Equal("0", Toolchain.Run("make -q; echo $?", dir).Trim());
        File.SetLastWriteTimeUtc(Path.Combine(odd, "helper.o"), DateTime.UtcNow.AddSeconds(5));
        Assert.Equal("1", Toolchain.Run("make -q; echo $?", dir).Trim());
    }

    [Fact]
    public void EscapeFollowsMakeRules()
    {
        Assert.Equal("plain/file.o", Depfile.Escape("plain/file.o"));
        Assert.Equal("a\\ b", Depfile.Escape("a b"));
        Assert.Equal("cost$$", Depfile.Escape("cost$"));
        Assert.Equal("x\\#1", Depfile.Escape("x#1"));
        Assert.Equal("back\\\\\\ slash", Depfile.Escape("back\\ slash"));
        Assert.Throws<IOException>(() => Depfile.Escape("new\nline"));
    }

    [Fact]
    public void LinkWithBzImageAndPackWriteDepfilesForTheirOutputs()
    {
        string dir = Toolchain.NewWorkDirectory();
        string setup = BootFixtures.WriteTemp(dir, "setup.bin", BootFixtures.SetupBin());
        string vm = BootFixtures.WriteTemp(dir, "vmlinux", BootFixtures.Vmlinux(BootFixtures.KernelLikeSegments()));
        string bz = Path.Combine(dir, "bzImage");
        var r = Cli.Run("pack", "--kernel", vm, "--setup", setup, "-o", bz, "--depfile", bz + ".d");
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Equal($"{bz}: \\\n  {vm} \\\n  {setup}\n\n{vm}:\n\n{setup}:\n", File.ReadAllText(bz + ".d"));
    }
}
