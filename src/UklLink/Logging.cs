using Serilog;
using Serilog.Core;
using Serilog.Events;

namespace UklLink.Cli;

/// <summary>Serilog to stderr only, so stdout carries nothing but results (text, JSON, SARIF, maps).</summary>
public static class Logging
{
    public static Logger Create(bool verbose, bool quiet)
    {
        var level = quiet ? LogEventLevel.Warning : verbose ? LogEventLevel.Debug : LogEventLevel.Information;
        return new LoggerConfiguration()
            .MinimumLevel.Is(level)
            .WriteTo.Console(
                outputTemplate: "ukl-link: {Message:lj}{NewLine}",
                standardErrorFromLevel: LogEventLevel.Verbose,
                formatProvider: System.Globalization.CultureInfo.InvariantCulture)
            .CreateLogger();
    }
}
