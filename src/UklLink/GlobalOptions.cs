using System.CommandLine;
using Serilog.Core;

namespace UklLink.Cli;

/// <summary>How log events are written to stderr.</summary>
public enum LogFormat
{
    /// <summary>One line per event, <c>ukl-link: message</c>.</summary>
    Text,

    /// <summary>One compact JSON object per line (Serilog CLEF: <c>@t</c>, <c>@m</c>, <c>@l</c>, properties).</summary>
    Json,
}

/// <summary>Options every subcommand accepts, and the logger they configure.</summary>
public sealed class GlobalOptions
{
    public GlobalOptions(TextWriter stderr) => Stderr = stderr;

    /// <summary>Where log events and one-line errors go.</summary>
    public TextWriter Stderr { get; }

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

    public Option<LogFormat> LogFormat { get; } = new("--log-format")
    {
        Description = "Log events on stderr as text lines, or as compact JSON lines (CLEF) for CI and scripts",
        DefaultValueFactory = _ => Cli.LogFormat.Text,
        HelpName = "text|json",
        Recursive = true,
    };

    /// <summary>The logger a subcommand writes its events to, as -v, -q and --log-format ask.</summary>
    public Logger CreateLogger(ParseResult parse) =>
        Logging.Create(parse.GetValue(Verbose), parse.GetValue(Quiet), parse.GetValue(LogFormat), Stderr);
}
