using E = UklLink.X86_64.RelocationExpression;
using M = UklLink.X86_64.WindowMove;
using O = UklLink.X86_64.OverflowCheck;
using T = UklLink.X86_64.RelocationTraits;

namespace UklLink.X86_64;

/// <summary>
/// The x86-64 relocation types (System V x86-64 psABI, table "Relocation Types"), as one table rather than switches:
/// every fact a pass needs about a type (field size, class, expression, overflow check, PC-relativity, GOT use,
/// relaxation, DWARF relevance, whether a syscall window may move it) is a column here, and the passes read it.
/// Columns: number, name, field size, class, expression (E), overflow check (O), traits (T), trampoline move (M), why unsupported.
/// </summary>
public static class RelocationTypes
{
    public const uint R_X86_64_NONE = 0, R_X86_64_64 = 1, R_X86_64_PC32 = 2, R_X86_64_GOT32 = 3, R_X86_64_PLT32 = 4,
        R_X86_64_COPY = 5, R_X86_64_GLOB_DAT = 6, R_X86_64_JUMP_SLOT = 7, R_X86_64_RELATIVE = 8, R_X86_64_GOTPCREL = 9,
        R_X86_64_32 = 10, R_X86_64_32S = 11, R_X86_64_16 = 12, R_X86_64_PC16 = 13, R_X86_64_8 = 14, R_X86_64_PC8 = 15,
        R_X86_64_DTPMOD64 = 16, R_X86_64_DTPOFF64 = 17, R_X86_64_TPOFF64 = 18, R_X86_64_TLSGD = 19, R_X86_64_TLSLD = 20,
        R_X86_64_DTPOFF32 = 21, R_X86_64_GOTTPOFF = 22, R_X86_64_TPOFF32 = 23, R_X86_64_PC64 = 24, R_X86_64_GOTOFF64 = 25,
        R_X86_64_GOTPC32 = 26, R_X86_64_GOT64 = 27, R_X86_64_GOTPCREL64 = 28, R_X86_64_GOTPC64 = 29, R_X86_64_GOTPLT64 = 30,
        R_X86_64_PLTOFF64 = 31, R_X86_64_SIZE32 = 32, R_X86_64_SIZE64 = 33, R_X86_64_GOTPC32_TLSDESC = 34,
        R_X86_64_TLSDESC_CALL = 35, R_X86_64_TLSDESC = 36, R_X86_64_IRELATIVE = 37, R_X86_64_RELATIVE64 = 38,
        R_X86_64_GOTPCRELX = 41, R_X86_64_REX_GOTPCRELX = 42;

    private const string Dynamic = "a dynamic relocation (only a dynamic linker applies it)";
    private const string GotBase = "a GOT entry offset (large-model PIC), whose entry order ukl-link does not reproduce";

