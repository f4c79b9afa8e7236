namespace UklLink.Cli;

/// <summary>The documented exit statuses of every ukl-link command.</summary>
public static class ExitCodes
{
    /// <summary>No errors (warnings allowed unless --warnings-as-errors).</summary>
    public const int Success = 0;

    /// <summary>The inputs were read and checked, and there are findings with errors.</summary>
    public const int Findings = 1;

    /// <summary>Usage error, or an input or output that cannot be read or written.</summary>
    public const int UsageOrIo = 2;
}

/// <summary>A command line the parser accepts but the command cannot use; the message says what to change.</summary>
public sealed class UsageException(string message) : Exception(message);
