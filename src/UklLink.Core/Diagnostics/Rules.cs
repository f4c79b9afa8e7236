namespace UklLink.Diagnostics;

/// <summary>
/// Every rule ukl-link reports. Ids are stable: never renumber or reuse, only add. docs/rules.md describes each one.
/// </summary>
public static class Rules
{
    public static readonly Rule AddressCannotReachKernel = new(
        "UKL001", "absolute-relocation-out-of-kernel-range", Severity.Error,
        "A relocation in allocated code or data stores an absolute address in a field that cannot hold an address in the kernel's top 2 GiB.",
        "compile with -mcmodel=kernel (and -fno-pic -fno-pie)");

    public static readonly Rule RedZoneUse = new(
        "UKL002", "red-zone-use", Severity.Error,
        "Code reads or writes the stack below %rsp without first moving %rsp; in ring 0 interrupts and the kernel entry overwrite that area.",
        "compile with -mno-red-zone");

    public static readonly Rule RedZoneFlagMissing = new(
        "UKL003", "compiled-without-mno-red-zone", Severity.Error,
        "The compiler's recorded command line (DWARF DW_AT_producer) lacks -mno-red-zone, so any leaf function may use the red zone.",
        "compile with -mno-red-zone");

    public static readonly Rule RelaxableConstruct = new(
        "UKL004", "relaxable-pic-construct", Severity.Note,
        "A position-independent or TLS access sequence (GOTPCREL, TLS GD/LD/IE) that the linker relaxes to a direct form.",
        null, VerboseOnly: true);

    public static readonly Rule UnsupportedRelocation = new(
        "UKL005", "unsupported-relocation", Severity.Error,
        "A relocation type ukl-link cannot apply in a statically linked kernel image (dynamic, PLT/GOT-offset or unknown types).",
        "build static, non-PIC code: -fno-pic -fno-pie -mcmodel=kernel");

    public static readonly Rule IndirectFunction = new(
        "UKL006", "ifunc-resolved-at-start-up", Severity.Note,
        "An STT_GNU_IFUNC symbol: the link gives it what GNU ld gives it in a static link (a PLT entry in .iplt, a slot in .igot.plt, an R_X86_64_IRELATIVE relocation between __rela_iplt_start and __rela_iplt_end), and the C library's static start-up calls the resolver (glibc's apply_irel does; musl has no IFUNC support, and freestanding start-up code must apply the relocations itself).",
        null, VerboseOnly: true);

    public static readonly Rule LegacyConstructors = new(
        "UKL007", "legacy-constructors", Severity.Note,
        "Legacy .ctors/.dtors sections: the link puts their entries, reversed, into .init_array/.fini_array as GNU ld does (except crtbegin's and crtend's own lists), so they run with the others.",
        null, VerboseOnly: true);

    public static readonly Rule SyscallSites = new(
        "UKL008", "syscall-instructions", Severity.Note,
        "The object executes `syscall` instructions; `ukl-link link` rewrites each into a call to ukl_entry_SYSCALL_64.",
        null);

    public static readonly Rule WrongObjectKind = new(
        "UKL009", "not-x86-64-relocatable", Severity.Error,
        "The input is an ELF file but not a 64-bit little-endian x86-64 relocatable object (ET_REL).",
        "pass objects compiled for x86-64 with -c (or partially linked with ld -r)");

    public static readonly Rule UndefinedSymbol = new(
        "UKL010", "undefined-symbol", Severity.Error,
        "A symbol is referenced but defined neither by the application's inputs nor by the kernel.",
        "add the object or archive that defines it, or check the spelling");

    public static readonly Rule KernelDescriptor = new(
        "UKL011", "kernel-descriptor", Severity.Note,
        "Whether the kernel image carries the UKL slot descriptor, and which slot ABI version it speaks.",
        null);

    public static readonly Rule KernelNotUkl = new(
        "UKL012", "kernel-without-ukl-slots", Severity.Error,
        "The kernel image has no UKL slot descriptor or slots, or speaks an unsupported slot ABI version.",
        "build the kernel with CONFIG_UNIKERNEL_LINUX=y (kernel/build)");

    public static readonly Rule DuplicateDefinition = new(
        "UKL013", "duplicate-symbol", Severity.Error,
        "Two application objects define the same global symbol.",
        "remove one definition or make one of them static");

    public static readonly Rule LinkerCreatedSection = new(
        "UKL014", "unsupported-section", Severity.Error,
        "The object contains a section kind that only a final or dynamic link creates (.got, .plt, .dynamic, .interp, ...).",
        "pass objects from `gcc -c` or `ld -r`, not executables or shared objects");

    public static readonly Rule ExecutableStack = new(
        "UKL015", "executable-stack", Severity.Warning,
        "The object asks for an executable stack (.note.GNU-stack with the x flag, e.g. for nested-function trampolines); UKL application stacks are never executable.",
        "avoid nested functions that need trampolines, or assemble with .section .note.GNU-stack,\"\",@progbits");

