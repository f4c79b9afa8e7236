using UklLink.Inputs;
using static UklLink.Inputs.ElfConstants;
using static UklLink.X86_64.RelocationTypes;

namespace UklLink.Analysis;

/// <summary>How a reference from elsewhere in the object constrains an offset of an executable section.</summary>
internal enum ReferenceKind
{
    /// <summary>Only a boundary: no window may contain it except at its start.</summary>
    Boundary,
    /// <summary>A boundary that is also where code probably starts (a code pointer in data, a call target).</summary>
    CodePointer,
    /// <summary>A boundary where code certainly starts (an .eh_frame FDE's initial location).</summary>
    CodeStart,
}

internal readonly record struct Reference(ulong Offset, ReferenceKind Kind, BoundaryReason Why);

/// <summary>
/// Per object: the symbols of each executable section and the references into it from the object's other allocated
/// sections (data, .eh_frame, other code sections). Built once per object and shared by the rewrites of its
/// sections. References a section makes to itself are interpreted by <see cref="CodeMap"/>, which knows which
/// instruction each one belongs to.
/// </summary>
internal sealed class ObjectReferences
{
    private readonly Dictionary<InputSection, List<InputSymbol>> _symbols = new();
    private readonly Dictionary<InputSection, List<Reference>> _references = new();

    public ObjectReferences(ObjectFile obj)
    {
        foreach (var sym in obj.Symbols)
        {
            if (sym.Section is { IsExecutable: true } s && sym.Type is not (STT_SECTION or STT_FILE))
                Add(_symbols, s, sym);
        }
        // Offsets of data sections that code refers to RIP-relatively (lea .L4(%rip), %rdx): the starts of PIC
        // jump tables are among them.
        var codeRefs = new Dictionary<InputSection, SortedSet<ulong>>();
        foreach (var src in obj.AllSections.Where(s => s.IsAlloc && s.IsExecutable))
        {
            foreach (var r in src.Relocations)
            {
                if (r.Type == R_X86_64_PC32 && r.Symbol.Section is { IsExecutable: false } data)
                {
                    long at = (long)r.Symbol.Value + r.Addend + 4;
                    if (at >= 0)
                        (codeRefs.TryGetValue(data, out var set) ? set : codeRefs[data] = new SortedSet<ulong>()).Add((ulong)at);
                }
            }
        }

        foreach (var src in obj.AllSections)
        {
            if (!src.IsAlloc || src.Relocations.Count == 0)
                continue;
            bool unwind = src.Name == ".eh_frame" || src.Type == SHT_X86_64_UNWIND;
            var pcRelativeFromData = new List<InputRelocation>();
            foreach (var r in src.Relocations)
            {
                if (r.Symbol.Section is not { IsExecutable: true } target || target == src)
                    continue;
                long value = (long)r.Symbol.Value + r.Addend;
                var reason = new BoundaryReason(BoundaryKind.Relocation, r.Offset, src);
                switch (r.Type)
                {
                    case var t when Get(t).AbsoluteAddress:
                        AddRef(target, value, src.IsExecutable ? ReferenceKind.Boundary : ReferenceKind.CodePointer, reason);
                        break;
                    case R_X86_64_PLT32 when src.IsExecutable:
                        AddRef(target, value + 4, ReferenceKind.CodePointer, reason); // call/jmp rel32: the field is last
                        break;
                    case R_X86_64_PC32 or R_X86_64_PC64 or R_X86_64_PLT32:
                        if (unwind)
                            AddRef(target, value, ReferenceKind.CodeStart, reason with { Kind = BoundaryKind.UnwindEntry });
                        else if (src.IsExecutable)
                        {
                            // A RIP-relative operand or branch: the target is S + A + (bytes from the field to the end
                            // of the instruction), 4 to 8 for a disp32 followed by reason most an imm32.
                            for (long k = 4; k <= 8; k++)
                                AddRef(target, value + k, ReferenceKind.Boundary, reason);
                        }
                        else
                            pcRelativeFromData.Add(r);
                        break;
                    case var t when Get(t).GotLoad:
                        AddRef(target, (long)r.Symbol.Value, ReferenceKind.CodePointer, reason);
                        break;
                }
            }
            AddPcRelativeData(src, pcRelativeFromData, codeRefs.GetValueOrDefault(src));
        }
    }

    /// <summary>
    /// PC-relative references from data to code. In a PIC jump table (<c>.long .L5-.L4</c> in .rodata) each entry
    /// stores target minus table start, so its relocation is PC32 against the code with addend target + (entry
    /// offset - table start). The table start is the nearest offset at or before the entry that code refers to
    /// (the <c>lea .L4(%rip)</c> of the switch), else the start of the run of consecutive 4-byte entries. A lone
    /// entry outside any run is taken as <c>.long target - .</c>.
    /// </summary>
    private void AddPcRelativeData(InputSection src, List<InputRelocation> relocs, SortedSet<ulong>? codeRefs)
    {
        relocs.Sort((a, b) => a.Offset.CompareTo(b.Offset));
        int i = 0;
        while (i < relocs.Count)
        {
            int j = i + 1;
            while (j < relocs.Count && relocs[j].Offset == relocs[j - 1].Offset + 4 && relocs[j].Type == R_X86_64_PC32
                && relocs[i].Type == R_X86_64_PC32)
                j++;
            for (int k = i; k < j; k++)
            {
                var r = relocs[k];
                long value = (long)r.Symbol.Value + r.Addend;
                if (j - i == 1)
                {
                    AddRef(r.Symbol.Section!, value, ReferenceKind.CodePointer, new BoundaryReason(BoundaryKind.Relocation, r.Offset, src));
                    continue;
                }
                ulong start = relocs[i].Offset;
                if (codeRefs?.GetViewBetween(start, r.Offset) is { Count: > 0 } bases)
                    start = bases.Max;
                AddRef(r.Symbol.Section!, value - (long)(r.Offset - start), ReferenceKind.CodePointer, new BoundaryReason(BoundaryKind.JumpTableEntry, r.Offset, src));
            }
            i = j;
        }
    }

    private void AddRef(InputSection target, long offset, ReferenceKind kind, BoundaryReason why)
    {
        if (offset >= 0 && (ulong)offset <= target.Size)
            Add(_references, target, new Reference((ulong)offset, kind, why));
    }

    private static void Add<T>(Dictionary<InputSection, List<T>> map, InputSection key, T value)
    {
        if (!map.TryGetValue(key, out var list))
            map[key] = list = new List<T>();
        list.Add(value);
    }

    public IReadOnlyList<InputSymbol> SymbolsIn(InputSection section) =>
        _symbols.TryGetValue(section, out var l) ? l : Array.Empty<InputSymbol>();

    public IReadOnlyList<Reference> ReferencesInto(InputSection section) =>
        _references.TryGetValue(section, out var l) ? l : Array.Empty<Reference>();
}
