namespace UklLink.X86_64;

/// <summary>What a relocation type means for a kernel-model link: the validate rules and the linker switch on this.</summary>
public enum RelocationClass
{
    /// <summary>R_X86_64_NONE.</summary>
    None,
    /// <summary>Reaches any address of the kernel's top 2 GiB (64-bit absolute, 32S, PC-relative, size).</summary>
    Direct,
    /// <summary>Absolute zero-extended 32/16/8-bit: cannot hold a kernel address (0xffffffff8xxxxxxx).</summary>
    AbsoluteLow,
    /// <summary>GOT-relative or TLS access sequence the linker relaxes to a direct form (GOTPCREL*, TLSGD/LD, GOTTPOFF).</summary>
    Relaxable,
    /// <summary>TLS offset applied directly (TPOFF32/64, DTPOFF32/64).</summary>
    TlsDirect,
    /// <summary>Only a dynamic linker or a GOT/PLT base can satisfy it; ukl-link rejects it.</summary>
    Unsupported,
}
