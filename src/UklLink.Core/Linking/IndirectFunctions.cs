using System.Buffers.Binary;
using UklLink.Inputs;
using UklLink.Layout;
using UklLink.X86_64;
using static UklLink.Inputs.ElfConstants;
using static UklLink.X86_64.RelocationTypes;

namespace UklLink.Linking;

/// <summary>
/// What the references to one STT_GNU_IFUNC definition need, found the way ld's elf_x86_64_check_relocs finds it,
/// and what ld's _bfd_elf_allocate_ifunc_dyn_relocs then gives it in a static, position-dependent link.
/// </summary>
internal sealed class IndirectFunction(GotKey key, InputSymbol definition)
{
    /// <summary>The GOT key: the global name, or the local symbol.</summary>
    public GotKey Key { get; } = key;

    /// <summary>The resolver: the IFUNC symbol's value is the function that returns the implementation's address.</summary>
    public InputSymbol Definition { get; } = definition;

    /// <summary>A call or a PC-relative/absolute reference from code or read-only data: the function needs a PLT entry.</summary>
    public bool PltReferenced { get; set; }

    /// <summary>A GOTPCREL reference (never relaxed for an IFUNC).</summary>
    public bool GotReferenced { get; set; }

    /// <summary>An address is taken where it must equal every other: then a .got entry holds the PLT entry's address.</summary>
    public bool PointerEquality { get; set; }

    /// <summary>R_X86_64_64 in writable data: with no PLT entry each becomes an IRELATIVE relocation of its own.</summary>
    public List<InputRelocation> StaticPointers { get; } = new();

    /// <summary>Index of the .iplt entry and of its .igot.plt slot, or -1 without one.</summary>
    public int PltIndex { get; set; } = -1;

    public bool HasPlt => PltIndex >= 0;

    /// <summary>GOT references use the .igot.plt slot.</summary>
    public bool GotUsesPltSlot => HasPlt && GotReferenced && !HasGotEntry;

    /// <summary>A .got entry of its own: the PLT entry's address (pointer equality), or 0 and an IRELATIVE without a PLT.</summary>
    public bool HasGotEntry { get; set; }

    public static bool Is(InputSymbol definition) => definition.Type == STT_GNU_IFUNC && definition.IsDefined && !definition.IsAbsolute && !definition.IsCommon;

    /// <summary>Records one relocation against the function, as check_relocs does for a position-dependent executable.</summary>
    public void Note(InputRelocation r)
    {
        var section = r.Section;
        bool code = section.IsExecutable;
        bool readOnly = !section.IsWritable;
        switch (r.Type)
        {
            case var t when Get(t).GotLoad:
                GotReferenced = true;
                break;
            case R_X86_64_PLT32:
            case R_X86_64_GOTOFF64:
                PltReferenced = true;
                break;
            case R_X86_64_PC32:
                PointerEquality |= !code;
                PltReferenced |= code || readOnly;
                break;
            case R_X86_64_PC64:
                PltReferenced |= code || readOnly;
                break;
            case R_X86_64_64:
                PointerEquality = true;
                if (!code && !readOnly)
                    StaticPointers.Add(r);
                else
                    PltReferenced = true;
                break;
            case R_X86_64_32:
            case R_X86_64_32S:
            case R_X86_64_16:
            case R_X86_64_8:
            case R_X86_64_PC16:
            case R_X86_64_PC8:
                PointerEquality = true;
                PltReferenced |= code || readOnly;
                break;
        }
    }

    /// <summary>
    /// The IRELATIVE relocations this function contributes besides its PLT slot's: one per static pointer and one for a
    /// .got entry, both only when there is no PLT entry (otherwise they hold the PLT entry's address).
    /// </summary>
    public int ExtraRelocations => HasPlt ? 0 : StaticPointers.Count + (HasGotEntry ? 1 : 0);
}

/// <summary>
/// The three sections ld makes for IFUNCs in a static link: .iplt (one 8-byte <c>jmp *slot(%rip); xchg %ax,%ax</c>
/// per function called through a PLT), .igot.plt (its slots) and .rela.iplt (R_X86_64_IRELATIVE entries that the C
/// library's static start-up applies between __rela_iplt_start and __rela_iplt_end: glibc's apply_irel calls each
/// resolver and stores the result). Relocations of static pointers come first in link order, then .got entries,
/// both counted up from the start; the PLT slots' relocations are counted down from the end (ld's
/// next_irelative_index), in the order of ld's symbol table.
/// </summary>
internal sealed class IndirectFunctionSections
{
    public const int PltEntrySize = 8;
    public const int RelaSize = 24;
    private static readonly byte[] PltEntry = [0xff, 0x25, 0, 0, 0, 0, 0x66, 0x90];

