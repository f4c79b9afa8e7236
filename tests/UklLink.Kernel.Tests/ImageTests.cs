using Xunit.Abstractions;

namespace UklLink.Kernel.Tests;

/// <summary>
/// `ukl-link image`: the bzImage (or vmlinux) and initramfs it writes boot with the printed QEMU command line, on the
/// default machine and on -M microvm (docs/run.md), and the application's status comes back through isa-debug-exit.
/// </summary>
public sealed class ImageTests(ITestOutputHelper output)
{
    private (string Dir, string CommandLine) Image(params string[] extra)
    {
        var m = KernelBuild.Ensure();
        string dir = SampleBuild.Work("image");
        string vmlinux = Path.Combine(dir, "app.vmlinux");
        File.Copy(UklRun.ProbeVmlinux, vmlinux);
        var r = UklRun.InProcess(["image", "-o", Path.Combine(dir, "img"), .. extra, vmlinux, "--", "exit", "5"]);
        output.WriteLine(r.ToString());
        Assert.Equal(0, r.Exit);
        return (Path.Combine(dir, "img"), r.Stdout.Trim());
    }

    [Fact]
    public void ThePrintedCommandLineBootsTheBzImageAndReportsTheStatus()
    {
        var (dir, line) = Image("--setup", KernelBuild.Ensure().SetupBin);
        Assert.StartsWith("qemu-system-x86_64 ", line);
        Assert.Contains($"-kernel {dir}/bzImage -initrd {dir}/initramfs.cpio.gz", line);
        var (exit, stdout, stderr, _) = KernelBuild.Run("bash", ["-c", $"timeout 120 {line}"], TimeSpan.FromMinutes(3));
        output.WriteLine(stdout + stderr);
        Assert.Equal(2 * 5 + 1, exit);
        var script = KernelBuild.Run(Path.Combine(dir, "run-qemu"), [], TimeSpan.FromMinutes(3));
        Assert.Equal(2 * 5 + 1, script.Exit);
    }

    /// <summary>microvm: no PCI (so no e1000) and no PIT/HPET reference for the TSC, which the kernel is told instead.</summary>
    [Fact]
    public void TheVmlinuxAndInitramfsBootUnderMicrovm()
    {
        var (dir, _) = Image();
        var (exit, stdout, stderr, _) = KernelBuild.Run("timeout", ["120", "qemu-system-x86_64", "-M", "microvm", "-accel", "tcg", "-cpu", "qemu64",
            "-m", "256M", "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot", "-serial", "stdio",
            "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04", "-kernel", Path.Combine(dir, "vmlinux"),
            "-initrd", Path.Combine(dir, "initramfs.cpio.gz"), "-append", "console=ttyS0 nokaslr panic=-1 quiet tsc_early_khz=2000000"],
            TimeSpan.FromMinutes(3));
        output.WriteLine(stdout + stderr);
        Assert.Equal(2 * 5 + 1, exit);
    }
}
