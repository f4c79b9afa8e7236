using System.Globalization;
using Serilog;
using Serilog.Core;
using Serilog.Events;
using Serilog.Formatting;
using Serilog.Formatting.Compact;
using Serilog.Formatting.Display;

namespace UklLink.Cli;

/// <summary>Serilog to stderr only, so stdout carries nothing but results (text, JSON, SARIF, maps).</summary>
public static class Logging
{
    /// <summary>The message template of a pass timing; its properties are <c>Pass</c> and <c>Milliseconds</c>.</summary>
    public const string PassTemplate = "pass {Pass:l}: {Milliseconds} ms";

    public static Logger Create(bool verbose, bool quiet, LogFormat format, TextWriter stderr)
    {
        var level = quiet ? LogEventLevel.Warning : verbose ? LogEventLevel.Debug : LogEventLevel.Information;
        var config = new LoggerConfiguration().MinimumLevel.Is(level);
        ITextFormatter formatter = format == LogFormat.Json
            ? new RenderedCompactJsonFormatter()
            : new MessageTemplateTextFormatter("ukl-link: {Message:lj}{NewLine}", CultureInfo.InvariantCulture);
        return config.WriteTo.Sink(new WriterSink(formatter, stderr)).CreateLogger();
    }

    /// <summary>Formats each event onto a writer (the process's stderr, or the writer a test passed in).</summary>
    private sealed class WriterSink(ITextFormatter formatter, TextWriter writer) : ILogEventSink
    {
        private readonly Lock _lock = new();

        public void Emit(LogEvent logEvent)
        {
            lock (_lock)
            {
                formatter.Format(logEvent, writer);
                writer.Flush();
            }
        }
    }

    /// <summary>Logs one pass's duration as a structured event (Debug: shown with -v).</summary>
    public static void Pass(ILogger log, string pass, long milliseconds) =>
        log.Debug(PassTemplate, pass, milliseconds);
}
