namespace UklLink.X86_64;

/// <summary>
/// An x86-64 relocation type and every fact about it the passes read: its psABI number and name, the width of the field
/// it patches, its class (what validate says and the linker does), the expression the field holds, how an overflow is
/// checked, the traits below, and whether an instruction carrying it can move into a syscall trampoline.
/// </summary>
public sealed record RelocationType(uint Number, string Name, int FieldSize, RelocationClass Class,
    RelocationExpression Expression, OverflowCheck Overflow, RelocationTraits Traits, WindowMove Move, string? Why = null)
{
    /// <summary>The field holds a distance from its own address (S+A-P, GOT+A-P, a GOT entry or a TLS sequence's).</summary>
    public bool PcRelative => (Traits & RelocationTraits.PcRelative) != 0;

    /// <summary>GOTPCREL, GOTPCRELX, REX_GOTPCRELX: a load through a GOT entry, which the linker relaxes when it can.</summary>
    public bool GotLoad => Expression == RelocationExpression.GotEntryPcRelative;

    /// <summary>GOTPCRELX and REX_GOTPCRELX: the assembler marked the instruction, so every psABI relaxation may apply (not only mov to lea).</summary>
    public bool RelaxableGotLoad => (Traits & RelocationTraits.MarkedRelaxable) != 0;

    /// <summary>The field is relative to the GOT's base (GOTPC32/64, GOTOFF64): the link needs a _GLOBAL_OFFSET_TABLE_.</summary>
    public bool UsesGotBase => Expression is RelocationExpression.GotBasePcRelative or RelocationExpression.GotOffset;

    /// <summary>Relaxing it may rewrite the instruction's opcode and ModRM bytes, not only the field.</summary>
    public bool RewritesInstruction => (Traits & RelocationTraits.RewritesInstruction) != 0;

    /// <summary>DWARF uses it for addresses and TLS offsets; the source map applies these to .debug_* sections.</summary>
    public bool DwarfRelevant => (Traits & RelocationTraits.DwarfRelevant) != 0;

    /// <summary>An absolute address at least 32 bits wide: in code with no owning instruction it is a code pointer.</summary>
    public bool AbsoluteAddress => Expression == RelocationExpression.Absolute && FieldSize >= 4;
}

/// <summary>The value a relocation's field holds (psABI notation: S symbol, A addend, P place, Z size, GOT base, G entry).</summary>
public enum RelocationExpression
{
    /// <summary>No field (NONE, TLSDESC_CALL) or nothing ukl-link computes.</summary>
    None,
    /// <summary>S + A.</summary>
    Absolute,
    /// <summary>S + A - P.</summary>
    PcRelative,
    /// <summary>Z + A.</summary>
    Size,
    /// <summary>S + A - TP (the thread pointer; variant II).</summary>
    TpOffset,
    /// <summary>S + A - the TLS block start (TP offset in code after LD→LE).</summary>
    DtpOffset,
    /// <summary>G + GOT + A - P, relaxed to S + A - P or an immediate when the instruction allows.</summary>
    GotEntryPcRelative,
    /// <summary>GOT + A - P.</summary>
    GotBasePcRelative,
    /// <summary>S + A - GOT.</summary>
    GotOffset,
    /// <summary>A TLS access sequence (TLSGD, TLSLD, GOTTPOFF) relaxed to local-exec.</summary>
    TlsSequence,
    /// <summary>Only a dynamic linker or a GOT/PLT layout ukl-link does not build could compute it.</summary>
    Unsupported,
}

/// <summary>How a written value is checked against its field.</summary>
public enum OverflowCheck
{
    /// <summary>64-bit or no field: every value fits.</summary>
    None,
    /// <summary>The value must fit the field sign-extended.</summary>
    Signed,
    /// <summary>The value must fit the field zero-extended.</summary>
    Unsigned,
}

/// <summary>Yes/no facts about a relocation type.</summary>
[Flags]
public enum RelocationTraits
{
    None = 0,
    PcRelative = 1,
    MarkedRelaxable = 2,
    RewritesInstruction = 4,
    DwarfRelevant = 8,
}

/// <summary>Where in an instruction a relocation may sit for the instruction to move into a syscall trampoline.</summary>
public enum WindowMove
{
    /// <summary>Never moves (its value or its sequence depends on where the instruction is).</summary>
    Never,
    /// <summary>An absolute value: moves anywhere except as a direct branch's target.</summary>
    UnlessBranchTarget,
    /// <summary>S + A - P: moves as a RIP-relative displacement or a direct branch's target (the addend is adjusted).</summary>
    RipDisplacementOrBranch,
    /// <summary>A GOT or TLS load: moves only as a RIP-relative displacement with the same bytes before it (the linker's relaxation reads them).</summary>
    RipDisplacement,
}
