using UklLink.Tests.Support;
using Xunit;

namespace UklLink.Tests;

/// <summary>Each rule of `ukl-link validate`, on objects compiled from source during the test run.</summary>
public class ValidateRuleTests
{
    private const string Sample = """
        static const char greeting[] = "hi\n";
        long counter;
        const char *message(void) { return greeting; }
        unsigned checksum(const char *s, unsigned n)
        {
            volatile unsigned char copy[64];
            unsigned sum = 0;
            for (unsigned i = 0; i < n && i < sizeof copy; i++) copy[i] = (unsigned char)s[i];
            for (unsigned i = 0; i < n && i < sizeof copy; i++) sum = sum * 31 + copy[i];
            return sum;
        }
        long bump(void) { return ++counter; }
        """;

    private static string[] RuleIds(CliResult r) =>
        r.StdoutLines.Select(l => System.Text.RegularExpressions.Regex.Match(l, @"\b(error|warning|note) (UKL\d{3}):")).Where(m => m.Success)
            .Select(m => m.Groups[2].Value).ToArray();

    [Theory]
    [InlineData(Toolchain.UklFlags)]
    [InlineData(Toolchain.UklFlags + " -g")]
    [InlineData(Toolchain.UklFlags + " -g -O0")]
    [InlineData(Toolchain.UklFlags + " -g -gdwarf-4 -Os")]
    public void KernelModelObjectIsClean(string flags)
    {
        var obj = Toolchain.CompileC(Sample, flags);
        var r = Cli.Run("validate", obj);
        Assert.Equal(0, r.ExitCode);
        Assert.DoesNotContain(" error ", r.Stdout);
        Assert.Contains("validate: 1 input, 0 errors", r.Stdout);
    }

    [Fact]
    public void SmallModelAndRedZoneAreRejectedWithTheirRuleIds()
    {
        var obj = Toolchain.CompileC(Sample, Toolchain.SmallModelFlags + " -g");
        var r = Cli.Run("validate", obj);
        Assert.Equal(1, r.ExitCode);
        var ids = RuleIds(r);
        Assert.Contains("UKL001", ids);
        Assert.Contains("UKL002", ids);
        Assert.Contains("UKL003", ids);
        Assert.Contains("hint: compile with -mcmodel=kernel", r.Stdout);
        Assert.Contains("hint: compile with -mno-red-zone", r.Stdout);
    }

    [Fact]
    public void AbsoluteRelocationIsReportedAtItsSiteWithSourceLine()
    {
        var obj = Toolchain.CompileC(Sample, Toolchain.SmallModelFlags + " -mno-red-zone -g");
        var text = Toolchain.Run($"objdump -dr {obj}");
        // The oracle: objdump's own listing of R_X86_64_32 sites in message().
        var site = System.Text.RegularExpressions.Regex.Match(text, @"\n\s+([0-9a-f]+): R_X86_64_32\s+\.rodata");
        Assert.True(site.Success, text);
        ulong offset = Convert.ToUInt64(site.Groups[1].Value, 16);
        var r = Cli.Run("validate", obj);
        var line = Assert.Single(r.StdoutLines, l => l.Contains("UKL001"));
        Assert.Contains($"{obj}:(.text+0x{offset:x}): error UKL001: relocation R_X86_64_32 against '.rodata'", line);
        Assert.Contains("t.c:3", line); // message() is on line 3 of the source
        Assert.Contains("in message", line);
        Assert.DoesNotContain("UKL002", r.Stdout);
        Assert.DoesNotContain("UKL003", r.Stdout);
    }

    [Fact]
    public void RelocationsInDebugSectionsAreNotFindings()
    {
        // gcc emits R_X86_64_32 into .debug_info/.debug_line for every -g object: they are never loaded.
        var obj = Toolchain.CompileC(Sample, Toolchain.UklFlags + " -g");
        var relocs = Toolchain.Run($"readelf -rW {obj}");
        Assert.Contains("R_X86_64_32 ", relocs);
        Assert.Equal(0, Cli.Run("validate", obj).ExitCode);
    }

