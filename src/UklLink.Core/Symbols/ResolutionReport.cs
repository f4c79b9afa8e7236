using UklLink.Diagnostics;
using UklLink.Inputs;

namespace UklLink.Symbols;

/// <summary>
/// The findings about what takes part in a link and how its names resolve — inputs that are no relocatable x86-64
/// objects (UKL009), duplicate definitions (UKL013), undefined symbols (UKL010) — in one format, reported by this code
/// for validate and link alike.
/// </summary>
public static class ResolutionReport
{
    /// <summary>Inputs the reader set aside: each with what it is and what to pass instead.</summary>
    public static void Rejected(InputSet inputs, FindingBag bag)
    {
        foreach (var rejected in inputs.Rejected)
            bag.Report(Rules.WrongObjectKind, new Location(rejected.RejectedPath, rejected.Member), $"{rejected.DisplayName} {rejected.Reason}", rejected.Fix);
    }

    /// <summary>
    /// Duplicate definitions; and, when the other side of the link is known (<paramref name="withUndefined"/>: a
    /// kernel's symbol table), undefined symbols in lld's layout: the name, then one <c>&gt;&gt;&gt; referenced by</c>
    /// line per site (source line, then object position) and how many more there are.
    /// </summary>
    public static void Symbols(Resolution resolution, bool withUndefined, Locator locator, FindingBag bag)
    {
        foreach (var d in resolution.Duplicates)
            bag.Report(Rules.DuplicateDefinition, locator.At(d.Second.Section, d.Second.Value, d.Second),
                $"duplicate symbol: {d.Name} (also defined in {d.First.File.DisplayName})");
        if (!withUndefined)
            return; // without the kernel's symbol table nothing can be called undefined
        foreach (var u in resolution.Undefined)
        {
            var lines = u.ReferencedBy.Select(r =>
            {
                var at = locator.At(r.Section, r.Offset);
                return at.SourceText is { } src ? $">>> referenced by {src} ({at})" : $">>> referenced by {at}";
            });
            string more = u.ReferenceCount > u.ReferencedBy.Count ? $"\n>>> referenced {u.ReferenceCount - u.ReferencedBy.Count} more times" : "";
            var first = u.ReferencedBy[0];
            bag.Report(Rules.UndefinedSymbol, locator.At(first.Section, first.Offset), $"undefined symbol: {u.Name}\n{string.Join("\n", lines)}{more}");
        }
    }
}
