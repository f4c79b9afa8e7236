using System.CommandLine;
using System.Diagnostics;
using UklLink.Boot;
using UklLink.Output;

namespace UklLink.Cli;

/// <summary><c>ukl-link pack</c>: write a bootable bzImage from a vmlinux and the real-mode setup, without kbuild.</summary>
public static class PackCommand
{
    public static Command Create(GlobalOptions global, TextWriter stdout, TextWriter stderr)
    {
        var kernel = new Option<string>("--kernel", "-k")
        {
            Description = "The kernel to boot: a vmlinux (x86-64 ET_EXEC), e.g. one ukl-link linked an application into",
            HelpName = "VMLINUX",
            Required = true,
        };
        var setup = new Option<string>("--setup", "-s")
        {
            Description = "The real-mode setup: the kernel build's arch/x86/boot/setup.bin, or a bzImage of the same kernel to take it from",
            HelpName = "SETUP",
            Required = true,
        };
        var output = new Option<string>("--output", "-o")
        {
            Description = "The bzImage to write (replaced atomically)",
            HelpName = "BZIMAGE",
            Required = true,
        };

        var keepSlots = new Option<bool>("--keep-unused-slots")
        {
            Description = "Store the unused tails of the text, rodata and data slots in the image instead of letting the stub fill them",
        };

        var depfile = new Option<string?>("--depfile")
        {
            Description = "Also write a make depfile: the bzImage depends on the vmlinux and the setup",
            HelpName = "FILE",
        };

        var command = new Command("pack", """
            Write a bootable bzImage from a vmlinux without kbuild: the kernel's real-mode setup, then ukl-link's loader
            stub (32-bit entry at offset 0, 64-bit entry at 0x200) and the vmlinux's PT_LOAD segments, uncompressed,
            with the CRC-32 trailer. The stub copies the segments to their physical addresses and enters startup_64.
            Unused slot tails (checked to hold only their fill bytes) are left out and filled by the stub.

            Examples:
              ukl-link pack --kernel vmlinux --setup arch/x86/boot/setup.bin -o bzImage
              ukl-link pack -k app-vmlinux -s /boot/vmlinuz-ukl -o app-bzImage
              ukl-link pack -k vmlinux.app -s setup.bin -o bzImage.app --depfile bzImage.app.d   (make: -include bzImage.app.d)
            Exit status: 0 written, 2 usage error or unusable input (nothing is written).
            """)
        {
            kernel, setup, output, keepSlots, depfile,
        };

        command.SetAction(parse =>
        {
            using var log = global.CreateLogger(parse);
            var clock = Stopwatch.StartNew();
            string setupPath = parse.GetValue(setup)!, kernelPath = parse.GetValue(kernel)!, outputPath = parse.GetValue(output)!;
            var realMode = RealModeSetup.Load(setupPath);
            var options = new BootImageOptions { OmitUnusedSlotTails = !parse.GetValue(keepSlots) };
            var result = BootImageWriter.Write(kernelPath, realMode, outputPath, options);
            Logging.Pass(log, "pack", clock.ElapsedMilliseconds);
            foreach (var w in result.Warnings)
                log.Warning("{Warning}", w);
            var l = result.Layout;
            log.Information("wrote {Output:l}: {Size} bytes ({Segments} segments, {Omitted} bytes of unused slots left out, setup {SetupSize} bytes from {Source}, init_size 0x{InitSize:x}) in {Milliseconds} ms",
                outputPath, l.FileSize, l.Kernel.Segments.Count, l.OmittedBytes, l.SetupSize, realMode.Source, l.InitSize, clock.ElapsedMilliseconds);
            if (parse.GetValue(depfile) is { } dep)
                Depfile.Write(dep, [new Depfile.Rule(outputPath, [kernelPath, setupPath])]);
            _ = stdout;
            _ = stderr;
            return ExitCodes.Success;
        });
        return command;
    }
}