    public static readonly Rule SyscallIntFallback = new(
        "UKL016", "syscall-int-fallback", Severity.Warning,
        "A syscall site offered no safe 5-byte window for a jump to a trampoline, so it was rewritten in place to `int $0x81`, which is slower and needs the kernel's UKL trap gate.",
        "usually hand-written assembly with a label or branch target next to the syscall; move the label, or put a `mov $nr, %eax` right before the syscall");

    public static readonly Rule SyscallNotRewritten = new(
        "UKL017", "syscall-bytes-not-rewritten", Severity.Warning,
        "Bytes 0f 05 that decode as `syscall` on some path were not proven to be reachable code (data in a code section, or code reached only by a computed jump) and were left unchanged; if they do execute, the application issues a real `syscall` in ring 0.",
        "give the code a function symbol, or move data out of executable sections");

    public static readonly Rule SlotTooSmall = new(
        "UKL020", "slot-too-small", Severity.Error,
        "The application's sections for one slot need more bytes than the kernel reserved for that slot.",
        "rebuild the kernel with a bigger CONFIG_UKL_*_SLOT_SIZE (kernel/ukl.config)");

    public static readonly Rule RelocationOverflow = new(
        "UKL021", "relocation-out-of-range", Severity.Error,
        "A relocated value does not fit the field its relocation type defines.",
        "compile with -mcmodel=kernel, or check that the symbol lies where the code expects it");

    public static readonly Rule OrphanSection = new(
        "UKL022", "section-not-placed", Severity.Error,
        "An allocatable input section matches no rule of the linker script, so ukl-link does not know which slot it belongs to.",
        "add a pattern for it to the linker script (or /DISCARD/ it)");

    public static readonly Rule ScriptError = new(
        "UKL023", "linker-script-error", Severity.Error,
        "The linker script cannot be evaluated, places a section outside the slots, or an ASSERT failed.",
        null);

    public static readonly Rule MissingEntry = new(
        "UKL024", "entry-undefined", Severity.Error,
        "The entry symbol (ENTRY in the script, --entry, default _start) is not defined by the application.",
        "define _start or pass --entry SYMBOL");

    public static readonly Rule UnrelaxableSequence = new(
        "UKL025", "unrecognised-relaxation-sequence", Severity.Error,
        "A TLS or GOT relocation sits in an instruction sequence the linker cannot rewrite to the static form.",
        "compile with -mcmodel=kernel -fno-pic -fno-pie (or -ftls-model=local-exec)");

    public static readonly Rule DiscardedReference = new(
        "UKL026", "reference-to-discarded-section", Severity.Error,
        "Allocated code or data refers to a section that the link discarded (a COMDAT duplicate or a /DISCARD/ rule).",
        null);

    public static readonly Rule KernelWithoutSyscallEntry = new(
        "UKL027", "kernel-without-syscall-entry", Severity.Error,
        "The application has syscall sites to rewrite but the kernel does not define ukl_entry_SYSCALL_64, the entry the rewritten sites call.",
        "use a kernel built from this project's kernel/ patches (kernel/build), or link with --no-syscall-rewrite");

    public static readonly Rule LinkWarning = new(
        "UKL028", "link-warning", Severity.Warning,
        "A linked object carries a .gnu.warning.SYMBOL section for a symbol the application uses: the library's own warning, which GNU ld prints too (glibc's, for example, that getaddrinfo in a static program needs the shared NSS libraries at run time).",
        null);

    public static readonly Rule EhFrameHeaderInvalid = new(
        "UKL029", "eh-frame-hdr-invalid", Severity.Error,
        "The .eh_frame_hdr search table cannot be made: two FDEs cover overlapping code, or an entry is more than 2 GiB from the header. GNU ld fails such a link too.",
        "fix the unwind information of the objects named (hand-written .cfi directives), or place .eh_frame_hdr near the code");

    public static readonly Rule BypassUnavailable = new(
        "UKL030", "bypass-unavailable", Severity.Note,
        "`link --bypass` was asked for, but the kernel's descriptor does not announce bypass entries (slot ABI feature bit 2) or defines none: every syscall site enters through ukl_entry_SYSCALL_64, as without --bypass.",
        "use a kernel built from this project's kernel/ patches (0022 or later)");

    /// <summary>All rules, in id order (the SARIF rule table uses this order).</summary>
    public static IReadOnlyList<Rule> All { get; } = new[]
    {
        AddressCannotReachKernel, RedZoneUse, RedZoneFlagMissing, RelaxableConstruct, UnsupportedRelocation,
        IndirectFunction, LegacyConstructors, SyscallSites, WrongObjectKind, UndefinedSymbol, KernelDescriptor,
        KernelNotUkl, DuplicateDefinition, LinkerCreatedSection, ExecutableStack, SyscallIntFallback, SyscallNotRewritten,
        SlotTooSmall, RelocationOverflow, OrphanSection, ScriptError, MissingEntry, UnrelaxableSequence, DiscardedReference,
        KernelWithoutSyscallEntry, LinkWarning, EhFrameHeaderInvalid, BypassUnavailable,
    };
}
