using UklLink.Inputs;
using UklLink.Output;
using UklLink.Symbols;
using UklLink.X86_64;
using static UklLink.Inputs.ElfConstants;

namespace UklLink.Linking;

/// <summary>
/// The application's DWARF: the kept objects' .debug_* sections, concatenated per name in first-seen order (each at
/// its alignment, as ld does), relocated to the slot addresses and appended to the output as non-allocated sections,
/// so gdb, addr2line and perf see the application's source in the linked vmlinux. .debug_str is not merged.
/// </summary>
internal sealed class DebugSections
{
    private readonly Dictionary<string, List<InputSection>> _groups = new(StringComparer.Ordinal);
    private readonly Dictionary<InputSection, ulong> _offsets = new();

    public DebugSections(IReadOnlyList<ObjectFile> included, ComdatGroups comdats)
    {
        foreach (var obj in included)
            foreach (var section in obj.AllSections)
            {
                if (section.IsAlloc || !section.Name.StartsWith(".debug_", StringComparison.Ordinal) || section.Type is SHT_RELA or SHT_REL)
                    continue;
                // Debug sections of a discarded COMDAT copy go with it.
                if (!comdats.Keeps(section))
                    continue;
                if (!_groups.TryGetValue(section.Name, out var list))
                    _groups[section.Name] = list = new List<InputSection>();
                ulong end = list.Count == 0 ? 0 : _offsets[list[^1]] + list[^1].Size;
                // DWARF never needs more than a few bytes of alignment; a larger value (only seen in corrupt input)
                // would only inflate the output, so it is capped.
                ulong align = Math.Clamp(section.Alignment, 1, 4096);
                _offsets[section] = (end + align - 1) & ~(align - 1);
                list.Add(section);
            }
    }

    /// <summary>Where a debug input section starts inside its output section (debug sections have address 0).</summary>
    public bool TryGetOffset(InputSection section, out ulong offset) => _offsets.TryGetValue(section, out offset);

    /// <summary>
    /// The relocated output sections. A reference to discarded code keeps its assembled value and an overflow in
    /// DWARF is not worth failing a link for, so relocation problems here are not reported.
    /// </summary>
    public List<VmlinuxWriter.ExtraSection> Relocate(IRelocationContext values)
    {
        var extras = new List<VmlinuxWriter.ExtraSection>();
        foreach (var (name, parts) in _groups)
        {
            var buffer = new byte[_offsets[parts[^1]] + parts[^1].Size];
            var ignored = new List<RelocationProblem>();
            foreach (var part in parts)
            {
                int at = (int)_offsets[part];
                part.Data.CopyTo(buffer, at);
                Relocator.Apply(part, part.Relocations, buffer, at, _offsets[part], values, ignored);
            }
            extras.Add(new VmlinuxWriter.ExtraSection(name, SHT_PROGBITS, parts[0].Flags & ~SHF_ALLOC, parts.Max(p => Math.Clamp(p.Alignment, 1, 4096)), buffer));
        }
        return extras;
    }
}
