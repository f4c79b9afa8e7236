namespace UklLink.Diagnostics;

/// <summary>How serious a finding is. Ordered so that larger means worse.</summary>
public enum Severity
{
    Note = 0,
    Warning = 1,
    Error = 2,
}
