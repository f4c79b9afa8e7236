using System.Buffers.Binary;
using UklLink.Inputs;
using UklLink.Kernel;
using UklLink.Layout;
using UklLink.Symbols;
using UklLink.X86_64;
using static UklLink.Inputs.ElfConstants;

namespace UklLink.Linking;

/// <summary>
/// The content the linker makes before layout, as GNU ld makes it for a static link: a .got entry for each target
/// that some GOT relocation cannot be relaxed away from, the IFUNC sections (.iplt, .igot.plt, .rela.iplt), .got.plt
/// (three zero words, named by _GLOBAL_OFFSET_TABLE_) once there is a GOT, an IFUNC or a GOT-relative reference, and
/// one COMMON block per object. Entries are ordered as ld orders them: .got entries of local symbols first (by object,
/// then symbol index), then those of global names and the IFUNC entries in the order of ld's symbol table
/// (<see cref="LdHashOrder"/>).
/// </summary>
internal sealed class LinkerMadeSections
{
    private readonly List<(SyntheticPiece Block, Dictionary<InputSymbol, ulong> Offsets)> _commonBlocks = new();
    private readonly Dictionary<GotKey, IndirectFunction> _indirect = new();

    public Dictionary<GotKey, ulong> GotSlots { get; } = new();
    public SyntheticPiece? Got { get; private set; }
    public SyntheticPiece? GotPlt { get; private set; }
    public IndirectFunctionSections Indirect { get; private set; } = null!;
    public List<SyntheticPiece> Pieces { get; } = new();

    public static LinkerMadeSections Build(IReadOnlyList<InputSection> live, SectionContents contents, Resolution resolution, KernelImage kernel,
        IReadOnlySet<string> scriptNames, Lazy<LdHashOrder> symbolOrder)
    {
        var made = new LinkerMadeSections();
        // The GOT decision depends only on the instruction and the kind of target, not on addresses.
        var preliminary = new PreliminaryTargets(resolution, kernel, scriptNames);
        var linkIndex = resolution.Included.Select((o, i) => (o, i)).ToDictionary(x => x.o, x => x.i);
        bool gotRelative = false;
        var gotKeys = new HashSet<GotKey>();
        foreach (var section in live)
            foreach (var r in contents.Relocations(section))
            {
                gotRelative |= RelocationTypes.Get(r.Type).UsesGotBase;
                var key = GotKey.For(r.Symbol);
                if (Definition(r.Symbol, resolution) is { } definition && IndirectFunction.Is(definition))
                {
                    if (!made._indirect.TryGetValue(key, out var f))
                        made._indirect[key] = f = new IndirectFunction(key, definition);
                    f.Note(r);
                    continue;
                }
                if (RelocationTypes.Get(r.Type).GotLoad
                    && Relocator.NeedsGotEntry(r, contents.Content(section), preliminary.Resolve(r.Symbol)))
                    gotKeys.Add(key);
            }

        // ld: local GOT entries per input object in link order, by symbol index; then one walk of its symbol table for
        // the global names (GOT entries and IFUNC PLT entries alike); then the local IFUNCs (ld walks a separate table
        // for those, whose order ukl-link does not reproduce: it takes link order).
        ulong NextGot() => (ulong)made.GotSlots.Count * 8;
        foreach (var local in gotKeys.Where(k => k.IsLocal).OrderBy(k => linkIndex[k.Local!.File]).ThenBy(k => k.Local!.Index))
            made.GotSlots[local] = NextGot();
        var plt = new List<IndirectFunction>();
        void Allocate(IndirectFunction f)
        {
            if (f.PltReferenced)
            {
                f.PltIndex = plt.Count;
                plt.Add(f);
            }
            // .got.plt's slot serves GOT references unless the address must equal the PLT entry's (then a .got entry
            // holds it) or there is no PLT entry (then a .got entry gets its own IRELATIVE).
            if (f.GotReferenced && !(f.HasPlt && !f.PointerEquality))
            {
                f.HasGotEntry = true;
                made.GotSlots[f.Key] = NextGot();
            }
        }
        var globals = gotKeys.Concat(made._indirect.Keys).Where(k => !k.IsLocal).Select(k => k.Name!).Distinct(StringComparer.Ordinal)
            .OrderBy(n => symbolOrder.Value.Rank(n)).ThenBy(n => n, StringComparer.Ordinal);
        foreach (var name in globals)
        {
            if (made._indirect.TryGetValue(GotKey.Global(name), out var f))
                Allocate(f);
            else
                made.GotSlots[GotKey.Global(name)] = NextGot();
        }
        var locals = made._indirect.Values.Where(f => f.Key.IsLocal).OrderBy(f => linkIndex[f.Definition.File]).ThenBy(f => f.Definition.Index).ToList();
        foreach (var f in locals)
            Allocate(f);
        // ld fills the local IFUNCs' entries while it writes local symbols, before it walks the global ones.
        var finish = locals.Concat(made._indirect.Values.Where(f => !f.Key.IsLocal).OrderBy(f => symbolOrder.Value.Rank(f.Key.Name!))
            .ThenBy(f => f.Key.Name!, StringComparer.Ordinal)).ToList();
        made.Indirect = new IndirectFunctionSections(plt, finish, plt.Count + finish.Sum(f => f.ExtraRelocations));

        if (made.GotSlots.Count > 0)
            made.Pieces.Add(made.Got = new SyntheticPiece(".got", (ulong)made.GotSlots.Count * 8, 8, SHF_ALLOC | SHF_WRITE, noBits: false));

        // COMMON: each object's winning commons form that object's own block, blocks in link order. (Inside a block
        // ld follows its symbol hash table; ukl-link uses the object's symbol-table order.)
        foreach (var group in resolution.Definitions.Values.Where(s => s.IsCommon).GroupBy(c => c.File).OrderBy(g => linkIndex[g.Key]))
        {
            ulong size = 0, align = 1;
            var offsets = new Dictionary<InputSymbol, ulong>();
            foreach (var c in group.OrderBy(c => c.Index))
            {
                ulong a = Math.Max(1, c.Value); // a common symbol's st_value is its alignment
                size = (size + a - 1) & ~(a - 1);
                offsets[c] = size;
                size += c.Size;
                align = Math.Max(align, a);
            }
            var block = SyntheticPiece.Bss("COMMON", size, align);
            made.Pieces.Add(block);
            made._commonBlocks.Add((block, offsets));
        }

        if (made.GotSlots.Count > 0 || plt.Count > 0 || gotRelative || resolution.Referenced.Contains(LinkerDefinedSymbols.GlobalOffsetTable))
            made.Pieces.Add(made.GotPlt = new SyntheticPiece(".got.plt", 24, 8, SHF_ALLOC | SHF_WRITE, noBits: false) { Data = new byte[24] });
        made.Pieces.AddRange(made.Indirect.Pieces);
        return made;
    }

