using System.Text;
using UklLink.Inputs;

namespace UklLink.CommandLine;

/// <summary>An ld option ukl-link does not accept, or one without its value: one line saying why and what to do.</summary>
public sealed class LdCommandLineException(string message) : Exception(message);

/// <summary>The arguments with ld options turned into plain input paths, and what was dropped.</summary>
/// <param name="Arguments">The arguments for ukl-link's own parser: its options untouched, inputs as paths in ld's order.</param>
/// <param name="Ignored">ld options dropped because they mean nothing here, as written (e.g. <c>--build-id</c>, <c>-z relro</c>).</param>
/// <param name="Libraries">Each <c>-l</c> and the archive it found, for -v.</param>
public sealed record LdExpansion(IReadOnlyList<string> Arguments, IReadOnlyList<string> Ignored,
    IReadOnlyList<(string Option, string Path)> Libraries);

/// <summary>
/// Turns an argument list that mixes ukl-link's options with ld-style inputs (<c>-L DIR</c>, <c>-lNAME</c>,
/// <c>-l:FILE</c>, groups, the options gcc passes ld by habit) into ukl-link's options and plain input paths, searching
/// libraries the way <c>ld -static</c> does: every <c>-L</c> directory in order (wherever the <c>-L</c> stands), then
/// ld's default directories unless <c>-nostdlib</c>; only <c>libNAME.a</c>. An archive that is a GNU ld input script
/// (<c>GROUP ( ... )</c>, as glibc's libm.a and libc.so are) stands for the files it names.
/// </summary>
public static class LdCommandLine
{
    /// <summary>
    /// Processes <paramref name="args"/> up to the first <c>--</c> (the rest is copied). <paramref name="commandOption"/>
    /// says whether a token is one of the command's own options and whether it takes a value; those and their values
    /// pass through untouched.
    /// </summary>
    public static LdExpansion Expand(IReadOnlyList<string> args, Func<string, (bool IsOption, bool TakesValue)> commandOption,
        IReadOnlyList<string>? defaultDirectories = null)
    {
        // Own: one of the command's own options or its value, which passes through untouched (never read as an input:
        // `--script FILE` whose text starts like an input script is still the script).
        var items = new List<(LdOption? Option, string Token, string? Value, bool Own)>();
        int end = args.Count;
        for (int i = 0; i < args.Count; i++)
        {
            string t = args[i];
            if (t == "--")
            {
                end = i;
                break;
            }
            var (isOption, takesValue) = commandOption(t);
            if (isOption)
            {
                items.Add((null, t, null, true));
                if (takesValue && !t.Contains('=') && i + 1 < args.Count)
                    items.Add((null, args[++i], null, true));
                continue;
            }
            string? next = i + 1 < args.Count ? args[i + 1] : null;
            var option = LdOptions.Match(t, next, out var value, out bool usesNext);
            if (option is not null && usesNext)
                i++;
            items.Add((option, t, value, false));
        }

        var searchDirs = new List<string>();
        bool noDefaults = false;
        foreach (var (option, _, value, _) in items)
        {
            if (option?.Kind == LdOptionKind.SearchDirectory)
                searchDirs.Add(value!);
            else if (option?.Kind == LdOptionKind.NoDefaultDirectories)
                noDefaults = true;
        }
        var search = noDefaults ? searchDirs : [.. searchDirs, .. defaultDirectories ?? LdOptions.DefaultSearchDirectories];

        var result = new List<string>();
        var ignored = new List<string>();
        var libraries = new List<(string, string)>();
        foreach (var (option, token, value, own) in items)
        {
            switch (option?.Kind)
            {
                case null when own:
                    result.Add(token);
                    break;
                case null:
                    result.AddRange(IsInputScript(token) ? ScriptInputs(token, search) : [token]);
                    break;
                case LdOptionKind.Library:
                    string spelled = token.StartsWith("-l", StringComparison.Ordinal) && token.Length > 2 ? token : $"-l{value}";
                    string found = FindLibrary(value!, search, searchDirs, noDefaults);
                    libraries.Add((spelled, found));
                    result.AddRange(IsInputScript(found) ? ScriptInputs(found, search) : [found]);
                    break;
                case LdOptionKind.Refused:
                    throw new LdCommandLineException($"{Spelled(token, value)}: {option.Why}");
                case LdOptionKind.Ignored:
                    if (value is not null && option.RefuseValue?.Invoke(value) is { } refusal)
                        throw new LdCommandLineException(refusal);
                    ignored.Add(Spelled(token, value));
                    break;
                default:
                    break; // -L, -nostdlib, groups: already taken into account
            }
        }
        result.AddRange(args.Skip(end));
        return new LdExpansion(result, ignored, libraries);
    }

