namespace UklLink.Diagnostics;

/// <summary>
/// A diagnostic rule: stable id, short kebab-case name, default severity, one-sentence description and a fix hint.
/// Rules whose <see cref="VerboseOnly"/> is set are reported only when the user asks for verbose output.
/// </summary>
public sealed record Rule(string Id, string Name, Severity DefaultSeverity, string Description, string? Hint, bool VerboseOnly = false);
