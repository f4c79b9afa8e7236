using System.CommandLine;
using Serilog;
using UklLink.Boot;
using UklLink.Linking;
using UklLink.Reporting;

namespace UklLink.Cli;

/// <summary><c>ukl-link link</c>: link application objects into a UKL kernel's slots.</summary>
public static class LinkCommand
{
    public static Command Create(GlobalOptions global, TextWriter stdout, TextWriter stderr)
    {
        var kernel = new Option<string>("--kernel", "-k")
        {
            Description = "The UKL kernel image (vmlinux from kernel/build) whose slots receive the application",
            HelpName = "VMLINUX",
            Required = true,
        };
        var output = new Option<string>("--output", "-o")
        {
            Description = "The linked vmlinux to write (atomically; the input kernel is never modified)",
            HelpName = "FILE",
            Required = true,
        };
        var entry = new Option<string?>("--entry", "-e")
        {
            Description = "Entry symbol (default: the script's ENTRY, else _start)",
            HelpName = "SYMBOL",
        };
        var script = new Option<string?>("--script", "-T")
        {
            Description = "Linker script (default: the bundled linker-scripts/ukl-app.ld; subset in docs/linker-scripts.md)",
            HelpName = "FILE",
        };
        var map = new Option<string?>("--map")
        {
            Description = "Write a link map: every input section's address and size, every symbol",
            HelpName = "FILE",
        };
        var mapFormat = new Option<MapFormat>("--map-format")
        {
            Description = "Link map format",
            DefaultValueFactory = _ => MapFormat.Text,
            HelpName = "text|json",
        };
        var noRewrite = new Option<bool>("--no-syscall-rewrite")
        {
            Description = "Leave `syscall` instructions as they are (for comparing with GNU ld)",
        };
        var strict = new Option<bool>("--strict-rewrite")
        {
            Description = "Fail the link when a syscall site can only get the `int $0x81` fallback or cannot be proven to be code",
        };
        var bzImage = new Option<string?>("--bzimage")
        {
            Description = "Also write a bootable bzImage of the linked kernel (needs --setup)",
            HelpName = "FILE",
        };
        var setup = new Option<string?>("--setup")
        {
            Description = "The kernel build's arch/x86/boot/setup.bin, or a bzImage of the same kernel (for --bzimage)",
            HelpName = "SETUP",
        };
        var inputs = new Argument<string[]>("INPUT")
        {
            Description = "Relocatable objects (.o, ld -r output) and ar archives (.a, also thin), in link order",
            Arity = ArgumentArity.OneOrMore,
        };

        var command = new Command("link", """
            Link an application into the slots of a prebuilt UKL kernel and write a new vmlinux.

            Examples:
              ukl-link link --kernel vmlinux -o vmlinux.app app.o libc.a
              ukl-link link -k vmlinux -o vmlinux.app --map app.map --map-format json app.o
              ukl-link link -k vmlinux -o vmlinux.app --bzimage bzImage.app --setup setup.bin app.o libc.a
            Exit status: 0 linked, 1 link errors (nothing written), 2 usage error or unreadable input.
            """)
        {
            kernel, output, entry, script, map, mapFormat, noRewrite, strict, bzImage, setup, inputs,
        };

        _ = stdout;
        command.SetAction(parse =>
        {
            bool verbose = parse.GetValue(global.Verbose);
            using var log = Logging.Create(verbose, parse.GetValue(global.Quiet));
            var options = new LinkOptions
            {
                KernelPath = parse.GetValue(kernel)!,
                OutputPath = parse.GetValue(output)!,
                Inputs = parse.GetValue(inputs) ?? Array.Empty<string>(),
                Entry = parse.GetValue(entry),
                ScriptPath = parse.GetValue(script),
                MapPath = parse.GetValue(map),
                MapFormat = parse.GetValue(mapFormat),
                RewriteSyscalls = !parse.GetValue(noRewrite),
                StrictRewrite = parse.GetValue(strict),
            };
            string? bz = parse.GetValue(bzImage), setupPath = parse.GetValue(setup);
            if (bz is not null && setupPath is null)
            {
                stderr.WriteLine("ukl-link: error: --bzimage needs --setup (arch/x86/boot/setup.bin of the kernel build, or its bzImage)");
                return ExitCodes.UsageOrIo;
            }
            // Read the setup before linking so a bad one fails fast and leaves no output behind.
            var realMode = setupPath is null ? null : RealModeSetup.Load(setupPath);
            int code = Run(log, options, verbose, stderr);
            if (code != ExitCodes.Success || bz is null)
                return code;
            var packed = BootImageWriter.Write(options.OutputPath!, realMode!, bz);
            foreach (var w in packed.Warnings)
                log.Warning("{Warning}", w);
            log.Information("wrote {BzImage}", bz);
            return ExitCodes.Success;
        });
        return command;
    }

    private static int Run(ILogger log, LinkOptions options, bool verbose, TextWriter stderr)
    {
        var result = Linker.Link(options);
        foreach (var (pass, ms) in result.Timings)
            log.Debug("pass {Pass}: {Ms} ms", pass, ms);
        var shown = result.Findings.Findings.Where(f => verbose || !f.Rule.VerboseOnly).ToList();
        if (shown.Count > 0)
            stderr.Write(TextReport.Format(shown, options.Inputs.Count, "link"));
        if (!result.Written)
            return ExitCodes.Findings;
        if (result.Rewrite is { } rw)
            log.Debug("syscall rewrite: {Found} sites, {Patched} to trampolines ({Bytes} bytes), {Fallbacks} int fallback, {Untouched} unchanged",
                rw.Found, rw.Patched, rw.TrampolineBytes, rw.Fallbacks, rw.Untouched);
        log.Information("linked {Count} inputs into {Output} (entry 0x{Entry:x})", options.Inputs.Count, options.OutputPath, result.Entry);
        return ExitCodes.Success;
    }
}
