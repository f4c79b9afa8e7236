using UklLink.Fuzz.Targets;

namespace UklLink.Fuzz;

/// <summary>Every fuzz target by the name fuzz/run uses (one per surface a user's file reaches).</summary>
public static class TargetTable
{
    public static readonly IReadOnlyDictionary<string, Func<Fixtures, Target>> ByName = new Dictionary<string, Func<Fixtures, Target>>
    {
        ["object"] = f => new ObjectTarget(f),
        ["archive"] = f => new ArchiveTarget(f),
        ["kernel"] = f => new KernelTarget(f),
        ["script"] = f => new ScriptTarget(f),
        ["setup"] = f => new SetupTarget(f),
        ["dwarf"] = f => new DwarfTarget(f),
        ["validate"] = f => new ValidateTarget(f),
        ["link"] = f => new LinkTarget(f),
    };
}
