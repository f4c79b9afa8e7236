using UklLink.Inputs;

namespace UklLink.LinkerScript;

/// <summary>
/// A linker script that cannot be parsed: a syntax error or a GNU ld command outside the supported subset. The message
/// is one line, <c>file:line:col: problem</c>; as an <see cref="InputException"/> the CLI prints it and exits with 2.
/// </summary>
public sealed class ScriptException : InputException
{
    public ScriptException(ScriptPosition position, string problem) : base(position.File, problem, $"{position}: {problem}")
    {
        Position = position;
    }

    public ScriptPosition Position { get; }
}
