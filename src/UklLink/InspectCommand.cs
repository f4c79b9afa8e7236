using System.CommandLine;

namespace UklLink.Cli;

/// <summary><c>ukl-link inspect</c> (being written: issue 6).</summary>
public static class InspectCommand
{
    public static Command Create(GlobalOptions global, TextWriter stdout)
    {
        _ = global;
        _ = stdout;
        return new Command("inspect", "Not available yet") { Hidden = true };
    }
}
