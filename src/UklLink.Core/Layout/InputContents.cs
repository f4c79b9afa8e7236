using UklLink.Inputs;

namespace UklLink.Layout;

/// <summary>
/// Where the content transforms (merged sections, .eh_frame) read an input section's bytes and relocations: as the
/// file holds them, or in a link the rewrite pass's result (Linking/SectionContents.cs), which every pass after the
/// rewrite reads instead of the input sections.
/// </summary>
public sealed record InputContents(Func<InputSection, byte[]> Data, Func<InputSection, IReadOnlyList<InputRelocation>> Relocations)
{
    /// <summary>The sections as read.</summary>
    public static InputContents AsRead { get; } = new(s => s.Data, s => s.Relocations);
}
