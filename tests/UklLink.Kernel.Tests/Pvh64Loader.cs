namespace UklLink.Kernel.Tests;

/// <summary>
/// A test-only 64-bit boot loader, so the bzImage's 64-bit entry (+0x200) can be booted under QEMU, which itself
/// only offers the 16-bit (BIOS) path for a bzImage. It is an ELF with a Xen PVH note that QEMU boots directly
/// (as it boots vmlinux): its 32-bit PVH entry builds an identity map of the low 4 GiB, enters long mode, fills
/// boot_params from the bzImage's setup header and QEMU's hvm_start_info (command line, initrd, memory map, RSDP),
/// and jumps to load address + 0x200 with %rsi = boot_params, CS = 0x10 and DS/ES/SS = 0x18, as boot.rst's 64-bit
/// boot protocol says. The bzImage is embedded so that its protected-mode part lands at <see cref="LoadAddress"/>.
/// </summary>
public static class Pvh64Loader
{
    /// <summary>Where the protected-mode part is loaded: above the kernel, so the stub copies downwards.</summary>
    public const ulong LoadAddress = 0x4000000;

    /// <summary>isa-debug-exit status the loader reports when QEMU gives it no memory map.</summary>
    public const int NoMemoryMapStatus = 3;

    private const string Source = """
        /* Test-only PVH → 64-bit boot protocol loader (see Pvh64Loader.cs). */
        .set PT, 0x300000          /* identity page tables, 24 KiB */
        .set BP, 0x310000          /* boot_params */

        .section .note.Xen, "a", @note
        .p2align 2
        .long 4, 4, 18             /* namesz, descsz, XEN_ELFNOTE_PHYS32_ENTRY */
        .asciz "Xen"
        .long pvh_start

        .text
        .code32
        .globl pvh_start
        pvh_start:
            cli
            cld
            mov %ebx, %ebp                      /* hvm_start_info */
            mov $PT, %edi
            xor %eax, %eax
            mov $0x1800, %ecx
            rep stosl
            movl $(PT + 0x1003), PT
            movl $(PT + 0x2003), PT + 0x1000
            movl $(PT + 0x3003), PT + 0x1008
            movl $(PT + 0x4003), PT + 0x1010
            movl $(PT + 0x5003), PT + 0x1018
            mov $(PT + 0x2000), %edi
            mov $0x83, %eax
            mov $2048, %ecx
        1:  mov %eax, (%edi)
            add $0x200000, %eax
            add $8, %edi
            dec %ecx
            jnz 1b
            lgdt gdtr
            mov $0x18, %eax
            mov %eax, %ds
            mov %eax, %es
            mov %eax, %ss
            mov %cr4, %eax
            or $0x20, %eax
            mov %eax, %cr4
            mov $PT, %eax
            mov %eax, %cr3
            mov $0xC0000080, %ecx
            rdmsr
            or $0x100, %eax
            wrmsr
            mov %cr0, %eax
            or $0x80000001, %eax
            mov %eax, %cr0
            ljmp $0x10, $long64

        .code64
        long64:
            mov %ebp, %r8d                      /* hvm_start_info, zero-extended */
            mov $BP, %edi
            xor %eax, %eax
            mov $512, %ecx
            rep stosq
            /* The setup header: from 0x1f1 to 0x202 + the jump's displacement byte. */
            mov $IMAGE, %rsi
            movzbl 0x201(%rsi), %ecx
            add $(0x202 - 0x1f1), %ecx
            add $0x1f1, %rsi
            mov $(BP + 0x1f1), %edi
            rep movsb
            movb $0xff, BP + 0x210              /* type_of_loader: undefined */
            movl $LOAD, BP + 0x214              /* code32_start */
            mov 24(%r8), %rax                   /* cmdline_paddr */
            movl %eax, BP + 0x228
            cmpl $0, 12(%r8)                    /* nr_modules */
            je 2f
            mov 16(%r8), %rax                   /* modlist_paddr */
            mov (%rax), %rdx
            movl %edx, BP + 0x218               /* ramdisk_image */
            mov 8(%rax), %rdx
            movl %edx, BP + 0x21c               /* ramdisk_size */
        2:  mov 32(%r8), %rax                   /* rsdp_paddr */
            mov %rax, BP + 0x70                 /* acpi_rsdp_addr */
            cmpl $1, 4(%r8)                     /* version 1 has the memory map */
            jb nomap
            movl 48(%r8), %ecx                  /* memmap_entries */
            test %ecx, %ecx
            jz nomap
            cmp $128, %ecx
            jbe 3f
            mov $128, %ecx
        3:  movb %cl, BP + 0x1e8                /* e820_entries */
            mov 40(%r8), %rsi                   /* memmap_paddr: {addr, size, type, reserved} */
            mov $(BP + 0x2d0), %edi             /* e820_table: {addr, size, type} */
        4:  mov (%rsi), %rax
            mov %rax, (%rdi)
            mov 8(%rsi), %rax
            mov %rax, 8(%rdi)
            movl 16(%rsi), %eax
            movl %eax, 16(%rdi)
            add $24, %rsi
            add $20, %rdi
            dec %ecx
            jnz 4b
            mov $BP, %esi
            mov $(LOAD + 0x200), %eax
            jmp *%rax
        nomap:
            mov $NOMAP, %al
            out %al, $0xf4
        5:  hlt
            jmp 5b

        .p2align 3
        gdt:  .quad 0, 0, 0x00af9a000000ffff, 0x00cf92000000ffff
        gdtr: .word 31
              .long gdt

        .section .image, "a"
        .incbin "bzImage"
        """;

    private const string LinkerScript = """
        ENTRY(pvh_start)
        SECTIONS
        {
            . = 0x200000;
            .text : { *(.text) }
            .note.Xen : { *(.note.Xen) }
            . = IMAGE;
            .image : { *(.image) }
        }
        """;

    /// <summary>Builds the loader ELF around <paramref name="bzImage"/> in <paramref name="dir"/>; returns its path.</summary>
    public static string Build(string bzImage, string dir)
    {
        int setupSize = (File.ReadAllBytes(bzImage).AsSpan(0x1F1, 1)[0] + 1) * 512;
        ulong image = LoadAddress - (ulong)setupSize;
        File.Copy(bzImage, Path.Combine(dir, "bzImage"), overwrite: true);
        File.WriteAllText(Path.Combine(dir, "loader.S"), Source.ReplaceLineEndings("\n") + "\n");
        File.WriteAllText(Path.Combine(dir, "loader.ld"), LinkerScript.ReplaceLineEndings("\n") + "\n");
        string output = Path.Combine(dir, "pvh64-loader.elf");
        string defs = $"--defsym IMAGE=0x{image:x} --defsym LOAD=0x{LoadAddress:x} --defsym NOMAP={NoMemoryMapStatus}";
        var r = KernelBuild.Run("bash", ["-c",
            $"cd '{dir}' && as --64 {defs} loader.S -o loader.o && ld -m elf_x86_64 -static -nostdlib --defsym IMAGE=0x{image:x} -T loader.ld loader.o -o '{output}'"],
            TimeSpan.FromMinutes(1));
        if (r.Exit != 0)
            throw new InvalidOperationException($"building the PVH loader failed ({r.Exit}): {r.Stderr}{r.Stdout}");
        return output;
    }
}
