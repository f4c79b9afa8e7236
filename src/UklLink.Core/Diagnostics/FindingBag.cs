namespace UklLink.Diagnostics;

/// <summary>Collects findings from every pass, in the order they were reported.</summary>
public sealed class FindingBag
{
    private readonly List<Finding> _findings = new();

    public IReadOnlyList<Finding> Findings => _findings;

    public int ErrorCount => _findings.Count(f => f.Severity == Severity.Error);
    public int WarningCount => _findings.Count(f => f.Severity == Severity.Warning);
    public int NoteCount => _findings.Count(f => f.Severity == Severity.Note);

    public void Add(Finding finding) => _findings.Add(finding);

    /// <summary>Reports with the rule's default severity and hint.</summary>
    public void Report(Rule rule, Location location, string message, string? hint = null) =>
        _findings.Add(new Finding(rule, rule.DefaultSeverity, location, message, hint ?? rule.Hint));
}
