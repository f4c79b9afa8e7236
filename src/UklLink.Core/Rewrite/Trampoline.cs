namespace UklLink.Rewrite;

/// <summary>
/// Code that replaces one syscall site's window: the moved instructions, re-encoded, around the kernel entry
/// (<see cref="SyscallEntryForm"/>: <c>mov $ukl_entry_SYSCALL_64, %rcx; call *%rcx</c> for a v1 kernel,
/// <c>lea resume(%rip), %r11; mov $ukl_entry_SYSCALL_64, %rcx; jmp *%rcx</c> for a v2 kernel), then a jump back to
/// the end of the window (unless the moved code ends in a ret or jmp). Position-independent except through
/// <see cref="Relocations"/>, whose offsets are relative to the start of <see cref="Code"/>.
/// </summary>
public sealed record Trampoline(int Index, ulong SiteOffset, byte[] Code, IReadOnlyList<RewriteRelocation> Relocations)
{
    /// <summary>Suggested alignment when the linker places trampolines (any alignment is correct).</summary>
    public const int PreferredAlignment = 16;

    /// <summary>Offset within <see cref="Code"/> of the 2-byte <c>call *%rcx</c> or <c>jmp *%rcx</c>: the instruction
    /// that enters the kernel, which a restart re-executes.</summary>
    public int EntryOffset { get; init; }

    /// <summary>The kernel symbol the trampoline enters through: the syscall entry, or a bypass entry.</summary>
    public string EntrySymbol { get; init; } = UklLink.Kernel.SlotAbi.SyscallEntrySymbol;

    /// <summary>The system call number the site passes, when the code before it makes it a constant (<see cref="SyscallNumber"/>).</summary>
    public int? SyscallNumber { get; init; }

    /// <summary>Whether the trampoline enters through a bypass entry (<c>--bypass</c>).</summary>
    public bool Bypass => UklLink.Kernel.SlotAbi.IsBypassEntry(EntrySymbol);
}
