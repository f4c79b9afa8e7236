using System.Text;
using UklLink.Inputs;

namespace UklLink.CommandLine;

/// <summary>
/// Response files (<c>@FILE</c>) as gcc and ld read them (libiberty's <c>buildargv</c>/<c>expandargv</c>): arguments
/// are separated by white space; single and double quotes group; a backslash takes the next character literally,
/// inside quotes too; an <c>@FILE</c> inside a response file is expanded in turn. Relative paths inside stay relative
/// to the current directory, as for gcc and ld. Unlike gcc, an <c>@FILE</c> that cannot be read is an error rather than
/// a literal argument: ukl-link has no argument that starts with <c>@</c>.
/// </summary>
public static class ResponseFile
{
    /// <summary>More nested expansions than this mean a file includes itself (libiberty stops at 2000 too).</summary>
    private const int MaxExpansions = 2000;

    /// <summary>Splits a response file's text into arguments.</summary>
    public static List<string> Parse(string text)
    {
        var args = new List<string>();
        var arg = new StringBuilder();
        bool inArg = false, squote = false, dquote = false, escape = false;
        foreach (char c in text)
        {
            if (escape)
            {
                arg.Append(c);
                escape = false;
                inArg = true;
            }
            else if (c == '\\')
            {
                escape = true;
                inArg = true;
            }
            else if (squote)
            {
                if (c == '\'') squote = false;
                else arg.Append(c);
            }
            else if (dquote)
            {
                if (c == '"') dquote = false;
                else arg.Append(c);
            }
            else if (IsSpace(c))
            {
                if (inArg)
                {
                    args.Add(arg.ToString());
                    arg.Clear();
                    inArg = false;
                }
            }
            else
            {
                inArg = true;
                if (c == '\'') squote = true;
                else if (c == '"') dquote = true;
                else arg.Append(c);
            }
        }
        if (inArg)
            args.Add(arg.ToString());
        return args;
    }

    /// <summary>
    /// Replaces every <c>@FILE</c> in <paramref name="args"/> before the first <c>--</c> by the arguments it holds
    /// (recursively). Arguments after <c>--</c> are the application's and are left alone.
    /// </summary>
    public static List<string> Expand(IReadOnlyList<string> args)
    {
        var result = new List<string>(args.Count);
        int expansions = 0;
        for (int i = 0; i < args.Count; i++)
        {
            if (args[i] == "--")
            {
                result.AddRange(args.Skip(i));
                break;
            }
            ExpandOne(args[i], result, ref expansions);
        }
        return result;
    }

    private static void ExpandOne(string arg, List<string> into, ref int expansions)
    {
        if (arg.Length < 2 || arg[0] != '@')
        {
            into.Add(arg);
            return;
        }
        string path = arg[1..];
        if (++expansions > MaxExpansions)
            throw new InputException(path, "response files nest more than 2000 deep (does one include itself?)");
        string text;
        try
        {
            using var stream = InputFiles.OpenRead(path);
            using var reader = new StreamReader(stream, Encoding.UTF8);
            text = reader.ReadToEnd();
        }
        catch (InputException ex)
        {
            throw new InputException(ex.File, $"{ex.Problem} (response file {arg})");
        }
        catch (IOException ex)
        {
            throw new InputException(path, $"cannot read response file: {ex.Message}");
        }
        foreach (var inner in Parse(text))
            ExpandOne(inner, into, ref expansions);
    }

    /// <summary>One argument written so that <see cref="Parse"/> (and gcc, ld) read it back unchanged.</summary>
    public static string Quote(string arg)
    {
        if (arg.Length == 0)
            return "''";
        var sb = new StringBuilder(arg.Length + 4);
        foreach (char c in arg)
        {
            if (!IsPlain(c))
                sb.Append('\\');
            sb.Append(c);
        }
        return sb.ToString();
    }

    /// <summary>A response file's text: one argument a line.</summary>
    public static string Format(IEnumerable<string> args) => string.Concat(args.Select(a => Quote(a) + "\n"));

    // ISSPACE in libiberty's safe-ctype: space, \t, \n, \v, \f, \r.
    private static bool IsSpace(char c) => c is ' ' or '\t' or '\n' or '\v' or '\f' or '\r';

    private static bool IsPlain(char c) => char.IsAsciiLetterOrDigit(c) || "_./+,:=%-@".Contains(c) || c > 127;
}
