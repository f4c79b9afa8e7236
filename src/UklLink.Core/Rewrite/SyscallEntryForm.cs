using UklLink.Kernel;

namespace UklLink.Rewrite;

/// <summary>
/// How a trampoline enters <c>ukl_entry_SYSCALL_64</c> (docs/slot-abi.md §4). The kernel's slot ABI version decides:
/// the entry of a v1 kernel is called, the entry of a v2 kernel is jumped to with the resume address in %r11.
/// </summary>
public enum SyscallEntryForm
{
    /// <summary>Slot ABI v1: <c>mov $ukl_entry_SYSCALL_64, %rcx; call *%rcx</c> (FF D1). The call writes the return
    /// address below the application's %rsp, into its red zone.</summary>
    CallRcx,

    /// <summary>Slot ABI v2: <c>lea resume(%rip), %r11; mov $ukl_entry_SYSCALL_64, %rcx; jmp *%rcx</c> (FF E1), the
    /// moved instructions after the syscall at <c>resume</c>. Nothing is written below %rsp.</summary>
    JumpRcx,
}

/// <summary>The form each slot ABI version expects, and how the link map names it.</summary>
public static class SyscallEntryForms
{
    public static SyscallEntryForm ForAbiVersion(uint version) => version >= 2 ? SyscallEntryForm.JumpRcx : SyscallEntryForm.CallRcx;

    /// <summary>The instructions that enter the kernel, as the link map and -v show them.</summary>
    public static string Describe(SyscallEntryForm form) => form switch
    {
        SyscallEntryForm.CallRcx => $"mov ${SlotAbi.SyscallEntrySymbol}, %rcx; call *%rcx (slot ABI v1)",
        _ => $"lea resume(%rip), %r11; mov ${SlotAbi.SyscallEntrySymbol}, %rcx; jmp *%rcx (slot ABI v2)",
    };

    /// <summary>The 2 bytes of the instruction that enters the kernel, which a restart (ip -= 2) re-executes.</summary>
    public static byte[] EnterBytes(SyscallEntryForm form) => form == SyscallEntryForm.CallRcx ? [0xFF, 0xD1] : [0xFF, 0xE1];
}
