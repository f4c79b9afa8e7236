using System.Text;

namespace UklLink.Output;

/// <summary>
/// A make depfile (like <c>gcc -MD -MP</c>): one rule per output listing every file it was made from, then an empty
/// rule per prerequisite so that make does not stop when one of them is deleted or renamed. Paths are written as given
/// (relative to the directory ukl-link ran in, which is make's) and escaped for make.
/// </summary>
public static class Depfile
{
    /// <summary>One output and the files it was made from.</summary>
    public sealed record Rule(string Target, IReadOnlyList<string> Prerequisites);

    public static string Format(IReadOnlyList<Rule> rules)
    {
        var text = new StringBuilder();
        var all = new List<string>();
        foreach (var rule in rules)
        {
            text.Append(Escape(rule.Target)).Append(':');
            foreach (var p in rule.Prerequisites.Distinct(StringComparer.Ordinal))
            {
                text.Append(" \\\n  ").Append(Escape(p));
                all.Add(p);
            }
            text.Append('\n');
        }
        var targets = rules.Select(r => r.Target).ToHashSet(StringComparer.Ordinal);
        foreach (var p in all.Distinct(StringComparer.Ordinal).Where(p => !targets.Contains(p)))
            text.Append('\n').Append(Escape(p)).Append(":\n");
        return text.ToString();
    }

    /// <summary>Writes the depfile atomically (a make that reads it never sees half of it).</summary>
    public static void Write(string path, IEnumerable<Rule> rules) => AtomicFile.WriteText(path, Format(rules.ToList()));

    /// <summary>
    /// A path as a make target or prerequisite: <c>$</c> doubled, space, tab and <c>#</c> escaped with a backslash
    /// (and the backslashes right before them doubled, as gcc does). A newline cannot be written in make syntax.
    /// </summary>
    public static string Escape(string path)
    {
        if (path.IndexOfAny(['\n', '\r']) >= 0)
            throw new IOException($"{path.ReplaceLineEndings("\\n")}: a file name with a newline cannot be written to a make depfile");
        var o = new StringBuilder(path.Length + 8);
        for (int i = 0; i < path.Length; i++)
        {
            char c = path[i];
            switch (c)
            {
                case ' ' or '\t' or '#':
                    // Backslashes right before an escaped character are literal, so double them.
                    for (int j = i - 1; j >= 0 && path[j] == '\\'; j--)
                        o.Append('\\');
                    o.Append('\\').Append(c);
                    break;
                case '$':
                    o.Append("$$");
                    break;
                default:
                    o.Append(c);
                    break;
            }
        }
        return o.ToString();
    }
}