    [Fact]
    public void RedZoneIsFoundByDecodingWithoutDebugInfo()
    {
        var obj = Toolchain.CompileC(Sample, "-O2 -mcmodel=kernel -fno-pic -fno-pie -fno-asynchronous-unwind-tables");
        Assert.DoesNotContain(".debug_info", Toolchain.Run($"readelf -SW {obj}"));
        var r = Cli.Run("validate", obj);
        Assert.Equal(1, r.ExitCode);
        Assert.Equal(new[] { "UKL002" }, RuleIds(r).Distinct());
        Assert.Contains("checksum uses the red zone", r.Stdout);
    }

    [Fact]
    public void RedZoneThroughFramePointerAtO0IsFound()
    {
        var obj = Toolchain.CompileC("int leaf(int a) { int x = a * 3; return x + 1; }", "-O0 -mcmodel=kernel -fno-pic -fno-pie");
        var r = Cli.Run("validate", obj);
        Assert.Contains("UKL002", RuleIds(r));
        Assert.Contains("-0x", r.Stdout);
        Assert.Contains("(%rbp)", r.Stdout);
        var clean = Toolchain.CompileC("int leaf(int a) { int x = a * 3; return x + 1; }", "-O0 -mcmodel=kernel -mno-red-zone -fno-pic -fno-pie");
        Assert.Equal(0, Cli.Run("validate", clean).ExitCode);
    }

    [Fact]
    public void RedZoneInHandWrittenAssemblyIsFound()
    {
        var obj = Toolchain.Assemble("""
            .text
            .globl uses_red_zone, moves_rsp_first
            .type uses_red_zone,@function
            uses_red_zone:
                movq %rdi, -8(%rsp)
                movq -8(%rsp), %rax
                ret
            .size uses_red_zone, .-uses_red_zone
            .type moves_rsp_first,@function
            moves_rsp_first:
                subq $16, %rsp
                movq %rdi, 8(%rsp)
                movq 8(%rsp), %rax
                addq $16, %rsp
                ret
            .size moves_rsp_first, .-moves_rsp_first
            .section .note.GNU-stack,"",@progbits
            """);
        var r = Cli.Run("validate", obj);
        var line = Assert.Single(r.StdoutLines, l => l.Contains("UKL002"));
        Assert.Contains("uses_red_zone uses the red zone", line);
        Assert.Contains("(.text+0x0)", line);
        Assert.DoesNotContain("moves_rsp_first", r.Stdout);
    }

    [Fact]
    public void ProducerWithoutMnoRedZoneIsReportedEvenWhenNoCodeUsesIt()
    {
        var obj = Toolchain.CompileC("long add(long a, long b) { return a + b; }", "-O2 -g -mcmodel=kernel -fno-pic -fno-pie");
        var r = Cli.Run("validate", obj);
        Assert.Equal(new[] { "UKL003" }, RuleIds(r));
        Assert.Equal(1, r.ExitCode);
    }

    [Theory]
    [InlineData("global-dynamic", "R_X86_64_TLSGD")]
    [InlineData("local-dynamic", "R_X86_64_TLSLD")]
    [InlineData("initial-exec", "R_X86_64_GOTTPOFF")]
    public void TlsAccessModelsThatNeedRelaxationAreVerboseNotes(string model, string relocation)
    {
        var src = "static __thread long mine; extern __thread long theirs; long get(void) { return mine + theirs; }";
        var obj = Toolchain.CompileC(src, $"-O2 -fpic -mno-red-zone -ftls-model={model}");
        Assert.Contains(relocation, Toolchain.Run($"readelf -rW {obj}"));
        var quiet = Cli.Run("validate", obj);
        Assert.DoesNotContain("UKL004", quiet.Stdout);
        var verbose = Cli.Run("validate", "-v", obj);
        Assert.Contains(verbose.StdoutLines, l => l.Contains("note UKL004") && l.Contains(relocation));
        Assert.DoesNotContain(" error ", verbose.Stdout);
    }

    [Fact]
    public void LocalExecTlsNeedsNoRelaxation()
    {
        var obj = Toolchain.CompileC("__thread long mine; long get(void) { return mine; }", Toolchain.UklFlags + " -ftls-model=local-exec");
        Assert.Contains("R_X86_64_TPOFF32", Toolchain.Run($"readelf -rW {obj}"));
        var r = Cli.Run("validate", "-v", obj);
        Assert.Equal(0, r.ExitCode);
        Assert.DoesNotContain("UKL004", r.Stdout);
    }

