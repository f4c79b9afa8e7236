using UklLink.Inputs;
using UklLink.Kernel;
using UklLink.Layout;
using UklLink.Symbols;
using UklLink.X86_64;
using static UklLink.Inputs.ElfConstants;

namespace UklLink.Linking;

/// <summary>
/// Final values of every symbol a relocation can name, once layout is done: application definitions (through the
/// resolution for global names), COMMON allocations, script symbols, the kernel's symbols, undefined weak as 0.
/// </summary>
internal sealed class SymbolValues : IRelocationContext
{
    private readonly Resolution _resolution;
    private readonly LayoutResult _layout;
    private readonly KernelImage _kernel;
    private readonly IReadOnlyDictionary<InputSymbol, ulong> _commons;
    private readonly Func<InputSection, ulong, ulong?> _sectionAddress;
    private readonly LinkerMadeSections _made;
    private readonly ContentTransforms? _transforms;
    private readonly IReadOnlyDictionary<string, ulong> _linkerSymbols;

    public SymbolValues(Resolution resolution, LayoutResult layout, KernelImage kernel, LinkerMadeSections made,
        Func<InputSection, ulong, ulong?> sectionAddress, ulong tlsStart, ulong tlsSize, ContentTransforms? transforms,
        IReadOnlyDictionary<string, ulong> linkerSymbols)
    {
        _transforms = transforms;
        _linkerSymbols = linkerSymbols;
        _resolution = resolution;
        _layout = layout;
        _kernel = kernel;
        _made = made;
        _commons = made.CommonAddresses();
        _sectionAddress = sectionAddress;
        TlsStart = tlsStart;
        TlsSize = tlsSize;
    }

    public ulong TlsStart { get; }
    public ulong TlsSize { get; }

    public ulong GotBase => _linkerSymbols.TryGetValue("_GLOBAL_OFFSET_TABLE_", out ulong v) ? v : 0;

    /// <summary>The relocation's .got entry, or for an IFUNC without one the .igot.plt slot of its PLT entry.</summary>
    public bool TryGetGotEntryAddress(InputRelocation relocation, out ulong address)
    {
        var key = GotKey.For(relocation.Symbol);
        if (_made.GotSlots.TryGetValue(key, out ulong slot))
        {
            address = _made.Got!.Address + slot;
            return true;
        }
        if (_made.IndirectFor(key) is { GotUsesPltSlot: true } f)
        {
            address = _made.Indirect.SlotAddress(f);
            return true;
        }
        address = 0;
        return false;
    }

    public RelocationTarget Resolve(InputRelocation relocation)
    {
        var symbol = relocation.Symbol;
        // An IFUNC is reached through its PLT entry; without one, only GOT references and static pointers (filled by
        // their IRELATIVE relocations at start-up) can use it.
        if (_made.IndirectFor(GotKey.For(symbol)) is { } indirect)
            return Resolve(symbol) with
            {
                Value = indirect.HasPlt ? _made.Indirect.PltAddress(indirect) : 0,
                Kind = indirect.HasPlt ? TargetKind.Section : TargetKind.IndirectAtStartup,
                IsIndirect = true,
            };
        var defining = !symbol.IsLocal && symbol.Type != STT_SECTION && symbol.Name.Length > 0
            && _resolution.Definitions.TryGetValue(symbol.Name, out var def) && !_layout.Symbols.ContainsKey(symbol.Name) ? def : symbol;
        if (_transforms?.MapReference(defining, relocation.Addend) is { } m)
        {
            var target = Resolve(symbol);
            return _sectionAddress(m.Section, m.Offset) is { } value
                ? target with { Value = value, AddendOverride = m.Addend }
                : target with { Kind = TargetKind.Discarded };
        }
        return Resolve(symbol, relocation.Addend);
    }

    /// <summary>
    /// Resolves a symbol. <paramref name="addend"/> matters only for a section symbol of a merged section, where the
    /// addend selects the string inside the section.
    /// </summary>
    public RelocationTarget Resolve(InputSymbol symbol, long addend = 0)
    {
        if (symbol.Index == 0)
            return new RelocationTarget(0, 0, TargetKind.Absolute, false, "");
        if (!symbol.IsLocal && symbol.Type != STT_SECTION && symbol.Name.Length > 0)
            return ResolveName(symbol.Name, symbol);
        return Defined(symbol);
    }

    public RelocationTarget ResolveName(string name, InputSymbol? reference)
    {
        if (_layout.Symbols.TryGetValue(name, out var script))
            return new RelocationTarget(script.Value, 0, script.Section is null ? TargetKind.Absolute : TargetKind.Section, false, name);
        if (_resolution.Definitions.TryGetValue(name, out var def))
            return Defined(def);
        if (_linkerSymbols.TryGetValue(name, out ulong linkerValue))
            return new RelocationTarget(linkerValue, 0, TargetKind.Section, false, name);
        if (_kernel.GlobalSymbols.TryGetValue(name, out var k))
            return new RelocationTarget(k.Value, k.Size, TargetKind.Absolute, k.Type == STT_TLS, name);
        // Undefined: weak references are 0; strong ones were reported by resolution already.
        return new RelocationTarget(0, 0, TargetKind.UndefinedWeak, false, name);
    }

    private RelocationTarget Defined(InputSymbol symbol)
    {
        string name = symbol.DisplayName;
        if (symbol.IsAbsolute)
            return new RelocationTarget(symbol.Value, symbol.Size, TargetKind.Absolute, false, name);
        if (symbol.IsCommon)
        {
            var winner = _resolution.Definitions.TryGetValue(symbol.Name, out var d) ? d : symbol;
            return _commons.TryGetValue(winner, out ulong address)
                ? new RelocationTarget(address, winner.Size, TargetKind.Section, false, name)
                : new RelocationTarget(0, 0, TargetKind.Discarded, false, name);
        }
        var (section, offset) = symbol.Section is { } defined && _transforms is not null
            ? _transforms.MapDefinition(defined, symbol.Value)
            : (symbol.Section!, symbol.Value);
        if (section is null || _sectionAddress(section, offset) is not { } value)
            return new RelocationTarget(0, symbol.Size, TargetKind.Discarded, symbol.Type == STT_TLS, name);
        return new RelocationTarget(value, symbol.Size, TargetKind.Section, section.IsTls, name);
    }

    /// <summary>The final value of an application symbol for the output symbol table, or null if it was discarded.</summary>
    public ulong? ValueOf(InputSymbol symbol)
    {
        var t = Defined(symbol);
        return t.Kind == TargetKind.Discarded ? null : t.Value;
    }
}
