namespace UklLink.Inputs;

/// <summary>
/// An input that cannot be read at all (missing, a directory, truncated, corrupt, not an object).
/// The message is one line naming the file and the problem; the CLI maps it to exit status 2.
/// </summary>
public sealed class InputException : Exception
{
    public InputException(string file, string problem) : base($"{file}: {problem}")
    {
        File = file;
        Problem = problem;
    }

    public string File { get; }
    public string Problem { get; }
}
