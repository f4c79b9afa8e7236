namespace UklLink.Kernel;

/// <summary>
/// The names and numbers of the slot ABI, shared with the reference kernel (docs/slot-abi.md is the contract).
/// Version 1: the entry is reached by <c>call *%rcx</c>; the kernel declares no features. Version 2: the entry is
/// reached by <c>jmp *%rcx</c> with the resume address in <c>%r11</c>, and the descriptor's <c>features</c> word says
/// which runtime features the kernel has.
/// </summary>
public static class SlotAbi
{
    /// <summary>The newest slot ABI version this ukl-link speaks.</summary>
    public const uint Version = 2;

    /// <summary>Every version this ukl-link can link into.</summary>
    public static IReadOnlyList<uint> SupportedVersions { get; } = [1, 2];

    /// <summary>
    /// Bits of the descriptor's <c>features</c> word (slot ABI v2, set by the kernel build, read-only for ukl-link).
    /// </summary>
    public static class Features
    {
        /// <summary>
        /// Interrupts and exceptions that hit the application are delivered on a kernel stack and the entry never
        /// writes below the application's %rsp: code that uses the red zone is safe, stacks need no pinning.
        /// </summary>
        public const ulong EventStack = 1UL << 0;

        /// <summary>Each UKL process has its own copy-on-write .data and .bss (the data and bss slots are per-mm).</summary>
        public const ulong PerProcessData = 1UL << 1;

        /// <summary>The kernel exports direct entries for known syscall numbers (<c>ukl-link link --bypass</c>).</summary>
        public const ulong Bypass = 1UL << 2;
    }
    public const string DescriptorSymbol = "ukl_descriptor";
    public const int DescriptorSize = 192;
    public const ulong AppMagic = 0x31305050414C4B55; // "UKLAPP01" little-endian
    public const string SyscallEntrySymbol = "ukl_entry_SYSCALL_64";

    /// <summary>
    /// A kernel with <see cref="Features.Bypass"/> defines <c>ukl_bypass_&lt;nr&gt;</c> (the number in decimal) for each
    /// system call it answers without its dispatch (docs/slot-abi.md §4): the same register contract as
    /// <see cref="SyscallEntrySymbol"/>, and it takes the full path itself when %rax is not that number.
    /// </summary>
    public const string BypassEntryPrefix = "ukl_bypass_";

    /// <summary>Whether a trampoline entering through <paramref name="entry"/> bypasses (any entry but the syscall entry).</summary>
    public static bool IsBypassEntry(string? entry) => entry is not null && entry != SyscallEntrySymbol;

    /// <summary>The highest system call number whose bypass entry ukl-link looks for.</summary>
    public const int MaxBypassNumber = 511;

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
            BssEnd = 0x88, StackSize = 0x90, Flags = 0x98, Features = 0xA0;
    }
}

/// <summary>A slot's role and the symbols that bound it, plus the kernel option that sizes it.</summary>
public sealed record SlotName(string Role, string StartSymbol, string EndSymbol, string ConfigOption);
