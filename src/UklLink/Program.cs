using System.CommandLine;
using UklLink.Cli;
using UklLink.CommandLine;
using UklLink.Guest;
using UklLink.Inputs;

return UklLinkCli.Run(args);

namespace UklLink.Cli
{
    /// <summary>Entry point: parses the command line and maps every failure to one line and an exit status.</summary>
    public static class UklLinkCli
    {
        public static int Run(string[] args, TextWriter? stdout = null, TextWriter? stderr = null)
        {
            var output = stdout ?? Console.Out;
            var error = stderr ?? Console.Error;
            var global = new GlobalOptions(error);
            var application = new ApplicationArguments();
            var root = new RootCommand("ukl-link: links applications into a prebuilt Unikernel Linux kernel, and checks them first")
            {
                global.Verbose,
                global.Quiet,
                global.LogFormat,
                ValidateCommand.Create(global, output),
                LinkCommand.Create(global, output, error),
                PackCommand.Create(global, output, error),
                InspectCommand.Create(global, output),
                ToolchainCommand.Create(global, output, error),
                RunCommand.Create(global, output, error, application),
                StopCommand.Create(global),
                ImageCommand.Create(global, output, application),
            };

            // --version prints ukl-link's version (the default prints the entry assembly's, a test host's in-process).
            foreach (var v in root.Options.OfType<VersionOption>())
                v.Action = new VersionAction();

            InputArguments prepared;
            try
            {
                prepared = InputArguments.Prepare(root, args);
                application.Values = prepared.ApplicationArguments;
            }
            catch (Exception ex) when (ex is InputException or LdCommandLineException)
            {
                error.WriteLine($"ukl-link: error: {ex.Message}");
                return ExitCodes.UsageOrIo;
            }
            // Response files are expanded above with gcc's quoting rules, not System.CommandLine's.
            var parse = root.Parse(prepared.Arguments, new ParserConfiguration { ResponseFileTokenReplacer = null });
            bool json = parse.Errors.Count == 0 && parse.GetValue(global.LogFormat) == LogFormat.Json;
            // With --log-format json, the one-line errors are events too, so stderr stays one JSON object a line.
            void Fail(string message, string prefix = "error")
            {
                if (!json)
                {
                    error.WriteLine($"ukl-link: {prefix}: {message}");
                    return;
                }
                using var log = Logging.Create(false, false, LogFormat.Json, error);
                log.Error("{Problem:l}: {Message:l}", prefix, message);
            }

            if (parse.Errors.Count > 0)
            {
                foreach (var e in parse.Errors)
                    error.WriteLine($"ukl-link: error: {e.Message}");
                error.WriteLine("ukl-link: try 'ukl-link --help'");
                return ExitCodes.UsageOrIo;
            }

            if (prepared.Ld is not null)
            {
                using var notes = global.CreateLogger(parse);
                prepared.LogNotes(notes);
            }

            try
            {
                var config = new InvocationConfiguration { Output = output, Error = error, EnableDefaultExceptionHandler = false };
                return parse.Invoke(config);
            }
            catch (UsageException ex)
            {
                Fail(ex.Message);
                return ExitCodes.UsageOrIo;
            }
            catch (InputException ex)
            {
                Fail(ex.Message);
                return ExitCodes.UsageOrIo;
            }
            catch (GuestException ex)
            {
                Fail(ex.Message);
                return ExitCodes.UsageOrIo;
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                Fail(OneLine(ex.Message));
                return ExitCodes.UsageOrIo;
            }
            catch (Exception ex)
            {
                Fail($"{ex.GetType().Name}: {OneLine(ex.Message)} (please report this)", "internal error");
                // For whoever fixes it: UKL_LINK_DEBUG=1 adds the stack trace.
                if (Environment.GetEnvironmentVariable("UKL_LINK_DEBUG") == "1")
                    error.WriteLine(ex.ToString());
                return ExitCodes.UsageOrIo;
            }
        }

        private static string OneLine(string s) => s.ReplaceLineEndings(" ").Trim();

        private sealed class VersionAction : System.CommandLine.Invocation.SynchronousCommandLineAction
        {
            public override int Invoke(ParseResult parseResult)
            {
                parseResult.InvocationConfiguration.Output.WriteLine(VersionInfo.Current);
                return ExitCodes.Success;
            }
        }
    }
}
