using UklLink.Inputs;

namespace UklLink.Symbols;

/// <summary>
/// __start_SECNAME and __stop_SECNAME, which GNU ld defines for every input section whose name is a C identifier
/// (glibc's __libc_atexit, __libc_IO_vtables, ...; plugin tables): when a loaded object refers to one and nothing
/// defines it, it is the start or end of the output section of the same name, provided that section holds an input
/// section called SECNAME (ld 2.40 ldlang.c, lang_init_start_stop and undef_start_stop). Resolution counts them as
/// defined; the link gives them their values once the layout is known.
/// </summary>
public static class StartStopSymbols
{
    public const string StartPrefix = "__start_", StopPrefix = "__stop_";

    /// <summary>The names of C-identifier sections the objects have: the SECNAMEs whose symbols the link may define.</summary>
    public static HashSet<string> Sections(IEnumerable<ObjectFile> objects)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var obj in objects)
            foreach (var section in obj.AllSections)
                if (IsCIdentifier(section.Name))
                    names.Add(section.Name);
        return names;
    }

    /// <summary>The section a __start_/__stop_ name refers to, or null for any other name.</summary>
    public static string? SectionOf(string symbol) =>
        symbol.StartsWith(StartPrefix, StringComparison.Ordinal) ? symbol[StartPrefix.Length..]
        : symbol.StartsWith(StopPrefix, StringComparison.Ordinal) ? symbol[StopPrefix.Length..]
        : null;

    public static bool IsStop(string symbol) => symbol.StartsWith(StopPrefix, StringComparison.Ordinal);

    /// <summary>ld's test: letters, digits and underscores only (a leading digit included).</summary>
    public static bool IsCIdentifier(string name) => name.Length > 0 && name.All(c => c is (>= 'a' and <= 'z') or (>= 'A' and <= 'Z') or (>= '0' and <= '9') or '_');
}