    [Fact]
    public void PicCodeIsRelaxableNotAnError()
    {
        var obj = Toolchain.CompileC("extern long shared; long *where(void) { return &shared; }", "-O2 -fpic -mno-red-zone");
        Assert.Contains("GOTPCREL", Toolchain.Run($"readelf -rW {obj}"));
        var r = Cli.Run("validate", "-v", obj);
        Assert.Equal(0, r.ExitCode);
        Assert.Contains("UKL004", RuleIds(r));
    }

    [Fact]
    public void LargeModelPicNeedsAGotBaseAndIsUnsupported()
    {
        var obj = Toolchain.CompileC("extern long shared; extern void f(void); long *where(void) { f(); return &shared; }", "-O2 -mcmodel=large -fpic -mno-red-zone");
        var r = Cli.Run("validate", obj);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains(r.StdoutLines, l => l.Contains("error UKL005") && (l.Contains("GOTPC64") || l.Contains("GOT64") || l.Contains("PLTOFF64")));
    }

    /// <summary>IFUNCs link (glibc resolves them at start-up): a verbose-only note, no error.</summary>
    [Fact]
    public void IfuncIsANote()
    {
        var obj = Toolchain.CompileC("""
            static long impl(void) { return 1; }
            static void *resolve(void) { return impl; }
            long pick(void) __attribute__((ifunc("resolve")));
            """, Toolchain.UklFlags);
        var r = Cli.Run("validate", obj);
        Assert.Equal(0, r.ExitCode);
        Assert.DoesNotContain("UKL006", r.Stdout);
        var verbose = Cli.Run("validate", "-v", obj);
        Assert.Equal(0, verbose.ExitCode);
        Assert.Contains(verbose.StdoutLines, l => l.Contains("note UKL006") && l.Contains("'pick'"));
    }

    /// <summary>.ctors/.dtors join .init_array/.fini_array in the link (reversed, as in ld): a verbose-only note.</summary>
    [Fact]
    public void LegacyCtorsAreANote()
    {
        var obj = Toolchain.Assemble("""
            .text
            .globl init
            init: ret
            .section .ctors,"aw"
            .quad init
            """);
        var r = Cli.Run("validate", "-v", obj);
        Assert.Equal(0, r.ExitCode);
        Assert.Contains(r.StdoutLines, l => l.Contains("note UKL007") && l.Contains("'.ctors'"));
    }

    [Fact]
    public void InitArrayConstructorsAreFine()
    {
        var obj = Toolchain.CompileC("long v; __attribute__((constructor)) static void init(void) { v = 1; }", Toolchain.UklFlags);
        Assert.Contains(".init_array", Toolchain.Run($"readelf -SW {obj}"));
        Assert.Equal(0, Cli.Run("validate", obj).ExitCode);
    }

    [Fact]
    public void SyscallsAreCountedByDecodingNotByBytePattern()
    {
        // Three real syscalls, plus the bytes 0f 05 inside a mov immediate and in data: those are not syscalls.
        var obj = Toolchain.Assemble("""
            .text
            .globl a, b
            .type a,@function
            a:
                movl $0x050f, %eax
                syscall
                syscall
                ret
            .size a, .-a
            .type b,@function
            b:
                movl $60, %eax
                syscall
                ret
            .size b, .-b
            .section .rodata
            .byte 0x0f, 0x05
            .section .note.GNU-stack,"",@progbits
            """);
        var r = Cli.Run("validate", obj);
        Assert.Equal(0, r.ExitCode);
        var line = Assert.Single(r.StdoutLines, l => l.Contains("UKL008"));
        Assert.Contains("3 syscall instructions in .text (in a, b)", line);
        Assert.Contains("(.text+0x5)", line); // the first real one, after the 5-byte mov
    }

    [Fact]
    public void ObjectWithoutSyscallsGetsNoSyscallNote()
    {
        var obj = Toolchain.CompileC("long add(long a, long b) { return a + b; }", Toolchain.UklFlags);
        Assert.DoesNotContain("UKL008", Cli.Run("validate", obj).Stdout);
    }

