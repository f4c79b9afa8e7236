using UklLink.Inputs;

namespace UklLink.Linking;

/// <summary>
/// The bytes and relocations the passes after rewrite read for an input section: the rewrite pass's new contents for a
/// section it changed, else the section as read. The input sections themselves stay as the file holds them (validate
/// --kernel shares them), so every pass from the GOT scan on asks this value, never <see cref="InputSection.Data"/>.
/// </summary>
internal sealed class SectionContents
{
    private readonly IReadOnlyDictionary<InputSection, (byte[] Data, IReadOnlyList<InputRelocation> Relocations)> _rewritten;

    public SectionContents(IReadOnlyDictionary<InputSection, (byte[] Data, IReadOnlyList<InputRelocation> Relocations)> rewritten) =>
        _rewritten = rewritten;

    /// <summary>Every section as read (no rewrite pass ran, or it changed nothing).</summary>
    public static SectionContents AsRead { get; } = new(new Dictionary<InputSection, (byte[], IReadOnlyList<InputRelocation>)>());

    public byte[] Data(InputSection section) => _rewritten.TryGetValue(section, out var r) ? r.Data : section.Data;

    /// <summary>The same bytes without a copy: the rewrite's array, or a span over the mapped input.</summary>
    public ReadOnlySpan<byte> Content(InputSection section) => _rewritten.TryGetValue(section, out var r) ? r.Data : section.Content;

    public IReadOnlyList<InputRelocation> Relocations(InputSection section) =>
        _rewritten.TryGetValue(section, out var r) ? r.Relocations : section.Relocations;

    public bool IsRewritten(InputSection section) => _rewritten.ContainsKey(section);
}
