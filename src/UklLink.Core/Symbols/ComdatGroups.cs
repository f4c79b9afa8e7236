using UklLink.Inputs;

namespace UklLink.Symbols;

/// <summary>
/// COMDAT group selection as ld makes it: of all groups with one signature, the first in link order is kept whole,
/// every section of the others is discarded (code, data and their debug information alike).
/// </summary>
public sealed class ComdatGroups
{
    private readonly Dictionary<string, ObjectFile> _owner = new(StringComparer.Ordinal);

    public ComdatGroups(IEnumerable<ObjectFile> linkOrder)
    {
        foreach (var obj in linkOrder)
            foreach (var section in obj.AllSections)
                if (section.ComdatSignature is { } signature)
                    _owner.TryAdd(signature, obj);
    }

    /// <summary>False for a member of a group that lost to an earlier one with the same signature.</summary>
    public bool Keeps(InputSection section) =>
        section.ComdatSignature is not { } signature || _owner[signature] == section.File;
}
