namespace UklLink.Kernel;

/// <summary>
/// The names and numbers of slot ABI v1, shared with the reference kernel (docs/slot-abi.md is the contract).
/// </summary>
public static class SlotAbi
{
    public const uint Version = 1;
    public const string DescriptorSymbol = "ukl_descriptor";
    public const int DescriptorSize = 192;
    public const ulong AppMagic = 0x31305050414C4B55; // "UKLAPP01" little-endian
    public const string SyscallEntrySymbol = "ukl_entry_SYSCALL_64";

    /// <summary>
    /// The vector of the in-place fallback <c>int $0x81</c> (CD 81) for syscall sites without room for a jump
    /// (docs/slot-abi.md §4). The kernel reserves it in system_vectors and installs a DPL0 gate for it.
    /// </summary>
    public const byte SyscallTrapVector = 0x81;

    public static readonly SlotName Text = new("text", "__ukl_text_slot_start", "__ukl_text_slot_end", "CONFIG_UKL_TEXT_SLOT_SIZE");
    public static readonly SlotName Rodata = new("rodata", "__ukl_rodata_slot_start", "__ukl_rodata_slot_end", "CONFIG_UKL_RODATA_SLOT_SIZE");
    public static readonly SlotName Data = new("data", "__ukl_data_slot_start", "__ukl_data_slot_end", "CONFIG_UKL_DATA_SLOT_SIZE");
    public static readonly SlotName Bss = new("bss", "__ukl_bss_slot_start", "__ukl_bss_slot_end", "CONFIG_UKL_BSS_SLOT_SIZE");

    public static IReadOnlyList<SlotName> Slots { get; } = new[] { Text, Rodata, Data, Bss };

    /// <summary>Byte offsets of the descriptor's fields (all little-endian).</summary>
    public static class Offsets
    {
        public const int Magic = 0x00, AbiVersion = 0x08, Size = 0x0C, Entry = 0x10, TlsImage = 0x18, TlsFileSize = 0x20,
            TlsMemSize = 0x28, TlsAlign = 0x30, Phdr = 0x38, Phnum = 0x40, Phentsize = 0x48, TextStart = 0x50,
            TextEnd = 0x58, RodataStart = 0x60, RodataEnd = 0x68, DataStart = 0x70, DataEnd = 0x78, BssStart = 0x80,
            BssEnd = 0x88, StackSize = 0x90, Flags = 0x98;
    }
}

/// <summary>A slot's role and the symbols that bound it, plus the kernel option that sizes it.</summary>
public sealed record SlotName(string Role, string StartSymbol, string EndSymbol, string ConfigOption);
