namespace UklLink.Tests.Support;

/// <summary>
/// A tiny stand-in vmlinux, linked by GNU ld at the kernel's address with the slot ABI's symbols and descriptor, so
/// the kernel-facing rules can be tested in seconds. The real kernel is tested in UklLink.Kernel.Tests.
/// </summary>
public static class FakeKernel
{
    /// <param name="abiVersion">The descriptor's abi_version, or null for a kernel without descriptor and slots.</param>
    /// <param name="exportedSymbols">Extra global functions the kernel defines.</param>
    public static string Build(uint? abiVersion = 1, params string[] exportedSymbols) => Build(abiVersion, 0, exportedSymbols);

    /// <summary>A slot ABI v2 kernel whose descriptor declares <paramref name="features"/> (SlotAbi.Features bits).</summary>
    public static string BuildV2(ulong features, params string[] exportedSymbols) => Build(2, features, exportedSymbols);

    private static string Build(uint? abiVersion, ulong features, string[] exportedSymbols)
    {
        var asm = new System.Text.StringBuilder();
        asm.AppendLine(".text");
        asm.AppendLine(".globl _start\n_start: hlt");
        foreach (var s in exportedSymbols)
            asm.AppendLine($".globl {s}\n.type {s},@function\n{s}: ret");
        if (abiVersion is { } v)
        {
            asm.AppendLine(".balign 4096\n.globl __ukl_text_slot_start\n__ukl_text_slot_start:\n.fill 4096,1,0xcc\n.globl __ukl_text_slot_end\n__ukl_text_slot_end:");
            asm.AppendLine(".section .rodata,\"a\"\n.balign 4096\n.globl __ukl_rodata_slot_start\n__ukl_rodata_slot_start:\n.fill 4096,1,0\n.globl __ukl_rodata_slot_end\n__ukl_rodata_slot_end:");
            asm.AppendLine(".data\n.balign 64\n.globl ukl_descriptor\n.type ukl_descriptor,@object\n.size ukl_descriptor,192\nukl_descriptor:");
            // magic, abi_version, size, 16 fields (entry .. bss_end), stack_size, flags, features, reserved[3]
            asm.AppendLine($".quad 0\n.long {v}\n.long 192\n.fill 16,8,0\n.quad 0x800000\n.quad 0\n.quad {features}\n.fill 3,8,0");
            asm.AppendLine(".balign 4096\n.globl __ukl_data_slot_start\n__ukl_data_slot_start:\n.fill 8192,1,0\n.globl __ukl_data_slot_end\n__ukl_data_slot_end:");
            asm.AppendLine(".bss\n.balign 4096\n.globl __ukl_bss_slot_start\n__ukl_bss_slot_start:\n.skip 16384\n.globl __ukl_bss_slot_end\n__ukl_bss_slot_end:");
        }
        return Toolchain.Build(asm.ToString(), ".s", "vmlinux",
            (src, output) => $"as --64 {src} -o {output}.o && ld -m elf_x86_64 -static -e _start -Ttext=0xffffffff81000000 {output}.o -o {output}");
    }
}
