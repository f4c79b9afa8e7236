namespace UklLink.X86_64;

public enum TargetKind
{
    /// <summary>Defined in an application section (placed): its address moves with the layout.</summary>
    Section,

    /// <summary>An absolute value: kernel symbols (as GNU ld sees them through --just-symbols), SHN_ABS symbols.</summary>
    Absolute,

    /// <summary>An undefined weak reference: the value is 0.</summary>
    UndefinedWeak,

    /// <summary>Defined in a section the link discarded.</summary>
    Discarded,

    /// <summary>
    /// An IFUNC without a PLT entry: a static pointer to it is filled by its R_X86_64_IRELATIVE relocation at start-up
    /// (the field is left alone), a GOT reference uses its .got entry; anything else cannot reach it.
    /// </summary>
    IndirectAtStartup,
}

/// <summary>What a relocation's symbol resolved to: value (address, or TLS address), size, and kind.</summary>
public readonly record struct RelocationTarget(ulong Value, ulong Size, TargetKind Kind, bool IsTls, string Name)
{
    /// <summary>
    /// Replaces the relocation's addend when the target is a merged string: GNU ld maps a section symbol's
    /// value + addend to the string's new place and then adds nothing more.
    /// </summary>
    public long? AddendOverride { get; init; }

    /// <summary>The target is an IFUNC: GOT references to it are never relaxed (ld leaves them to the GOT).</summary>
    public bool IsIndirect { get; init; }
}
