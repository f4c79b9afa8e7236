namespace UklLink.Inputs;

/// <summary>
/// An input that cannot be read at all (missing, a directory, truncated, corrupt, not an object, a linker script with
/// a syntax error). The message is one line naming the file and the problem; the CLI maps it to exit status 2.
/// </summary>
public class InputException : Exception
{
    public InputException(string file, string problem) : this(file, problem, $"{file}: {problem}")
    {
    }

    /// <summary>For inputs that name a place inside the file (<c>file:line:col: problem</c>).</summary>
    protected InputException(string file, string problem, string message) : base(OneLine(message))
    {
        File = file;
        Problem = problem;
    }

    /// <summary>Names from corrupt input (archive members, sections) may hold control characters: escape them.</summary>
    private static string OneLine(string message)
    {
        if (!message.Any(char.IsControl))
            return message;
        var sb = new System.Text.StringBuilder(message.Length + 8);
        foreach (char c in message)
            sb.Append(char.IsControl(c) ? $"\\x{(int)c:x2}" : c.ToString());
        return sb.ToString();
    }

    public string File { get; }
    public string Problem { get; }
}
