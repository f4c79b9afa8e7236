using UklLink.Inputs;
using static UklLink.Inputs.ElfConstants;

namespace UklLink.Linking;

/// <summary>
/// What a .got entry (and an IFUNC's PLT and GOT entries) is for: a global name, which every object's references
/// share, or one local symbol (a static variable, a section symbol plus addend's section), which only its own
/// object's references share. Exactly one of <see cref="Name"/> and <see cref="Local"/> is set.
/// </summary>
internal readonly record struct GotKey
{
    private GotKey(string? name, InputSymbol? local)
    {
        Name = name;
        Local = local;
    }

    /// <summary>The global name, for a global target.</summary>
    public string? Name { get; }

    /// <summary>The symbol itself, for a local target.</summary>
    public InputSymbol? Local { get; }

    public bool IsLocal => Local is not null;

    /// <summary>The key of a relocation's symbol: locals and section symbols by identity, everything else by name.</summary>
    public static GotKey For(InputSymbol symbol) =>
        symbol.IsLocal || symbol.Type == STT_SECTION ? new GotKey(null, symbol) : new GotKey(symbol.Name, null);

    public static GotKey Global(string name) => new(name, null);

    public override string ToString() => Name ?? Local!.ToString()!;
}
