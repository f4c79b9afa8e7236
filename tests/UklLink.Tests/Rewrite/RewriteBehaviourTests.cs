using UklLink.Rewrite;
using UklLink.Tests.Support;
using Xunit;

namespace UklLink.Tests.Rewrite;

/// <summary>
/// Rewritten code must still run and do the same thing. Each program is linked twice as an ordinary static user-space
/// executable (small code model, low addresses, where the trampolines' R_X86_64_32S to the entry fits): once from
/// the original objects and once from the objects written back by <see cref="RewrittenObjectWriter"/>, with
/// <see cref="RewriteHarness.EntryShim"/> standing in for the kernel's entry. Both runs must give the same stdout,
/// stderr, exit status and files.
/// </summary>
public class RewriteBehaviourTests
{
    private const string UserFlags = "-O2 -mcmodel=small -mno-red-zone -fno-pie -fno-pic -fno-stack-protector";

    private static void AssertSameBehaviour(RewriteHarness.RunResult original, RewriteHarness.RunResult rewritten)
    {
        Assert.Equal(original.Stdout, rewritten.Stdout);
        Assert.Equal(original.Stderr, rewritten.Stderr);
        Assert.Equal(original.ExitCode, rewritten.ExitCode);
        Assert.Equal(original.Files.OrderBy(f => f.Key), rewritten.Files.OrderBy(f => f.Key));
    }

    [Fact]
    public void HandWrittenSitesBehaveTheSameAfterRewriting()
    {
        string dir = Toolchain.NewWorkDirectory();
        string sites = Toolchain.Assemble(Toolchain.FixtureSource("rewrite/sites.s"), "sites");
        string driver = Toolchain.CompileC(Toolchain.FixtureSource("rewrite/sites-driver.c"), UserFlags, "driver");
        string shim = RewriteHarness.ShimObject();
        var (rewritten, totals) = RewriteHarness.RewriteToFile(sites, Path.Combine(dir, "sites-rewritten.o"));
        Assert.Equal(12, totals.Patched);

        string before = Path.Combine(dir, "before"), after = Path.Combine(dir, "after");
        Toolchain.Run($"gcc -static -no-pie -o {before} {driver} {sites} {shim}");
        Toolchain.Run($"gcc -static -no-pie -o {after} {driver} {rewritten} {shim}");
        var a = RewriteHarness.Run(before);
        var b = RewriteHarness.Run(after);
        AssertSameBehaviour(a, b);
        Assert.Equal(7, b.ExitCode);
        Assert.Equal("""
            mov_imm 1
            first 1
            is_target 1 1
            next_is_target 1 1
            bare_next 1
            ret_pad 1
            rip_reloc 1 1
            rip_local 1
            short_jump 1 1
            table 1 1 1 1
            cp_asm wrote this
            cp_asm 1 1

            """.ReplaceLineEndings("\n"), b.Stdout);
        // The rewritten cases really go through trampolines: mov_imm starts with a jump into .text.ukl_trampolines.
        string disasm = Toolchain.Run($"objdump -d --no-show-raw-insn {after}");
        var jump = System.Text.RegularExpressions.Regex.Match(disasm, @"<mov_imm>:\s+[0-9a-f]+:\s+jmp\s+([0-9a-f]+) ");
        Assert.True(jump.Success, "mov_imm does not start with a jmp");
        ulong tramp = Convert.ToUInt64(jump.Groups[1].Value, 16);
        string code = Toolchain.Run($"objdump -d --no-show-raw-insn --start-address=0x{tramp:x} --stop-address=0x{tramp + 26:x} {after}");
        Assert.Matches(@"mov\s+\$0x27,%eax\s+[0-9a-f]+:\s+lea\s+0x9\(%rip\),%r11\s.*\n\s+[0-9a-f]+:\s+mov\s+\$0x[0-9a-f]+,%rcx\s+[0-9a-f]+:\s+jmp\s+\*%rcx\s+[0-9a-f]+:\s+jmp", code);
    }

    [Fact]
    public void FreestandingProgramWithInlineSyscallsBehavesTheSame()
    {
        string dir = Toolchain.NewWorkDirectory();
        string prog = Toolchain.CompileC(Toolchain.FixtureSource("rewrite/freestanding.c"), UserFlags + " -ffreestanding", "freestanding");
        string shim = RewriteHarness.ShimObject();
        var (rewritten, totals) = RewriteHarness.RewriteToFile(prog, Path.Combine(dir, "freestanding-rewritten.o"));
        Assert.True(totals.Found >= 5, totals.ToString());
        Assert.Equal(totals.Found, totals.Patched);

        string before = Path.Combine(dir, "before"), after = Path.Combine(dir, "after");
        Toolchain.Run($"gcc -nostdlib -static -no-pie -o {before} {prog} {shim}");
        Toolchain.Run($"gcc -nostdlib -static -no-pie -o {after} {rewritten} {shim}");
        const string input = "hello ukl\nsecond line\n";
        var a = RewriteHarness.Run(before, input);
        var b = RewriteHarness.Run(after, input);
        AssertSameBehaviour(a, b);
        Assert.Equal("HELLO UKL\nSECOND LINE\npid ok\n", b.Stdout);
        Assert.Equal((input.Length + 2) & 0x7f, b.ExitCode);
        Assert.Equal("HELLO UKL\nSECOND LINE\n", b.Files["out.txt"]);
        // Every syscall of the program now goes through the shim, the only syscall instruction left.
        Assert.Equal(totals.Found, RewriteHarness.CountSyscallInstructions(before) - 1);
        Assert.Equal(1, RewriteHarness.CountSyscallInstructions(after));
    }

    [Fact]
    public void PicJumpTableCasesAreFoundAndBehaveTheSame()
    {
        // -fpic: the cases holding the syscalls are reached only through .long .Lcase-.Ltable entries in .rodata.
        string dir = Toolchain.NewWorkDirectory();
        string obj = Toolchain.CompileC(Toolchain.FixtureSource("rewrite/pic-switch.c"), "-O2 -fpic -mno-red-zone -fno-stack-protector", "pic-switch");
        Assert.Contains("R_X86_64_PC32", Toolchain.Run($"readelf -rW {obj} | sed -n '/rela.rodata/,$p'"));
        string driver = Toolchain.CompileC(Toolchain.FixtureSource("rewrite/pic-switch-driver.c"), UserFlags, "pic-driver");
        string shim = RewriteHarness.ShimObject();
        var (rewritten, totals) = RewriteHarness.RewriteToFile(obj, Path.Combine(dir, "pic-switch-rewritten.o"));
        Assert.Equal(3, totals.Found);
        Assert.Equal(3, totals.Patched);

        string before = Path.Combine(dir, "before"), after = Path.Combine(dir, "after");
        Toolchain.Run($"gcc -static -no-pie -o {before} {driver} {obj} {shim}");
        Toolchain.Run($"gcc -static -no-pie -o {after} {driver} {rewritten} {shim}");
        var a = RewriteHarness.Run(before);
        var b = RewriteHarness.Run(after);
        AssertSameBehaviour(a, b);
        Assert.Equal("1 42 1 43 4 1 9 -1\n", b.Stdout);
    }
}
