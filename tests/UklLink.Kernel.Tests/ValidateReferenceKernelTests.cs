using System.Diagnostics;
using UklLink.Cli;

namespace UklLink.Kernel.Tests;

/// <summary>`ukl-link validate --kernel` against the real reference vmlinux, checked against binutils' nm.</summary>
public class ValidateReferenceKernelTests
{
    private static (int Code, string Stdout, string Stderr) Validate(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = UklLinkCli.Run(args, stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }

    private static string Sh(string command)
    {
        var psi = new ProcessStartInfo("bash", new[] { "-c", command }) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var p = Process.Start(psi)!;
        string output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"{command} failed: {p.StandardError.ReadToEnd()}");
        return output;
    }

    [Fact]
    public void ReferenceKernelCarriesSlotAbiV2WithTheSlotSizesNmSees()
    {
        var kernel = KernelBuild.Ensure();
        // The oracle: slot sizes from nm's symbol values, independent of ukl-link's reader.
        var symbols = Sh($"nm {kernel.Vmlinux}").Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => l.Split(' ')).Where(p => p.Length == 3).GroupBy(p => p[2]).ToDictionary(g => g.Key, g => Convert.ToUInt64(g.First()[0], 16));
        string Size(string role) => $"{(symbols[$"__ukl_{role}_slot_end"] - symbols[$"__ukl_{role}_slot_start"]) / (1024 * 1024)} MiB";

        string dir = Path.Combine(Path.GetTempPath(), "ukl-link-tests", "kernel-validate", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "app.c"), "extern int _printk(const char *, ...); long run(void) { return _printk(\"x\"); }\nextern long nowhere_in_the_kernel(void); long other(void) { return nowhere_in_the_kernel(); }\n");
        Sh($"cd {dir} && gcc -O2 -mcmodel=kernel -mno-red-zone -fno-pic -fno-pie -c app.c -o app.o");

        var (code, stdout, stderr) = Validate("validate", "--kernel", kernel.Vmlinux, Path.Combine(dir, "app.o"));
        Assert.Equal("", stderr);
        Assert.Equal(1, code);
        Assert.Contains($"note UKL011: kernel carries UKL slot ABI v2 (text {Size("text")}, rodata {Size("rodata")}, data {Size("data")}, bss {Size("bss")}; no application linked; features: event stack (red-zone safe), per-process data, bypass)", stdout);
        // _printk (what 6.1's printk macro calls) is a kernel global and binds; the other name is undefined everywhere.
        Assert.Contains("undefined symbol: nowhere_in_the_kernel", stdout);
        Assert.DoesNotContain("undefined symbol: _printk", stdout);
    }
}
