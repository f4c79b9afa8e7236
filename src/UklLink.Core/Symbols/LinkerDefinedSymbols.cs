using UklLink.Linking;
using UklLink.LinkerScript;

namespace UklLink.Symbols;

/// <summary>
/// Names a link defines itself, so references to them are never undefined: every symbol its linker script assigns
/// (the UKL C library finds its TLS template and constructors through the default script's), _GLOBAL_OFFSET_TABLE_
/// (.got.plt), and __tls_get_addr, which is only ever called from TLS sequences a static link relaxes away.
/// validate and link answer from the same place.
/// </summary>
public static class LinkerDefinedSymbols
{
    public const string GlobalOffsetTable = "_GLOBAL_OFFSET_TABLE_";
    public const string TlsGetAddr = "__tls_get_addr";

    private static readonly Lazy<IReadOnlySet<string>> DefaultNames =
        new(() => For(ScriptParser.Parse(DefaultScript.Text, Linker.DefaultScriptName)));

    /// <summary>What a link with the default script (linker-scripts/ukl-app.ld) defines.</summary>
    public static IReadOnlySet<string> Default => DefaultNames.Value;

    public static IReadOnlySet<string> For(Script script)
    {
        var names = new HashSet<string>(StringComparer.Ordinal) { GlobalOffsetTable, TlsGetAddr };
        foreach (var a in Assignments(script))
            names.Add(a.Symbol);
        return names;
    }

    /// <summary>
    /// The script's assignments to symbols (not to '.'), in statement order: top level, SECTIONS items and the
    /// assignments inside output sections.
    /// </summary>
    public static IEnumerable<Assignment> Assignments(Script script)
    {
        foreach (var c in script.Commands)
        {
            if (c is TopLevelAssignment t && t.Assignment.Symbol != ".")
                yield return t.Assignment;
            if (c is not SectionsCommand s)
                continue;
            foreach (var item in s.Items)
            {
                if (item is AssignmentItem ai && ai.Assignment.Symbol != ".")
                    yield return ai.Assignment;
                if (item is OutputSectionStatement os)
                    foreach (var a in os.Items.OfType<AssignmentInSection>())
                        if (a.Assignment.Symbol != ".")
                            yield return a.Assignment;
            }
        }
    }
}
