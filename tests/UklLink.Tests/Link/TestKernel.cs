using UklLink.Tests.Support;

namespace UklLink.Tests.Link;

/// <summary>
/// A kernel to link the corpus against: its vmlinux and the names of the three kernel symbols the corpus uses (a
/// function, a data object and a read-only string), which differ between the stand-in and the real kernel.
/// </summary>
public sealed record TestKernel(string Vmlinux, string Function, string Data, string ReadOnlyData)
{
    private static readonly Lazy<TestKernel> FakeKernel = new(() => BuildFake(1, 0));
    private static readonly Lazy<TestKernel> FakeRedZoneSafeKernel = new(() => BuildFake(2, UklLink.Kernel.SlotAbi.Features.EventStack));

    /// <summary>
    /// A small GNU ld-linked stand-in vmlinux with the reference kernel's slot sizes (text 4 MiB, rodata 2 MiB,
    /// data 2 MiB, bss 4 MiB), the slot symbols, the descriptor and <c>kprint</c>, <c>kernel_counter</c> and
    /// <c>kernel_banner</c>. Built once per fixture cache.
    /// </summary>
    public static TestKernel Fake => FakeKernel.Value;

    /// <summary>
    /// The same stand-in with a slot ABI v2 descriptor that declares the event stack (red-zone safe), as the reference
    /// kernel does: what glibc and libstdc++, compiled with the red zone, need for link to accept them.
    /// </summary>
    public static TestKernel FakeRedZoneSafe => FakeRedZoneSafeKernel.Value;

    /// <summary>Why a test that needs <see cref="Reference"/> is skipped without it.</summary>
    public const string NotBuilt = "the reference kernel is not built on this machine (kernel/build; ./test builds it first)";

    /// <summary>The cached reference kernel (kernel/build --print), or null when it has not been built.</summary>
    public static TestKernel? Reference { get; } = FindReference();

    /// <summary>Renames the stand-in's symbols in fixture source to this kernel's.</summary>
    public string Adapt(string source) => source
        .Replace("kprint", Function, StringComparison.Ordinal)
        .Replace("kernel_counter", Data, StringComparison.Ordinal)
        .Replace("kernel_banner", ReadOnlyData, StringComparison.Ordinal);

    private static TestKernel BuildFake(uint abiVersion, ulong features)
    {
        const string slot = ".balign 4096\n.globl __ukl_{0}_slot_start\n__ukl_{0}_slot_start:\n{1}\n.globl __ukl_{0}_slot_end\n__ukl_{0}_slot_end:\n";
        var asm = new System.Text.StringBuilder();
        asm.AppendLine(".text\n.globl startup_64\nstartup_64: hlt");
        asm.AppendLine(".globl kprint\n.type kprint,@function\nkprint: xorl %eax, %eax\nret\n.size kprint, .-kprint");
        asm.AppendLine(string.Format(slot, "text", ".fill 0x400000,1,0xcc"));
        asm.AppendLine(".section .rodata,\"a\"\n.globl kernel_banner\n.type kernel_banner,@object\nkernel_banner: .asciz \"Linux version 6.1 (fake)\"\n.size kernel_banner, .-kernel_banner");
        asm.AppendLine(string.Format(slot, "rodata", ".fill 0x200000,1,0"));
        asm.AppendLine(".data\n.balign 8\n.globl kernel_counter\n.type kernel_counter,@object\nkernel_counter: .quad 0\n.size kernel_counter, 8");
        asm.AppendLine(".balign 64\n.globl ukl_descriptor\n.type ukl_descriptor,@object\n.size ukl_descriptor,192\nukl_descriptor:");
        // magic, abi_version, size, 16 fields (entry .. bss_end), stack_size, flags, features (v2; reserved in v1), reserved[3]
        asm.AppendLine($".quad 0\n.long {abiVersion}\n.long 192\n.fill 16,8,0\n.quad 0x800000\n.quad 0\n.quad {features}\n.fill 3,8,0");
        asm.AppendLine(string.Format(slot, "data", ".fill 0x200000,1,0"));
        asm.AppendLine(".bss");
        asm.AppendLine(string.Format(slot, "bss", ".skip 0x400000"));
        asm.AppendLine(".section .note.GNU-stack,\"\",@progbits");
        string vmlinux = Toolchain.Build(asm.ToString(), ".s", abiVersion == 1 ? "vmlinux" : $"vmlinux-v{abiVersion}-{features:x}",
            (src, output) => $"as --64 {src} -o {output}.o && ld -m elf_x86_64 -static -e startup_64 -Ttext=0xffffffff81000000 {output}.o -o {output}");
        return new TestKernel(vmlinux, "kprint", "kernel_counter", "kernel_banner");
    }

    private static TestKernel? FindReference()
    {
        string build = Path.Combine(RepositoryPaths.Root, "kernel", "build");
        if (!File.Exists(build))
            return null;
        string manifest;
        try
        {
            manifest = Toolchain.Run($"'{build}' --print", RepositoryPaths.Root).Trim();
        }
        catch (InvalidOperationException)
        {
            return null; // not built (exit 3): the tests that need it are skipped
        }
        foreach (var line in File.ReadLines(manifest))
        {
            if (line.StartsWith("VMLINUX=", StringComparison.Ordinal) && File.Exists(line[8..]))
                return new TestKernel(line[8..], "_printk", "jiffies", "linux_banner");
        }
        return null;
    }
}
