using System.CommandLine;
using UklLink.Boot;
using UklLink.Guest;
using UklLink.Output;

namespace UklLink.Cli;

/// <summary><c>ukl-link image</c>: write what a deployment boots (kernel and initramfs set up as run would) and the QEMU command line.</summary>
public static class ImageCommand
{
    public static Command Create(GlobalOptions global, TextWriter stdout, ApplicationArguments application)
    {
        var guest = new GuestOptions();
        var output = new Option<string>("--output", "-o")
        {
            Description = "The directory to write: vmlinux, initramfs.cpio.gz, bzImage (with --setup) and run-qemu",
            HelpName = "DIR",
            Required = true,
        };
        var setup = new Option<string?>("--setup")
        {
            Description = "Also write a bzImage (the kernel build's setup.bin, as for `ukl-link pack`); the command line then boots it",
            HelpName = "SETUP",
        };
        var vmlinux = new Argument<string>("VMLINUX") { Description = "The linked vmlinux (ukl-link link's output)" };
        var command = new Command("image", """
            Write a bootable image of a linked application: the kernel (vmlinux, and a bzImage with --setup) and an
            initramfs set up as `ukl-link run` sets up the guest (busybox init, /etc, files, network, the application's
            arguments and environment), plus DIR/run-qemu; prints the QEMU command line that boots it. The guest's
            console is its first serial port; the application's exit status comes back through isa-debug-exit (QEMU
            exits with 2N+1) and the guest powers off (QEMU -no-reboot) where that device is missing.
            Booting it elsewhere (QEMU -M microvm, Firecracker, cloud-hypervisor): docs/run.md.

            Examples:
              ukl-link image -o img app.vmlinux -- --port 8080
              ukl-link image -o img --setup setup.bin -p 8080:80 --file site.conf:/etc/site.conf server.vmlinux
            Exit status: 0 written, 2 bad input (nothing written).
            """)
        {
            output, setup, vmlinux,
        };
        foreach (var o in guest.All)
            command.Options.Add(o);

        command.SetAction(parse =>
        {
            using var log = global.CreateLogger(parse);
            string kernel = parse.GetValue(vmlinux)!;
            GuestOptions.CheckLinkedKernel(kernel);
            var busybox = Busybox.Find();
            var spec = guest.Spec(parse, application.Values);
            string? setupPath = parse.GetValue(setup);
            var realMode = setupPath is null ? null : RealModeSetup.Load(setupPath);

            string dir = Path.GetFullPath(parse.GetValue(output)!);
            Directory.CreateDirectory(dir);
            string initrd = Path.Combine(dir, "initramfs.cpio.gz");
            string copy = Path.Combine(dir, "vmlinux");
            if (Path.GetFullPath(kernel) != copy)
                AtomicFile.Write(copy, s =>
                {
                    using var from = File.OpenRead(kernel);
                    from.CopyTo(s);
                });
            string boot = copy;
            if (realMode is not null)
            {
                boot = Path.Combine(dir, "bzImage");
                foreach (var w in BootImageWriter.Write(copy, realMode, boot).Warnings)
                    log.Warning("{Warning}", w);
            }
            Initramfs.Write(initrd, Initramfs.Build(spec, busybox), gzip: true);
            var machine = guest.Machine(parse, spec, boot, initrd);
            string line = machine.ShellCommand();
            string script = Path.Combine(dir, "run-qemu");
            AtomicFile.WriteText(script, "#!/bin/sh\n# Boots the image `ukl-link image` wrote here; QEMU exits with 2N+1 for the application's status N.\n" +
                "exec " + line + " \"$@\"\n");
            if (!OperatingSystem.IsWindows())
                File.SetUnixFileMode(script, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute |
                    UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
            log.Information("wrote {Dir:l}: {Kernel:l}, initramfs.cpio.gz and run-qemu", dir, Path.GetFileName(boot));
            stdout.WriteLine(line);
            return ExitCodes.Success;
        });
        return command;
    }
}