    /// <summary>The symbol that defines what a relocation's symbol names: itself for a local, else the winning definition.</summary>
    private static InputSymbol? Definition(InputSymbol symbol, Resolution resolution) =>
        symbol.IsLocal || symbol.Type == STT_SECTION ? symbol
        : resolution.Definitions.TryGetValue(symbol.Name, out var d) ? d : null;

    /// <summary>The IFUNC a relocation target key names, if it is one the link makes entries for.</summary>
    public IndirectFunction? IndirectFor(GotKey key) => _indirect.Count == 0 ? null : _indirect.GetValueOrDefault(key); // asked per relocation: most links have no IFUNC

    public Dictionary<InputSymbol, ulong> CommonAddresses()
    {
        var addresses = new Dictionary<InputSymbol, ulong>();
        foreach (var (block, offsets) in _commonBlocks)
            foreach (var (symbol, offset) in offsets)
                addresses[symbol] = block.Address + offset;
        return addresses;
    }

    /// <summary>Symbols the linker defines for its own sections (only _GLOBAL_OFFSET_TABLE_).</summary>
    public Dictionary<string, ulong> Symbols()
    {
        var symbols = new Dictionary<string, ulong>(StringComparer.Ordinal);
        if (GotPlt?.Output is not null)
            symbols[LinkerDefinedSymbols.GlobalOffsetTable] = GotPlt.Address;
        return symbols;
    }

    /// <summary>
    /// Fills the GOT entries (addresses; TP offsets for TLS targets; for an IFUNC the PLT entry's address, or 0 for
    /// the IRELATIVE relocation to fill) and the IFUNC sections into their output images.
    /// </summary>
    public void WriteGot(IReadOnlyDictionary<OutputSection, byte[]> images, SymbolValues values, Func<InputRelocation, ulong> placeOf,
        IEnumerable<InputSection> relocationOrder)
    {
        if (Got?.Output is { } output)
        {
            var buffer = images[output];
            foreach (var (key, offset) in GotSlots)
            {
                ulong value;
                if (_indirect.TryGetValue(key, out var f))
                    value = f.HasPlt ? Indirect.PltAddress(f) : 0;
                else
                {
                    var t = key.Name is { } name ? values.ResolveName(name, null) : values.Resolve(key.Local!);
                    value = t.IsTls ? t.Value - (values.TlsStart + values.TlsSize) : t.Value;
                }
                BinaryPrimitives.WriteUInt64LittleEndian(buffer.AsSpan((int)(Got.Address - output.Address + offset)), value);
            }
        }
        var pointers = _indirect.Values.Where(f => !f.HasPlt).SelectMany(f => f.StaticPointers.Select(p => (f, p))).ToLookup(x => x.p.Section);
        Indirect.Write(images, f => values.ValueOf(f.Definition) ?? 0, f => Got!.Address + GotSlots[f.Key], placeOf,
            relocationOrder.SelectMany(s => pointers[s]));
    }

    /// <summary>Targets as far as they can be known before layout: enough to decide GOT relaxations.</summary>
    private sealed class PreliminaryTargets(Resolution resolution, KernelImage kernel, IReadOnlySet<string> scriptNames)
    {
        public RelocationTarget Resolve(InputSymbol s)
        {
            if (s.IsLocal || s.Type == STT_SECTION)
                return new RelocationTarget(s.Value, s.Size, s.IsAbsolute ? TargetKind.Absolute : TargetKind.Section, s.Type == STT_TLS, s.Name);
            if (scriptNames.Contains(s.Name))
                return new RelocationTarget(0, 0, TargetKind.Section, false, s.Name);
            if (resolution.Definitions.TryGetValue(s.Name, out var d))
                return new RelocationTarget(d.Value, d.Size, d.IsAbsolute ? TargetKind.Absolute : TargetKind.Section, d.Type == STT_TLS, s.Name);
            if (kernel.GlobalSymbols.TryGetValue(s.Name, out var k))
                return new RelocationTarget(k.Value, k.Size, TargetKind.Absolute, k.Type == STT_TLS, s.Name);
            return new RelocationTarget(0, 0, TargetKind.UndefinedWeak, false, s.Name);
        }
    }
}

/// <summary>A symbol the linker defines for its own content (local and hidden, or global and protected like ld's __start_).</summary>
internal sealed record LinkerSymbol(string Name, ulong Value, bool Global);
