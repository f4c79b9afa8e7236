namespace UklLink.Tooling;

/// <summary>
/// The toolchain cannot be prepared: a missing prerequisite (exit status 2) or a failed build (1). The message is one
/// line that says what to do next.
/// </summary>
public sealed class ToolchainException(string message, bool buildFailed = false) : Exception(message)
{
    public bool BuildFailed { get; } = buildFailed;
}
