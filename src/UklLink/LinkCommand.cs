using System.CommandLine;
using System.Diagnostics;
using Serilog;
using UklLink.Boot;
using UklLink.Diagnostics;
using UklLink.Linking;
using UklLink.Output;
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
        var bypass = new Option<bool>("--bypass")
        {
            Description = "Sites whose system call number is a constant enter through the kernel's bypass entry for it, when the kernel has one (ukl_bypass_<nr>, slot ABI feature bit 2): no dispatch table, no entry or exit work unless some is pending",
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
        var depfile = new Option<string?>("--depfile")
        {
            Description = "Also write a make depfile: the output (and the bzImage) depend on every file read (objects, archives, thin archive members, the kernel, the script, the setup)",
            HelpName = "FILE",
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
              ukl-link link -k vmlinux -o vmlinux.app --depfile vmlinux.app.d app.o   (make: -include vmlinux.app.d)
              ukl-link link -k vmlinux -o vmlinux.app --bypass app.o libc.a        (direct entries for known syscall numbers)
              ukl-link link -v --log-format json -k vmlinux -o vmlinux.app app.o        (per-pass timings as JSON lines)
            Exit status: 0 linked, 1 link errors (nothing written), 2 usage error or unreadable input.
            """)
        {
            kernel, output, entry, script, map, mapFormat, noRewrite, strict, bypass, bzImage, setup, depfile, inputs,
        };

        _ = stdout;
        command.SetAction(parse =>
        {
            bool verbose = parse.GetValue(global.Verbose);
            bool json = parse.GetValue(global.LogFormat) == LogFormat.Json;
            using var log = global.CreateLogger(parse);
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
                Bypass = parse.GetValue(bypass),
            };
            string? bz = parse.GetValue(bzImage), setupPath = parse.GetValue(setup);
            if (bz is not null && setupPath is null)
                throw new UsageException("--bzimage needs --setup SETUP: add --setup arch/x86/boot/setup.bin from the kernel build (or the build's bzImage)");
            if (setupPath is not null && bz is null)
                throw new UsageException("--setup is only used with --bzimage FILE: add --bzimage, or drop --setup");
            // Read the setup before linking so a bad one fails fast and leaves no output behind.
            var realMode = setupPath is null ? null : RealModeSetup.Load(setupPath);
            var result = Run(log, options, verbose, json, stderr);
            if (!result.Written)
                return ExitCodes.Findings;
            if (bz is not null)
            {
                var clock = Stopwatch.StartNew();
                var packed = BootImageWriter.Write(options.OutputPath!, realMode!, bz);
                Logging.Pass(log, "pack", clock.ElapsedMilliseconds);
                foreach (var w in packed.Warnings)
                    log.Warning("{Warning}", w);
                log.Information("wrote {BzImage:l}", bz);
            }
            if (parse.GetValue(depfile) is { } dep)
            {
                var rules = new List<Depfile.Rule> { new(options.OutputPath!, result.FilesRead) };
                if (bz is not null)
                    rules.Add(new Depfile.Rule(bz, [.. result.FilesRead, setupPath!]));
                Depfile.Write(dep, rules);
                log.Debug("wrote depfile {Depfile:l}", dep);
            }
            return ExitCodes.Success;
        });
        return command;
    }

    internal static LinkResult Run(ILogger log, LinkOptions options, bool verbose, bool json, TextWriter stderr)
    {
        var result = Linker.Link(options);
        foreach (var (pass, ms) in result.Timings)
            Logging.Pass(log, pass, ms);
        var shown = result.Findings.Findings.Where(f => verbose || !f.Rule.VerboseOnly).ToList();
        if (json)
            foreach (var f in shown)
                LogFinding(log, f);
        else if (shown.Count > 0)
            stderr.Write(TextReport.Format(shown, options.Inputs.Count, "link"));
        if (!result.Written)
            return result;
        if (result.Rewrite is { } rw)
        {
            log.Debug("syscall rewrite: {Found} sites, {Patched} to trampolines ({Bytes} bytes, {Bypassed} through a bypass entry), {Fallbacks} int fallback, {Untouched} unchanged; entry: {Form:l}",
                rw.Found, rw.Patched, rw.TrampolineBytes, rw.Bypassed, rw.Fallbacks, rw.Untouched, UklLink.Rewrite.SyscallEntryForms.Describe(result.EntryForm));
            if (options.Bypass)
                foreach (var t in result.Trampolines.Where(t => t.Bypass))
                    log.Debug("bypass: {Site:l} at 0x{Address:x}, {Number:l} -> {Entry:l}", t.Site, t.SiteAddress, t.DescribeNumber(), t.Entry);
        }
        log.Information("linked {Count} inputs into {Output:l} (entry 0x{Entry:x})", options.Inputs.Count, options.OutputPath, result.Entry);
        return result;
    }

    /// <summary>A finding as a structured event (with --log-format json), with the same text the text report shows.</summary>
    private static void LogFinding(ILogger log, Finding f)
    {
        var level = f.Severity switch
        {
            Severity.Error => Serilog.Events.LogEventLevel.Error,
            Severity.Warning => Serilog.Events.LogEventLevel.Warning,
            _ => Serilog.Events.LogEventLevel.Information,
        };
        log.Write(level, "{Location}: {Severity} {RuleId}: {Text}{Fix}", f.Location.ToString(), f.Severity.ToString().ToLowerInvariant(),
            f.RuleId, f.Message, f.Hint is null ? "" : $" (hint: {f.Hint})");
    }
}
