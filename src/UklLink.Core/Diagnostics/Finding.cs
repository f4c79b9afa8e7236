namespace UklLink.Diagnostics;

/// <summary>One diagnostic produced by a pass. Passes never print; they append findings.</summary>
public sealed record Finding(Rule Rule, Severity Severity, Location Location, string Message, string? Hint = null)
{
    public string RuleId => Rule.Id;
}
