using UklLink.Inputs;
using static UklLink.Inputs.ElfConstants;

namespace UklLink.Symbols;

/// <summary>
/// Binds names as GNU ld does for a static link: application definitions first (strong over weak, the larger common),
/// archive members pulled in on demand until nothing new is undefined (all archives searched repeatedly, as inside
/// --start-group), then whatever <c>definedOutside</c> says: the kernel's global symbols and the names the link defines
/// itself (<see cref="LinkerDefinedSymbols"/>). Weak undefined references pull nothing and resolve to 0.
/// </summary>
public static class Resolver
{
    private const int MaxReferrersShown = 3;

    public static Resolution Resolve(InputSet inputs, Func<string, bool> definedOutside)
    {
        var included = new List<ObjectFile>();
        var defs = new Dictionary<string, InputSymbol>(StringComparer.Ordinal);
        var strongRefs = new HashSet<string>(StringComparer.Ordinal);
        var referenced = new HashSet<string>(StringComparer.Ordinal);
        var duplicates = new List<DuplicateDefinition>();

        void Include(ObjectFile obj)
        {
            included.Add(obj);
            foreach (var sym in obj.Symbols)
            {
                if (sym.IsLocal || sym.Name.Length == 0 || sym.Type is STT_SECTION or STT_FILE)
                    continue;
                if (sym.IsUndefined)
                {
                    referenced.Add(sym.Name);
                    if (!sym.IsWeak)
                        strongRefs.Add(sym.Name);
                    continue;
                }
                if (!defs.TryGetValue(sym.Name, out var old))
                {
                    defs[sym.Name] = sym;
                    continue;
                }
                switch (Compare(old, sym))
                {
                    case Outcome.KeepOld:
                        break;
                    case Outcome.TakeNew:
                        defs[sym.Name] = sym;
                        break;
                    case Outcome.Duplicate:
                        duplicates.Add(new DuplicateDefinition(sym.Name, old, sym));
                        break;
                }
            }
        }

        // Archive members are pulled as GNU ld pulls them when every archive is inside one --start-group that ends
        // after the last archive: inputs are read in command-line order, each archive is searched where it stands
        // (its members in order, again and again until it gives nothing more), and at the last archive all of them
        // are searched again until none gives anything. Members join the link where they are pulled, so objects
        // after the archives (crtend.o, crtn.o) come after the members, as in ld's output.
        var files = inputs.Files;
        var archives = files.OfType<ArchiveInput>().ToList();
        var memberDefines = new Dictionary<ObjectFile, List<string>>();
        foreach (var member in archives.SelectMany(a => a.Members))
            memberDefines[member] = member.Symbols
                .Where(sym => !sym.IsLocal && sym.IsDefined && !sym.IsCommon && sym.Name.Length > 0 && sym.Type is not (STT_SECTION or STT_FILE))
                .Select(sym => sym.Name).ToList();
        var pulled = new HashSet<ObjectFile>();

        bool Search(ArchiveInput archive)
        {
            bool any = false, again = true;
            while (again)
            {
                again = false;
                foreach (var member in archive.Members)
                {
                    if (pulled.Contains(member) || !memberDefines[member].Any(n => strongRefs.Contains(n) && !defs.ContainsKey(n)))
                        continue;
                    pulled.Add(member);
                    Include(member);
                    again = any = true;
                }
            }
            return any;
        }

        void SearchAll()
        {
            while (archives.Aggregate(false, (any, archive) => Search(archive) | any))
            {
            }
        }

        int lastArchive = -1;
        for (int i = 0; i < files.Count; i++)
            if (files[i] is ArchiveInput)
                lastArchive = i;
        for (int i = 0; i < files.Count; i++)
        {
            if (files[i] is ObjectInput o)
                Include(o.Object);
            else if (files[i] is ArchiveInput a)
                Search(a);
            if (i == lastArchive)
                SearchAll();
        }
        // Objects after the last archive may need members too; ld would call those undefined, ukl-link pulls them
        // (after everything else), so that no input order links less than all-objects-first would.
        if (lastArchive >= 0 && lastArchive < files.Count - 1)
            SearchAll();

        var startStop = StartStopSymbols.Sections(included);
        var missing = strongRefs
            .Where(n => !defs.ContainsKey(n) && !definedOutside(n) && !(StartStopSymbols.SectionOf(n) is { } section && startStop.Contains(section)))
            .ToHashSet(StringComparer.Ordinal);
        var undefined = FindReferrers(included, missing);
        return new Resolution(included, defs, undefined, duplicates, referenced);
    }

    private enum Outcome { KeepOld, TakeNew, Duplicate }

    private static Outcome Compare(InputSymbol old, InputSymbol sym)
    {
        if (sym.IsWeak)
            return Outcome.KeepOld;
        if (old.IsWeak)
            return Outcome.TakeNew;
        if (sym.IsCommon && old.IsCommon)
            return sym.Size > old.Size ? Outcome.TakeNew : Outcome.KeepOld;
        if (sym.IsCommon)
            return Outcome.KeepOld;
        if (old.IsCommon)
            return Outcome.TakeNew;
        // COMDAT: the first group with a given signature wins and the others are discarded, so no clash.
        if (old.Section?.ComdatSignature is { } a && sym.Section?.ComdatSignature is { } b && a == b)
            return Outcome.KeepOld;
        return Outcome.Duplicate;
    }

    private static List<UndefinedReference> FindReferrers(IEnumerable<ObjectFile> included, HashSet<string> missing)
    {
        var byName = new Dictionary<string, (List<InputRelocation> Shown, int Count)>(StringComparer.Ordinal);
        if (missing.Count == 0)
            return new List<UndefinedReference>();
        foreach (var obj in included)
            foreach (var section in obj.AllSections)
                foreach (var r in section.Relocations)
                {
                    if (!r.Symbol.IsUndefined || r.Symbol.IsWeak || !missing.Contains(r.Symbol.Name))
                        continue;
                    if (!byName.TryGetValue(r.Symbol.Name, out var entry))
                        entry = (new List<InputRelocation>(), 0);
                    if (entry.Shown.Count < MaxReferrersShown)
                        entry.Shown.Add(r);
                    byName[r.Symbol.Name] = (entry.Shown, entry.Count + 1);
                }
        // Only names some relocation uses are errors, as with ld: an unused undefined symbol is harmless.
        return byName.OrderBy(kv => kv.Key, StringComparer.Ordinal)
            .Select(kv => new UndefinedReference(kv.Key, kv.Value.Shown, kv.Value.Count))
            .ToList();
    }
}
