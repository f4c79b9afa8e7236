using System.Buffers.Binary;

namespace UklLink.Kernel.Tests;

/// <summary>
/// A tiny stand-in "kernel" that checks, in the guest, what ukl-link's loader stub must have done before entering
/// it, and reports through isa-debug-exit:
/// <list type="bullet">
/// <item>%rsi points at boot_params ("HdrS" at +0x202);</item>
/// <item>its 16 MiB data segment arrived intact (a hash over every qword matches the one computed here);</item>
/// <item>the bss tail of its first segment reads as zero, although on the BIOS path the loaded image's bytes
/// (the data segment's source) lay exactly there before the copy;</item>
/// <item>its text slot (16 bytes of "application", then 0xCC) and data slot (zeros) hold their bytes, although the
/// image leaves their unused tails out and the stub fills them.</item>
/// </list>
/// Segment 1 at 16 MiB: code + bss tail (p_memsz &gt; p_filesz); segment 2 at 17 MiB: the data. So the image loaded at
/// 1 MiB overlaps both destinations.
/// </summary>
public static class ProbeKernel
{
    public const int Success = 5;
    public const int NoBootParams = 2;
    public const int TailNotZero = 3;
    public const int DataCorrupt = 4;
    public const int SlotWrong = 6;

    public const int SlotSize = 0x80000;

    public const int DataSize = 16 << 20;

    private const string Source = """
        .text
        .code64
        .globl _start
        _start:
            cmpl $0x53726448, 0x202(%rsi)
            jne no_bp
            mov $tail_start, %edi
            mov $((tail_end - tail_start) / 8), %ecx
            xor %eax, %eax
            repe scasq
            jne tail_dirty
            mov $__ukl_text_slot_start, %edi
            movabs $0x9090909090909090, %rax
            cmp %rax, (%rdi)                    /* the "application" part is stored, not filled */
            jne slot_wrong
            add $16, %edi
            mov $((__ukl_text_slot_end - __ukl_text_slot_start - 16) / 8), %ecx
            movabs $0xcccccccccccccccc, %rax
            repe scasq
            jne slot_wrong
            mov $__ukl_data_slot_start, %edi
            mov $((__ukl_data_slot_end - __ukl_data_slot_start) / 8), %ecx
            xor %eax, %eax
            repe scasq
            jne slot_wrong
            mov $data_start, %esi
            mov $(DATA_SIZE / 8), %ecx
            xor %eax, %eax
        1:  rol $7, %rax
            add (%rsi), %rax
            add $8, %rsi
            dec %ecx
            jnz 1b
            movabs $EXPECTED, %rdx
            cmp %rdx, %rax
            jne corrupt
            mov $SUCCESS, %al
            jmp report
        no_bp:      mov $NO_BP, %al
                    jmp report
        tail_dirty: mov $TAIL, %al
                    jmp report
        corrupt:    mov $CORRUPT, %al
                    jmp report
        slot_wrong: mov $SLOT, %al
        report:
            out %al, $0xf4
        2:  hlt
            jmp 2b

        .p2align 12
        .globl __ukl_text_slot_start, __ukl_text_slot_end
        __ukl_text_slot_start:
            .fill 16, 1, 0x90
            .fill SLOT_SIZE - 16, 1, 0xcc
        __ukl_text_slot_end:

        .bss
        tail_start:
            .skip 0x70000
        tail_end:

        .data
        data_start:
            .incbin "data.bin"
        .p2align 12
        .globl __ukl_data_slot_start, __ukl_data_slot_end
        __ukl_data_slot_start:
            .fill SLOT_SIZE, 1, 0
        __ukl_data_slot_end:
        """;

    private const string LinkerScript = """
        ENTRY(_start)
        PHDRS { text PT_LOAD FLAGS(7); data PT_LOAD FLAGS(6); }
        SECTIONS
        {
            . = 0x1000000;
            .text : { *(.text) } :text
            .bss : { *(.bss) } :text
            . = 0x1100000;
            .data : { *(.data) } :data
            /DISCARD/ : { *(.note*) *(.comment) }
        }
        """;

    /// <summary>Builds the probe vmlinux in <paramref name="dir"/> and returns its path.</summary>
    public static string Build(string dir)
    {
        var data = new byte[DataSize];
        new Random(1234).NextBytes(data);
        ulong hash = 0;
        for (int i = 0; i < data.Length; i += 8)
            hash = ulong.RotateLeft(hash, 7) + BinaryPrimitives.ReadUInt64LittleEndian(data.AsSpan(i));
        File.WriteAllBytes(Path.Combine(dir, "data.bin"), data);
        File.WriteAllText(Path.Combine(dir, "probe.S"), Source.ReplaceLineEndings("\n") + "\n");
        File.WriteAllText(Path.Combine(dir, "probe.ld"), LinkerScript.ReplaceLineEndings("\n") + "\n");
        string output = Path.Combine(dir, "probe-vmlinux");
        string defs = $"--defsym EXPECTED=0x{hash:x} --defsym DATA_SIZE={DataSize} --defsym SUCCESS={Success} " +
                      $"--defsym NO_BP={NoBootParams} --defsym TAIL={TailNotZero} --defsym CORRUPT={DataCorrupt} " +
                      $"--defsym SLOT={SlotWrong} --defsym SLOT_SIZE={SlotSize}";
        var r = KernelBuild.Run("bash", ["-c",
            $"cd '{dir}' && as --64 {defs} probe.S -o probe.o && ld -m elf_x86_64 -static -nostdlib -T probe.ld probe.o -o '{output}'"],
            TimeSpan.FromMinutes(1));
        if (r.Exit != 0)
            throw new InvalidOperationException($"building the probe kernel failed ({r.Exit}): {r.Stderr}{r.Stdout}");
        return output;
    }

    /// <summary>Boots <paramref name="kernel"/> (bzImage or PVH ELF) without initrd; returns the reported status.</summary>
    public static int? Boot(string kernel, string console)
    {
        var r = KernelBuild.Run(KernelBuild.Script("qemu-run"),
            ["--kernel", kernel, "--console", console, "--timeout", "30"], TimeSpan.FromSeconds(60));
        foreach (var line in r.Stdout.Split('\n', StringSplitOptions.TrimEntries))
        {
            if (line.StartsWith("STATUS=", StringComparison.Ordinal))
                return int.TryParse(line["STATUS=".Length..], out int s) ? s : null;
        }
        throw new InvalidOperationException($"qemu-run gave no summary ({r.Exit}): {r.Stdout}{r.Stderr}");
    }
}