    private static string Spelled(string token, string? value) =>
        value is null || token.EndsWith(value, StringComparison.Ordinal) ? token : $"{token} {value}";

    /// <summary>The archive <c>-lNAME</c> (or <c>-l:FILE</c>) names, as <c>ld -static</c> finds it.</summary>
    public static string FindLibrary(string name, IReadOnlyList<string> search, IReadOnlyList<string> explicitDirs, bool noDefaults)
    {
        bool exact = name.StartsWith(':');
        string file = exact ? name[1..] : $"lib{name}.a";
        foreach (var dir in search)
        {
            string candidate = Path.Combine(dir, file);
            if (File.Exists(candidate))
                return candidate;
        }
        string spelled = $"-l{name}";
        if (!exact)
        {
            foreach (var dir in search)
            {
                string shared = Path.Combine(dir, $"lib{name}.so");
                if (File.Exists(shared))
                    throw new LdCommandLineException($"{spelled}: only a shared library was found ({shared}); ukl-link links static " +
                        $"archives: install lib{name}.a (usually in the library's -dev package) or add -L with the directory that has it");
            }
        }
        if (explicitDirs.Count == 0 && noDefaults)
            throw new LdCommandLineException($"{spelled}: nowhere to search for {file} (-nostdlib and no -L); add -L DIR for the directory that has it");
        string where = (explicitDirs.Count, noDefaults) switch
        {
            (0, false) => "ld's default directories (no -L given)",
            (_, true) => "-L " + string.Join(", ", explicitDirs) + " (-nostdlib: no default directories)",
            _ => "-L " + string.Join(", ", explicitDirs) + " or ld's default directories",
        };
        throw new LdCommandLineException($"{spelled}: no {file} in {where}; add -L DIR for the directory that has it");
    }

    /// <summary>True for a file that is neither ELF nor an archive and starts like a GNU ld input script.</summary>
    private static bool IsInputScript(string path)
    {
        if (!File.Exists(path))
            return false;
        try
        {
            // Called for every input: a handle and a stack buffer, no FileStream or array for the objects and archives.
            using var f = File.OpenHandle(path);
            Span<byte> head = stackalloc byte[4096];
            head = head[..RandomAccess.Read(f, head, 0)];
            if (head.StartsWith("\u007fELF"u8) || head.StartsWith("!<arch>\n"u8) || head.StartsWith("!<thin>\n"u8))
                return false;
            var words = Words(Encoding.ASCII.GetString(head));
            return words.Count > 0 && words[0] is "GROUP" or "INPUT" or "OUTPUT_FORMAT";
        }
        catch (IOException)
        {
            return false;
        }
    }

    /// <summary>
    /// The files an input script names: <c>GROUP ( a b AS_NEEDED ( c ) )</c>, <c>INPUT ( ... )</c>, with
    /// <c>OUTPUT_FORMAT(...)</c> allowed. <c>-lNAME</c> inside searches the same path.
    /// </summary>
    private static List<string> ScriptInputs(string path, IReadOnlyList<string> search)
    {
        var words = Words(File.ReadAllText(path));
        var files = new List<string>();
        int depth = 0;
        string? command = null;
        foreach (var w in words)
        {
            if (w == "(") { depth++; continue; }
            if (w == ")") { depth--; continue; }
            if (depth == 0)
            {
                command = w;
                if (w is not ("GROUP" or "INPUT" or "OUTPUT_FORMAT"))
                    throw new InputException(path, $"linker script command {w} is not an input list (GROUP, INPUT): give the archives it means instead");
                continue;
            }
            if (command == "OUTPUT_FORMAT" || w is "AS_NEEDED" or ",")
                continue;
            files.Add(w.StartsWith("-l", StringComparison.Ordinal)
                ? FindLibrary(w[2..], search, [], noDefaults: false)
                : Path.IsPathRooted(w) ? w : Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path))!, w));
        }
        return files;
    }

    /// <summary>Script words: comments removed, parentheses and commas split off.</summary>
    private static List<string> Words(string text)
    {
        var sb = new StringBuilder(text.Length);
        for (int i = 0; i < text.Length; i++)
        {
            if (text[i] == '/' && i + 1 < text.Length && text[i + 1] == '*')
            {
                int close = text.IndexOf("*/", i + 2, StringComparison.Ordinal);
                i = close < 0 ? text.Length : close + 1;
                sb.Append(' ');
                continue;
            }
            char c = text[i];
            if (c is '(' or ')' or ',')
                sb.Append(' ').Append(c).Append(' ');
            else
                sb.Append(c);
        }
        return [.. sb.ToString().Split((char[])[' ', '\t', '\n', '\r'], StringSplitOptions.RemoveEmptyEntries)];
    }
}
