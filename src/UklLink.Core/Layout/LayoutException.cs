using UklLink.LinkerScript;

namespace UklLink.Layout;

/// <summary>A script that cannot be evaluated (unknown symbol, division by zero, failed ASSERT): one line, with position.</summary>
public sealed class LayoutException : Exception
{
    public LayoutException(ScriptPosition position, string message) : base(message) => Position = position;

    public ScriptPosition Position { get; }
}
