using System.CommandLine;

namespace UklLink.Cli;

/// <summary>Options every subcommand accepts.</summary>
public sealed class GlobalOptions
{
    public Option<bool> Verbose { get; } = new("--verbose", "-v")
    {
        Description = "Show notes only verbose mode reports and per-pass timings (on stderr)",
        Recursive = true,
    };

    public Option<bool> Quiet { get; } = new("--quiet", "-q")
    {
        Description = "Log only warnings and errors (on stderr)",
        Recursive = true,
    };
}