    public IndirectFunctionSections(IReadOnlyList<IndirectFunction> withPlt, IReadOnlyList<IndirectFunction> inFinishOrder, int relocationCount)
    {
        Plt = withPlt;
        FinishOrder = inFinishOrder;
        if (withPlt.Count > 0)
        {
            Iplt = new SyntheticPiece(".iplt", (ulong)(withPlt.Count * PltEntrySize), 8, SHF_ALLOC | SHF_EXECINSTR, noBits: false);
            IgotPlt = new SyntheticPiece(".igot.plt", (ulong)(withPlt.Count * 8), 8, SHF_ALLOC | SHF_WRITE, noBits: false);
        }
        if (relocationCount > 0)
            RelaIplt = new SyntheticPiece(".rela.iplt", (ulong)(relocationCount * RelaSize), 8, SHF_ALLOC | SHF_INFO_LINK, noBits: false);
    }

    /// <summary>Functions with a PLT entry, in PLT order.</summary>
    public IReadOnlyList<IndirectFunction> Plt { get; }

    /// <summary>Every function, in the order ld finishes them (its symbol table's), which orders the relocations.</summary>
    public IReadOnlyList<IndirectFunction> FinishOrder { get; }

    public SyntheticPiece? Iplt { get; }
    public SyntheticPiece? IgotPlt { get; }
    public SyntheticPiece? RelaIplt { get; }

    public IEnumerable<SyntheticPiece> Pieces => new[] { Iplt, IgotPlt, RelaIplt }.OfType<SyntheticPiece>();

    public ulong PltAddress(IndirectFunction f) => Iplt!.Address + (ulong)(f.PltIndex * PltEntrySize);

    public ulong SlotAddress(IndirectFunction f) => IgotPlt!.Address + (ulong)(f.PltIndex * 8);

    /// <summary>
    /// Fills .iplt, .igot.plt and .rela.iplt into their output images. <paramref name="resolver"/> gives a function's
    /// resolver address, <paramref name="gotEntry"/> the address of its .got entry, <paramref name="placeOf"/> where a
    /// static pointer's field ended up; <paramref name="staticPointerOrder"/> lists the static pointers in the order
    /// ld relocates them.
    /// </summary>
    public void Write(IReadOnlyDictionary<OutputSection, byte[]> images, Func<IndirectFunction, ulong> resolver,
        Func<IndirectFunction, ulong> gotEntry, Func<InputRelocation, ulong> placeOf, IEnumerable<(IndirectFunction Function, InputRelocation Pointer)> staticPointerOrder)
    {
        if (Iplt is not null && IgotPlt is not null)
        {
            var plt = Span(images, Iplt);
            var slots = Span(images, IgotPlt);
            foreach (var f in Plt)
            {
                var entry = plt.Slice(f.PltIndex * PltEntrySize, PltEntrySize);
                PltEntry.CopyTo(entry);
                ulong at = PltAddress(f);
                BinaryPrimitives.WriteInt32LittleEndian(entry[2..], (int)(long)(SlotAddress(f) - (at + 6)));
                // ld fills the slot as for a lazy PLT, with the address after the entry's jmp (its IRELATIVE
                // relocation replaces it at start-up).
                BinaryPrimitives.WriteUInt64LittleEndian(slots[(f.PltIndex * 8)..], at + 6);
            }
        }
        if (RelaIplt is null)
            return;
        var output = images[RelaIplt.Output!];
        int start = (int)(RelaIplt.Address - RelaIplt.Output!.Address);
        int count = (int)(RelaIplt.Size / RelaSize), up = 0, down = count - 1;
        void Put(int index, ulong offset, ulong addend)
        {
            var e = output.AsSpan(start + index * RelaSize, RelaSize);
            BinaryPrimitives.WriteUInt64LittleEndian(e, offset);
            BinaryPrimitives.WriteUInt64LittleEndian(e[8..], R_X86_64_IRELATIVE);
            BinaryPrimitives.WriteUInt64LittleEndian(e[16..], addend);
        }
        foreach (var (f, pointer) in staticPointerOrder)
            Put(up++, placeOf(pointer), resolver(f));
        foreach (var f in FinishOrder)
        {
            if (f.HasPlt)
                Put(down--, SlotAddress(f), resolver(f));
            else if (f.HasGotEntry)
                Put(up++, gotEntry(f), resolver(f));
        }
    }

    private static Span<byte> Span(IReadOnlyDictionary<OutputSection, byte[]> images, SyntheticPiece piece) =>
        images[piece.Output!].AsSpan((int)(piece.Address - piece.Output!.Address), (int)piece.Size);
}
