using System.CommandLine;
using UklLink.Cli;
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
            var global = new GlobalOptions();
            var root = new RootCommand("ukl-link: links applications into a prebuilt Unikernel Linux kernel, and checks them first")
            {
                global.Verbose,
                global.Quiet,
                ValidateCommand.Create(global, output),
                LinkCommand.Create(global, output, error),
                PackCommand.Create(global, output),
                InspectCommand.Create(global, output),
            };

            var parse = root.Parse(args);
            if (parse.Errors.Count > 0)
            {
                foreach (var e in parse.Errors)
                    error.WriteLine($"ukl-link: error: {e.Message}");
                error.WriteLine("ukl-link: try 'ukl-link --help'");
                return ExitCodes.UsageOrIo;
            }

            try
            {
                var config = new InvocationConfiguration { Output = output, Error = error, EnableDefaultExceptionHandler = false };
                return parse.Invoke(config);
            }
            catch (InputException ex)
            {
                error.WriteLine($"ukl-link: error: {ex.Message}");
                return ExitCodes.UsageOrIo;
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                error.WriteLine($"ukl-link: error: {OneLine(ex.Message)}");
                return ExitCodes.UsageOrIo;
            }
            catch (Exception ex)
            {
                error.WriteLine($"ukl-link: internal error: {ex.GetType().Name}: {OneLine(ex.Message)} (please report this)");
                return ExitCodes.UsageOrIo;
            }
        }

        private static string OneLine(string s) => s.ReplaceLineEndings(" ").Trim();
    }
}