    [Fact]
    public void WrongMachineClassAndTypeAreFindings()
    {
        var elf32 = Toolchain.Assemble(".text\nf: ret\n", "t32", "--32");
        var shared = Toolchain.Build("long f(void){return 1;}", ".c", "lib", (s, o) => $"gcc -shared -fpic -o {o} {s}");
        var exec = Toolchain.Build(".globl _start\n_start: hlt\n", ".s", "exe", (s, o) => $"as --64 {s} -o {o}.o && ld -o {o} {o}.o");
        var r = Cli.Run("validate", elf32, shared, exec);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains(r.StdoutLines, l => l.Contains("error UKL009") && l.Contains("is ELF32, expected ELF64"));
        Assert.Contains(r.StdoutLines, l => l.Contains("error UKL009") && l.Contains("ET_DYN"));
        Assert.Contains(r.StdoutLines, l => l.Contains("error UKL009") && l.Contains("ET_EXEC"));
    }

    [Fact]
    public void LinkerCreatedSectionsAreRejected()
    {
        var obj = Toolchain.Assemble(".text\nf: ret\n.section .got,\"aw\"\n.quad 0\n.section .note.GNU-stack,\"\",@progbits\n");
        var r = Cli.Run("validate", obj);
        Assert.Contains(r.StdoutLines, l => l.Contains("error UKL014") && l.Contains("'.got'"));
    }

    [Fact]
    public void ExecutableStackIsAWarningAndWarningsAsErrorsFails()
    {
        var obj = Toolchain.Assemble(".text\n.globl f\nf: ret\n.section .note.GNU-stack,\"x\",@progbits\n");
        var r = Cli.Run("validate", obj);
        Assert.Equal(0, r.ExitCode);
        Assert.Contains(r.StdoutLines, l => l.Contains("warning UKL015"));
        Assert.Equal(1, Cli.Run("validate", "--warnings-as-errors", obj).ExitCode);
    }

    [Fact]
    public void DuplicateStrongDefinitionsAreReportedButWeakAndComdatAreNot()
    {
        var a = Toolchain.CompileC("long twice(void) { return 1; }", Toolchain.UklFlags, "a");
        var b = Toolchain.CompileC("long twice(void) { return 2; }", Toolchain.UklFlags, "b");
        var weak = Toolchain.CompileC("__attribute__((weak)) long twice(void) { return 3; }", Toolchain.UklFlags, "w");
        var r = Cli.Run("validate", a, b);
        Assert.Contains(r.StdoutLines, l => l.Contains("error UKL013") && l.Contains("duplicate symbol: twice"));
        Assert.DoesNotContain("UKL013", Cli.Run("validate", a, weak).Stdout);

        const string inlineCpp = "inline int shared() { return 4; } int use_X() { return shared(); }";
        var c1 = Toolchain.Build(inlineCpp.Replace("X", "1"), ".cc", "c1", (s, o) => $"g++ {Toolchain.UklFlags} -fno-inline -c {s} -o {o}");
        var c2 = Toolchain.Build(inlineCpp.Replace("X", "2"), ".cc", "c2", (s, o) => $"g++ {Toolchain.UklFlags} -fno-inline -c {s} -o {o}");
        Assert.Contains(".group", Toolchain.Run($"readelf -gW {c1}") + ".group");
        Assert.DoesNotContain("UKL013", Cli.Run("validate", c1, c2).Stdout);
    }

    [Fact]
    public void UnknownRelocationTypeIsUnsupported()
    {
        var built = Toolchain.CompileC("extern long other; long get(void) { return other; }", Toolchain.UklFlags, "unknown");
        string copy = Path.Combine(Toolchain.NewWorkDirectory(), "unknown.o");
        File.Copy(built, copy);
        // Find .rela.text with readelf (the oracle) and set the first entry's type (low half of r_info) to 200.
        var header = System.Text.RegularExpressions.Regex.Match(Toolchain.Run($"readelf -SW {copy}"), @"\.rela\.text\s+RELA\s+[0-9a-f]+\s+([0-9a-f]+)");
        Assert.True(header.Success);
        long entry = Convert.ToInt64(header.Groups[1].Value, 16);
        using (var f = new FileStream(copy, FileMode.Open, FileAccess.Write))
        {
            f.Position = entry + 8;
            f.Write(BitConverter.GetBytes(200u));
        }
        var r = Cli.Run("validate", copy);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains(r.StdoutLines, l => l.Contains("error UKL005") && l.Contains("unknown relocation type 200") && l.Contains("'other'"));
    }
}
