namespace UklLink.Symbols;

/// <summary>
/// Symbols the default UKL linker script defines, so references to them are never undefined
/// (the UKL C library finds its TLS template and constructors through them).
/// </summary>
public static class LinkerDefinedSymbols
{
    public static IReadOnlySet<string> Names { get; } = new HashSet<string>(StringComparer.Ordinal)
    {
        "__tls_data_start", "__tls_data_end", "__tls_bss_start", "__tls_bss_end",
        "__init_array_start", "__init_array_end", "__preinit_array_start", "__preinit_array_end",
        "__fini_array_start", "__fini_array_end", "__rela_iplt_start", "__rela_iplt_end",
        "_GLOBAL_OFFSET_TABLE_", "__ehdr_start",
    };
}
