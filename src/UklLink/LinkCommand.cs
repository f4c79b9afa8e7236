using System.CommandLine;

namespace UklLink.Cli;

/// <summary><c>ukl-link link</c> (being written: issue 4).</summary>
public static class LinkCommand
{
    public static Command Create(GlobalOptions global, TextWriter stdout)
    {
        _ = global;
        _ = stdout;
        return new Command("link", "Not available yet") { Hidden = true };
    }
}
