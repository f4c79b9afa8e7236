using System.CommandLine;

namespace UklLink.Cli;

/// <summary><c>ukl-link pack</c> (being written: issue 6).</summary>
public static class PackCommand
{
    public static Command Create(GlobalOptions global, TextWriter stdout)
    {
        _ = global;
        _ = stdout;
        return new Command("pack", "Not available yet") { Hidden = true };
    }
}
