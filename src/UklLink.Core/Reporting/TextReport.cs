using System.Text;
using UklLink.Diagnostics;

namespace UklLink.Reporting;

/// <summary>
/// Compiler-style text: <c>app.o:(.text+0x12): error UKL001: message [main.c:12, in f+0x4]</c>, the hint on the next
/// line, and a summary line.
/// </summary>
public static class TextReport
{
    public static string Format(IEnumerable<Finding> findings, int fileCount, string command = "validate")
    {
        var sb = new StringBuilder();
        int errors = 0, warnings = 0, notes = 0;
        foreach (var f in findings)
        {
            switch (f.Severity)
            {
                case Severity.Error: errors++; break;
                case Severity.Warning: warnings++; break;
                default: notes++; break;
            }
            sb.Append(FormatOne(f)).Append('\n');
            if (f.Hint is not null)
                sb.Append("    hint: ").Append(f.Hint).Append('\n');
        }
        sb.Append($"{command}: {fileCount} input{(fileCount == 1 ? "" : "s")}, {Plural(errors, "error")}, {Plural(warnings, "warning")}, {Plural(notes, "note")}\n");
        return sb.ToString();
    }

    public static string FormatOne(Finding f)
    {
        var context = new List<string>();
        if (f.Location.SourceText is { } src)
            context.Add(src);
        if (f.Location.SymbolText is { } sym)
            context.Add($"in {sym}");
        string suffix = context.Count > 0 ? $" [{string.Join(", ", context)}]" : "";
        return $"{f.Location}: {SeverityWord(f.Severity)} {f.RuleId}: {f.Message}{suffix}";
    }

    public static string SeverityWord(Severity s) => s switch
    {
        Severity.Error => "error",
        Severity.Warning => "warning",
        _ => "note",
    };

    private static string Plural(int n, string word) => $"{n} {word}{(n == 1 ? "" : "s")}";
}
