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
/// that some GOT relocation cannot be relaxed away from, .got.plt (three zero words, named by
/// _GLOBAL_OFFSET_TABLE_) once there is a GOT or a GOT-relative reference, and one COMMON block per object.
/// </summary>
internal sealed class LinkerMadeSections
{
    private readonly List<(SyntheticPiece Block, Dictionary<InputSymbol, ulong> Offsets)> _commonBlocks = new();

    public Dictionary<object, ulong> GotSlots { get; } = new();
    public SyntheticPiece? Got { get; private set; }
    public SyntheticPiece? GotPlt { get; private set; }
    public List<SyntheticPiece> Pieces { get; } = new();

    public static LinkerMadeSections Build(IReadOnlyList<InputSection> live, Resolution resolution, KernelImage kernel, IReadOnlySet<string> scriptNames)
    {
        var made = new LinkerMadeSections();
        // The GOT decision depends only on the instruction and the kind of target, not on addresses.
        var preliminary = new PreliminaryTargets(resolution, kernel, scriptNames);
        bool gotRelative = false;
        foreach (var section in live)
            foreach (var r in section.Relocations)
            {
                gotRelative |= r.Type is RelocationTypes.R_X86_64_GOTPC32 or RelocationTypes.R_X86_64_GOTPC64 or RelocationTypes.R_X86_64_GOTOFF64;
                if (r.Type is RelocationTypes.R_X86_64_GOTPCREL or RelocationTypes.R_X86_64_GOTPCRELX or RelocationTypes.R_X86_64_REX_GOTPCRELX
                    && Relocator.NeedsGotEntry(r, section.Data, preliminary.Resolve(r.Symbol)))
                {
                    var key = SymbolValues.GotKey(r.Symbol, resolution);
                    if (!made.GotSlots.ContainsKey(key))
                        made.GotSlots[key] = (ulong)made.GotSlots.Count * 8;
                }
            }
        if (made.GotSlots.Count > 0)
            made.Pieces.Add(made.Got = new SyntheticPiece(".got", (ulong)made.GotSlots.Count * 8, 8, SHF_ALLOC | SHF_WRITE, noBits: false));

        // COMMON: each object's winning commons form that object's own block, blocks in link order. (Inside a block
        // ld follows its symbol hash table; ukl-link uses the object's symbol-table order.)
        var linkIndex = resolution.Included.Select((o, i) => (o, i)).ToDictionary(x => x.o, x => x.i);
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

        if (made.GotSlots.Count > 0 || gotRelative || resolution.Referenced.Contains(LinkerDefinedSymbols.GlobalOffsetTable))
            made.Pieces.Add(made.GotPlt = new SyntheticPiece(".got.plt", 24, 8, SHF_ALLOC | SHF_WRITE, noBits: false) { Data = new byte[24] });
        return made;
    }

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

    /// <summary>Fills the GOT entries (addresses; TP offsets for TLS targets) into the .got's output image.</summary>
    public void WriteGot(IReadOnlyDictionary<OutputSection, byte[]> images, SymbolValues values)
    {
        if (Got?.Output is not { } output)
            return;
        var buffer = images[output];
        foreach (var (key, offset) in GotSlots)
        {
            var t = key is string name ? values.ResolveName(name, null) : values.Resolve((InputSymbol)key);
            ulong value = t.IsTls ? t.Value - (values.TlsStart + values.TlsSize) : t.Value;
            BinaryPrimitives.WriteUInt64LittleEndian(buffer.AsSpan((int)(Got.Address - output.Address + offset)), value);
        }
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
