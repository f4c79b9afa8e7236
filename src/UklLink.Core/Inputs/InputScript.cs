using System.Text;
using System.Text.RegularExpressions;

namespace UklLink.Inputs;

/// <summary>
/// An input that is a small GNU ld script naming other inputs, as Debian installs some libraries: libm.a is
/// <c>GROUP ( /usr/lib/x86_64-linux-gnu/libm-2.36.a /usr/lib/x86_64-linux-gnu/libmvec.a )</c>, and g++ -static
/// passes -lm. ld reads such a file as a script; ukl-link replaces it by the files it names, in place (every archive
/// is searched as one group anyway). Only GROUP, INPUT (with AS_NEEDED lists), OUTPUT_FORMAT and comments are
/// understood; a relative name is taken relative to the script's directory.
/// </summary>
public static partial class InputScript
{
    private const int MaxDepth = 8;
    private const int MaxSize = 64 * 1024;

    /// <summary>
    /// The inputs with every input script replaced by the files it names. <paramref name="scripts"/> gets each script
    /// that was read, for the depfile.
    /// </summary>
    public static List<string> Expand(IEnumerable<string> paths, List<string> scripts) => Expand(paths, scripts, 0);

    private static List<string> Expand(IEnumerable<string> paths, List<string> scripts, int depth)
    {
        var result = new List<string>();
        foreach (var path in paths)
        {
            if (Read(path) is not { } text)
            {
                result.Add(path);
                continue;
            }
            if (depth >= MaxDepth)
                throw new InputException(path, "input scripts nest too deeply");
            scripts.Add(path);
            result.AddRange(Expand(Names(path, text), scripts, depth + 1));
        }
        return result;
    }

    /// <summary>The file's text when it looks like an ld script (not ELF, not ar, printable), else null.</summary>
    private static string? Read(string path)
    {
        try
        {
            var info = new FileInfo(path);
            if (!info.Exists || info.Length == 0 || info.Length > MaxSize)
                return null;
            using var file = File.OpenHandle(path);
            // Most inputs are objects and archives: their first bytes say so, without reading the rest.
            Span<byte> magic = stackalloc byte[8];
            int got = RandomAccess.Read(file, magic, 0);
            magic = magic[..got];
            if (magic.StartsWith("\u007fELF"u8) || magic.StartsWith("!<arch>\n"u8) || magic.StartsWith("!<thin>\n"u8))
                return null;
            var bytes = new byte[RandomAccess.GetLength(file)];
            if (bytes.Length > MaxSize || RandomAccess.Read(file, bytes, 0) != bytes.Length)
                return null;
            if (bytes.Any(b => b == 0 || b < 9))
                return null;
            string text = Encoding.UTF8.GetString(bytes);
            return StartsWithCommand().IsMatch(StripComments(text)) ? text : null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null; // InputSet reports the file itself
        }
    }

    private static IEnumerable<string> Names(string path, string text)
    {
        string dir = Path.GetDirectoryName(Path.GetFullPath(path)) ?? ".";
        var tokens = Token().Matches(StripComments(text)).Select(m => m.Value).ToList();
        var names = new List<string>();
        int depth = 0;
        for (int i = 0; i < tokens.Count; i++)
        {
            string t = tokens[i];
            if (t == "(")
            {
                depth++;
                continue;
            }
            if (t == ")")
            {
                depth--;
                continue;
            }
            if (depth == 0)
            {
                if (t is "GROUP" or "INPUT")
                    continue;
                if (t == "OUTPUT_FORMAT" && i + 1 < tokens.Count && tokens[i + 1] == "(")
                {
                    while (i < tokens.Count && tokens[i] != ")")
                        i++;
                    continue;
                }
                throw new InputException(path, $"linker script command '{t}' in an input script: only GROUP, INPUT and OUTPUT_FORMAT are understood");
            }
            if (t is "AS_NEEDED" or ",")
                continue;
            if (t.StartsWith("-l", StringComparison.Ordinal))
                throw new InputException(path, $"input script names '{t}': pass the library's .a file itself");
            names.Add(Path.IsPathRooted(t) ? t : Path.Combine(dir, t));
        }
        return names;
    }

    private static string StripComments(string text) => Comment().Replace(text, " ");

    [GeneratedRegex(@"/\*.*?\*/", RegexOptions.Singleline)]
    private static partial Regex Comment();

    [GeneratedRegex(@"^\s*(GROUP|INPUT|OUTPUT_FORMAT)\s*\(")]
    private static partial Regex StartsWithCommand();

    [GeneratedRegex(@"[()]|,|[^\s(),]+")]
    private static partial Regex Token();
}
