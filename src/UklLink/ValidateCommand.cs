using System.CommandLine;
using System.Diagnostics;
using Serilog;
using UklLink.Diagnostics;
using UklLink.Inputs;
using UklLink.Kernel;
using UklLink.Linking;
using UklLink.Output;
using UklLink.Reporting;
using UklLink.Validation;

namespace UklLink.Cli;

/// <summary><c>ukl-link validate</c>: check application objects without linking.</summary>
public static class ValidateCommand
{
    public static Command Create(GlobalOptions global, TextWriter stdout)
    {
        var kernel = new Option<string?>("--kernel", "-k")
        {
            Description = "The UKL kernel image (vmlinux) to check symbol binding and the slot descriptor against",
            HelpName = "VMLINUX",
        };
        var format = new Option<ReportFormat>("--format", "-f")
        {
            Description = "Report format: text (like a compiler), json (for scripts) or sarif (SARIF 2.1.0 for code scanning)",
            DefaultValueFactory = _ => ReportFormat.Text,
            HelpName = "text|json|sarif",
        };
        var output = new Option<string?>("--output", "-o")
        {
            Description = "Write the report to FILE instead of standard output",
            HelpName = "FILE",
        };
        var warningsAsErrors = new Option<bool>("--warnings-as-errors")
        {
            Description = "Exit with status 1 when there are warnings",
        };
        var inputs = new Argument<string[]>("INPUT")
        {
            Description = "Relocatable objects (.o, ld -r output) and ar archives (.a, also thin)",
            Arity = ArgumentArity.OneOrMore,
        };

        var command = new Command("validate", """
            Check application objects for UKL before linking: kernel code model, red zone, unsupported constructs,
            syscall sites and (with --kernel) undefined symbols and the kernel's slot descriptor.

            Examples:
              ukl-link validate app.o libc.a
              ukl-link validate --kernel vmlinux --format sarif -o ukl.sarif app.o
            Exit status: 0 no errors, 1 findings with errors, 2 usage error or unreadable input.
            """)
        {
            kernel, format, output, warningsAsErrors, inputs,
        };

        command.SetAction(parse =>
        {
            bool verbose = parse.GetValue(global.Verbose);
            using var log = global.CreateLogger(parse);
            return Run(log, parse.GetValue(inputs) ?? Array.Empty<string>(), parse.GetValue(kernel), parse.GetValue(format),
                parse.GetValue(output), parse.GetValue(warningsAsErrors), verbose, stdout);
        });
        return command;
    }

    private static readonly HashSet<Rule> LinkOnlyRules = new()
    {
        Rules.SlotTooSmall, Rules.RelocationOverflow, Rules.OrphanSection, Rules.ScriptError, Rules.KernelWithoutSyscallEntry,
        Rules.UnrelaxableSequence, Rules.DiscardedReference,
    };

    private static int Run(ILogger log, string[] paths, string? kernelPath, ReportFormat format, string? outputPath,
        bool warningsAsErrors, bool verbose, TextWriter stdout)
    {
        var clock = Stopwatch.StartNew();
        using var inputs = InputSet.Load(paths);
        log.Debug("read {Count} inputs in {Ms} ms", paths.Length, clock.ElapsedMilliseconds);
        using var kernel = kernelPath is null ? null : KernelImage.Load(kernelPath);
        if (kernel is not null)
            log.Debug("read kernel {Path} ({Symbols} global symbols) at {Ms} ms", kernelPath, kernel.GlobalSymbols.Count, clock.ElapsedMilliseconds);

        var validation = Validator.Run(inputs, kernel);
        var bag = validation.Findings;
        if (kernel is not null && bag.ErrorCount == 0)
        {
            // What `link` would fail on beyond validate's own checks: layout, slot sizes, relocation ranges (a missing
            // entry is left out: validating a library against a kernel is legitimate).
            // The link passes take validate's resolution instead of resolving the inputs again.
            var link = Linker.Link(new LinkOptions { KernelPath = kernelPath!, Inputs = paths, OutputPath = null }, kernel, inputs,
                validation.Resolution);
            foreach (var f in link.Findings.Findings.Where(f => LinkOnlyRules.Contains(f.Rule)))
                bag.Add(f);
        }
        log.Debug("checked in {Ms} ms", clock.ElapsedMilliseconds);
        var shown = bag.Findings.Where(f => verbose || !f.Rule.VerboseOnly).ToList();

        string version = VersionInfo.Current;
        string report = format switch
        {
            ReportFormat.Json => JsonReport.Format(shown, paths.Length, version),
            ReportFormat.Sarif => SarifReport.Format(shown, version, Environment.CurrentDirectory),
            _ => TextReport.Format(shown, paths.Length),
        };
        if (outputPath is null)
            stdout.Write(report);
        else
            AtomicFile.WriteText(outputPath, report);

        bool failed = bag.ErrorCount > 0 || (warningsAsErrors && bag.WarningCount > 0);
        return failed ? ExitCodes.Findings : ExitCodes.Success;
    }
}
