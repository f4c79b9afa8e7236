using System.Text.Json;
using UklLink.Diagnostics;

namespace UklLink.Reporting;

/// <summary>
/// SARIF 2.1.0 (OASIS) as GitHub code scanning accepts it: one run, the full rule table in tool.driver.rules, and per
/// result a physical location (the source file and line when DWARF gave one, else the object file) plus a logical
/// location for the enclosing function.
/// </summary>
public static class SarifReport
{
    public const string SchemaUri = "https://json.schemastore.org/sarif-2.1.0.json";

    public static string Format(IEnumerable<Finding> findings, string toolVersion, string? baseDirectory = null)
    {
        var rules = Rules.All.ToList();
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteString("$schema", SchemaUri);
            w.WriteString("version", "2.1.0");
            w.WriteStartArray("runs");
            w.WriteStartObject();

            w.WriteStartObject("tool");
            w.WriteStartObject("driver");
            w.WriteString("name", "ukl-link");
            w.WriteString("semanticVersion", toolVersion);
            w.WriteString("informationUri", "https://github.com/ukl-link/ukl-link/blob/main/docs/rules.md");
            w.WriteStartArray("rules");
            foreach (var r in rules)
            {
                w.WriteStartObject();
                w.WriteString("id", r.Id);
                w.WriteString("name", ToPascal(r.Name));
                w.WriteStartObject("shortDescription");
                w.WriteString("text", r.Name.Replace('-', ' '));
                w.WriteEndObject();
                w.WriteStartObject("fullDescription");
                w.WriteString("text", r.Description);
                w.WriteEndObject();
                w.WriteStartObject("help");
                w.WriteString("text", r.Hint is null ? r.Description : $"{r.Description} Fix: {r.Hint}.");
                w.WriteEndObject();
                w.WriteStartObject("defaultConfiguration");
                w.WriteString("level", Level(r.DefaultSeverity));
                w.WriteEndObject();
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
            w.WriteEndObject();

            if (baseDirectory is not null)
            {
                w.WriteStartObject("originalUriBaseIds");
                w.WriteStartObject("SRCROOT");
                w.WriteString("uri", new Uri(Path.TrimEndingDirectorySeparator(baseDirectory) + "/").AbsoluteUri);
                w.WriteEndObject();
                w.WriteEndObject();
            }

            w.WriteStartArray("results");
            foreach (var f in findings)
            {
                w.WriteStartObject();
                w.WriteString("ruleId", f.RuleId);
                w.WriteNumber("ruleIndex", rules.IndexOf(f.Rule));
                w.WriteString("level", Level(f.Severity));
                w.WriteStartObject("message");
                w.WriteString("text", f.Hint is null ? $"{f.Message} ({f.Location})" : $"{f.Message} ({f.Location}). Fix: {f.Hint}.");
                w.WriteEndObject();
                w.WriteStartArray("locations");
                w.WriteStartObject();
                w.WriteStartObject("physicalLocation");
                w.WriteStartObject("artifactLocation");
                string file = f.Location.SourceFile ?? f.Location.File;
                w.WriteString("uri", ToUri(file, baseDirectory, out bool relative));
                if (relative)
                    w.WriteString("uriBaseId", "SRCROOT");
                w.WriteEndObject();
                w.WriteStartObject("region");
                w.WriteNumber("startLine", f.Location.SourceLine is { } line && line > 0 ? line : 1);
                w.WriteEndObject();
                w.WriteEndObject();
                if (f.Location.Symbol is not null)
                {
                    w.WriteStartArray("logicalLocations");
                    w.WriteStartObject();
                    w.WriteString("name", f.Location.Symbol);
                    w.WriteString("kind", "function");
                    w.WriteEndObject();
                    w.WriteEndArray();
                }
                w.WriteEndObject();
                w.WriteEndArray();
                w.WriteEndObject();
            }
            w.WriteEndArray();

            w.WriteEndObject();
            w.WriteEndArray();
            w.WriteEndObject();
        }
        return System.Text.Encoding.UTF8.GetString(stream.ToArray()) + "\n";
    }

    private static string Level(Severity s) => s switch
    {
        Severity.Error => "error",
        Severity.Warning => "warning",
        _ => "note",
    };

    private static string ToPascal(string kebab) =>
        string.Concat(kebab.Split('-').Where(p => p.Length > 0).Select(p => char.ToUpperInvariant(p[0]) + p[1..]));

    /// <summary>Relative paths stay relative (to SRCROOT) so code scanning can match them to repository files.</summary>
    private static string ToUri(string path, string? baseDirectory, out bool relative)
    {
        if (!Path.IsPathRooted(path))
        {
            relative = true;
            return string.Join('/', path.Replace('\\', '/').Split('/').Select(Uri.EscapeDataString));
        }
        if (baseDirectory is not null)
        {
            string rel = Path.GetRelativePath(baseDirectory, path);
            if (!rel.StartsWith("..", StringComparison.Ordinal) && !Path.IsPathRooted(rel))
            {
                relative = true;
                return string.Join('/', rel.Replace('\\', '/').Split('/').Select(Uri.EscapeDataString));
            }
        }
        relative = false;
        return new Uri(path).AbsoluteUri;
    }
}