    private static readonly RelocationType[] Table =
    {
        new(R_X86_64_NONE, "R_X86_64_NONE", 0, RelocationClass.None, E.None, O.None, T.None, M.Never),
        new(R_X86_64_64, "R_X86_64_64", 8, RelocationClass.Direct, E.Absolute, O.None, T.DwarfRelevant, M.UnlessBranchTarget),
        new(R_X86_64_PC32, "R_X86_64_PC32", 4, RelocationClass.Direct, E.PcRelative, O.Signed, T.PcRelative, M.RipDisplacementOrBranch),
        new(R_X86_64_GOT32, "R_X86_64_GOT32", 4, RelocationClass.Unsupported, E.Unsupported, O.None, T.None, M.Never, "a 32-bit GOT offset (small-model PIC)"),
        new(R_X86_64_PLT32, "R_X86_64_PLT32", 4, RelocationClass.Direct, E.PcRelative, O.Signed, T.PcRelative, M.RipDisplacementOrBranch),
        new(R_X86_64_COPY, "R_X86_64_COPY", 0, RelocationClass.Unsupported, E.Unsupported, O.None, T.None, M.Never, Dynamic),
        new(R_X86_64_GLOB_DAT, "R_X86_64_GLOB_DAT", 8, RelocationClass.Unsupported, E.Unsupported, O.None, T.None, M.Never, Dynamic),
        new(R_X86_64_JUMP_SLOT, "R_X86_64_JUMP_SLOT", 8, RelocationClass.Unsupported, E.Unsupported, O.None, T.None, M.Never, Dynamic),
        new(R_X86_64_RELATIVE, "R_X86_64_RELATIVE", 8, RelocationClass.Unsupported, E.Unsupported, O.None, T.None, M.Never, Dynamic),
        new(R_X86_64_GOTPCREL, "R_X86_64_GOTPCREL", 4, RelocationClass.Relaxable, E.GotEntryPcRelative, O.Signed, T.PcRelative | T.RewritesInstruction, M.RipDisplacement),
        new(R_X86_64_32, "R_X86_64_32", 4, RelocationClass.AbsoluteLow, E.Absolute, O.Unsigned, T.DwarfRelevant, M.UnlessBranchTarget),
        new(R_X86_64_32S, "R_X86_64_32S", 4, RelocationClass.Direct, E.Absolute, O.Signed, T.DwarfRelevant, M.UnlessBranchTarget),
        new(R_X86_64_16, "R_X86_64_16", 2, RelocationClass.AbsoluteLow, E.Absolute, O.Unsigned, T.None, M.Never),
        new(R_X86_64_PC16, "R_X86_64_PC16", 2, RelocationClass.Direct, E.PcRelative, O.Signed, T.PcRelative, M.Never),
        new(R_X86_64_8, "R_X86_64_8", 1, RelocationClass.AbsoluteLow, E.Absolute, O.Unsigned, T.None, M.Never),
        new(R_X86_64_PC8, "R_X86_64_PC8", 1, RelocationClass.Direct, E.PcRelative, O.Signed, T.PcRelative, M.Never),
        new(R_X86_64_DTPMOD64, "R_X86_64_DTPMOD64", 8, RelocationClass.Unsupported, E.Unsupported, O.None, T.None, M.Never, Dynamic),
        new(R_X86_64_DTPOFF64, "R_X86_64_DTPOFF64", 8, RelocationClass.TlsDirect, E.DtpOffset, O.None, T.DwarfRelevant, M.Never),
        new(R_X86_64_TPOFF64, "R_X86_64_TPOFF64", 8, RelocationClass.TlsDirect, E.TpOffset, O.None, T.None, M.Never),
        new(R_X86_64_TLSGD, "R_X86_64_TLSGD", 4, RelocationClass.Relaxable, E.TlsSequence, O.Signed, T.PcRelative | T.RewritesInstruction, M.Never),
        new(R_X86_64_TLSLD, "R_X86_64_TLSLD", 4, RelocationClass.Relaxable, E.TlsSequence, O.None, T.PcRelative | T.RewritesInstruction, M.Never),
        new(R_X86_64_DTPOFF32, "R_X86_64_DTPOFF32", 4, RelocationClass.TlsDirect, E.DtpOffset, O.Signed, T.DwarfRelevant, M.Never),
        new(R_X86_64_GOTTPOFF, "R_X86_64_GOTTPOFF", 4, RelocationClass.Relaxable, E.TlsSequence, O.Signed, T.PcRelative | T.RewritesInstruction, M.RipDisplacement),
        new(R_X86_64_TPOFF32, "R_X86_64_TPOFF32", 4, RelocationClass.TlsDirect, E.TpOffset, O.Signed, T.None, M.UnlessBranchTarget),
        new(R_X86_64_PC64, "R_X86_64_PC64", 8, RelocationClass.Direct, E.PcRelative, O.None, T.PcRelative, M.Never),
        new(R_X86_64_GOTOFF64, "R_X86_64_GOTOFF64", 8, RelocationClass.Direct, E.GotOffset, O.None, T.None, M.Never),
        new(R_X86_64_GOTPC32, "R_X86_64_GOTPC32", 4, RelocationClass.Direct, E.GotBasePcRelative, O.Signed, T.PcRelative, M.Never),
        new(R_X86_64_GOT64, "R_X86_64_GOT64", 8, RelocationClass.Unsupported, E.Unsupported, O.None, T.None, M.Never, GotBase),
        new(R_X86_64_GOTPCREL64, "R_X86_64_GOTPCREL64", 8, RelocationClass.Unsupported, E.Unsupported, O.None, T.None, M.Never, GotBase),
        new(R_X86_64_GOTPC64, "R_X86_64_GOTPC64", 8, RelocationClass.Direct, E.GotBasePcRelative, O.None, T.PcRelative, M.Never),
        new(R_X86_64_GOTPLT64, "R_X86_64_GOTPLT64", 8, RelocationClass.Unsupported, E.Unsupported, O.None, T.None, M.Never, GotBase),
        new(R_X86_64_PLTOFF64, "R_X86_64_PLTOFF64", 8, RelocationClass.Unsupported, E.Unsupported, O.None, T.None, M.Never, "a PLT offset (large-model PIC)"),
        new(R_X86_64_SIZE32, "R_X86_64_SIZE32", 4, RelocationClass.Direct, E.Size, O.Unsigned, T.None, M.UnlessBranchTarget),
        new(R_X86_64_SIZE64, "R_X86_64_SIZE64", 8, RelocationClass.Direct, E.Size, O.None, T.None, M.UnlessBranchTarget),
        new(R_X86_64_GOTPC32_TLSDESC, "R_X86_64_GOTPC32_TLSDESC", 4, RelocationClass.Unsupported, E.Unsupported, O.None, T.PcRelative, M.Never, "TLS descriptors (-mtls-dialect=gnu2) are not relaxed yet; use -mtls-dialect=gnu"),
        new(R_X86_64_TLSDESC_CALL, "R_X86_64_TLSDESC_CALL", 0, RelocationClass.Unsupported, E.Unsupported, O.None, T.None, M.Never, "TLS descriptors (-mtls-dialect=gnu2) are not relaxed yet; use -mtls-dialect=gnu"),
        new(R_X86_64_TLSDESC, "R_X86_64_TLSDESC", 16, RelocationClass.Unsupported, E.Unsupported, O.None, T.None, M.Never, Dynamic),
        new(R_X86_64_IRELATIVE, "R_X86_64_IRELATIVE", 8, RelocationClass.Unsupported, E.Unsupported, O.None, T.None, M.Never, "an IFUNC resolver relocation, never run in the kernel"),
        new(R_X86_64_RELATIVE64, "R_X86_64_RELATIVE64", 8, RelocationClass.Unsupported, E.Unsupported, O.None, T.None, M.Never, Dynamic),
        new(R_X86_64_GOTPCRELX, "R_X86_64_GOTPCRELX", 4, RelocationClass.Relaxable, E.GotEntryPcRelative, O.Signed, T.PcRelative | T.MarkedRelaxable | T.RewritesInstruction, M.RipDisplacement),
        new(R_X86_64_REX_GOTPCRELX, "R_X86_64_REX_GOTPCRELX", 4, RelocationClass.Relaxable, E.GotEntryPcRelative, O.Signed, T.PcRelative | T.MarkedRelaxable | T.RewritesInstruction, M.RipDisplacement),
    };

    private static readonly Dictionary<uint, RelocationType> ByNumber = Table.ToDictionary(t => t.Number);

    /// <summary>The type for a number; unknown numbers get an Unsupported entry named by the number.</summary>
    public static RelocationType Get(uint number) =>
        ByNumber.TryGetValue(number, out var t)
            ? t
            : new RelocationType(number, $"unknown relocation type {number}", 0, RelocationClass.Unsupported,
                RelocationExpression.Unsupported, OverflowCheck.None, RelocationTraits.None, WindowMove.Never, "not an x86-64 relocation type ukl-link knows");

    public static IReadOnlyList<RelocationType> All => Table;
}
