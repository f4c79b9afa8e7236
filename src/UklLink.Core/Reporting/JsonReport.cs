using System.Text.Json;
using UklLink.Diagnostics;

namespace UklLink.Reporting;

/// <summary>A flat JSON document for scripts: <c>{ "version", "summary", "findings": [...] }</c>.</summary>
public static class JsonReport
{
    public static string Format(IEnumerable<Finding> findings, int fileCount, string toolVersion)
    {
        var list = findings.ToList();
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteString("tool", "ukl-link");
            w.WriteString("version", toolVersion);
            w.WriteStartObject("summary");
            w.WriteNumber("inputs", fileCount);
            w.WriteNumber("errors", list.Count(f => f.Severity == Severity.Error));
            w.WriteNumber("warnings", list.Count(f => f.Severity == Severity.Warning));
            w.WriteNumber("notes", list.Count(f => f.Severity == Severity.Note));
            w.WriteEndObject();
            w.WriteStartArray("findings");
            foreach (var f in list)
            {
                w.WriteStartObject();
                w.WriteString("ruleId", f.RuleId);
                w.WriteString("rule", f.Rule.Name);
                w.WriteString("severity", TextReport.SeverityWord(f.Severity));
                w.WriteString("message", f.Message);
                if (f.Hint is not null)
                    w.WriteString("hint", f.Hint);
                w.WriteStartObject("location");
                var l = f.Location;
                w.WriteString("file", l.File);
                if (l.Member is not null) w.WriteString("member", l.Member);
                if (l.Section is not null) w.WriteString("section", l.Section);
                if (l.Offset is { } o) w.WriteNumber("offset", o);
                if (l.Symbol is not null) w.WriteString("symbol", l.Symbol);
                if (l.SymbolOffset is { } so) w.WriteNumber("symbolOffset", so);
                if (l.SourceFile is not null) w.WriteString("sourceFile", l.SourceFile);
                if (l.SourceLine is { } line) w.WriteNumber("sourceLine", line);
                w.WriteEndObject();
                w.WriteString("text", TextReport.FormatOne(f));
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        return System.Text.Encoding.UTF8.GetString(stream.ToArray()) + "\n";
    }
}
