using System.Buffers.Binary;
using ELFSharp.ELF;
using ELFSharp.ELF.Sections;
using UklLink.Kernel;
using UklLink.Tests.Support;
using Xunit;

namespace UklLink.Tests.Link;

/// <summary>`ukl-link link` against the small stand-in kernel: placement, descriptor, symbols, errors, determinism.</summary>
public class LinkBehaviourTests
{
    private const string App = """
        extern int kernel_print(const char *);
        static const char greeting[] = "hello";
        __thread long tls_init = 5;
        __thread long tls_zero;
        long counter = 3;
        long zeroed[8];
        long _start(void) { tls_zero++; zeroed[2] = counter; kernel_print(greeting); return tls_init; }
        """;

    private static string Obj(string source, string name, string flags = Toolchain.UklFlags) => Toolchain.CompileC(source, flags, name);

    private static string Kernel() => FakeKernel.Build(1, "kernel_print");

    private static string Out() => Path.Combine(Toolchain.NewWorkDirectory(), "vmlinux.app");

    private static ulong Symbol(IELF elf, string name) =>
        ((ISymbolTable)elf.GetSection(".symtab")).Entries.Cast<SymbolEntry<ulong>>().Last(e => e.Name == name).Value; // the stand-in kernel has its own _start; the app's symbols come after the kernel's

    [Fact]
    public void PlacesEachKindOfSectionInItsSlotAndFillsTheDescriptor()
    {
        var kernel = Kernel();
        var output = Out();
        var r = Cli.Run("link", "--kernel", kernel, "-o", output, Obj(App, "app"));
        Assert.True(r.ExitCode == 0, r.Stderr);

        using var k = KernelImage.Load(output);
        var slots = k.GetSlots(out _).ToDictionary(s => s.Name.Role);
        using var elf = ELFReader.Load(output);
        bool In(string role, ulong a) => a >= slots[role].Start && a < slots[role].End;
        Assert.True(In("text", Symbol(elf, "_start")));
        Assert.True(In("rodata", Symbol(elf, "greeting")));
        Assert.True(In("data", Symbol(elf, "counter")));
        Assert.True(In("bss", Symbol(elf, "zeroed")));
        Assert.Equal(3L, BitConverter.ToInt64(k.ReadBytes(Symbol(elf, "counter"), 8)));
        Assert.Equal("hello\0", System.Text.Encoding.ASCII.GetString(k.ReadBytes(Symbol(elf, "greeting"), 6)!));

        var d = k.ReadBytes(k.DescriptorAddress!.Value, 192)!;
        ulong F(int off) => BinaryPrimitives.ReadUInt64LittleEndian(d.AsSpan(off));
        Assert.Equal(SlotAbi.AppMagic, F(SlotAbi.Offsets.Magic));
        Assert.Equal(Symbol(elf, "_start"), F(SlotAbi.Offsets.Entry));
        // TLS: 8 bytes of .tdata then 8 of .tbss; the image starts at __tls_data_start and holds tls_init's 5.
        Assert.Equal(Symbol(elf, "__tls_data_start"), F(SlotAbi.Offsets.TlsImage));
        Assert.Equal(8UL, F(SlotAbi.Offsets.TlsFileSize));
        Assert.Equal(16UL, F(SlotAbi.Offsets.TlsMemSize));
        Assert.Equal(5L, BitConverter.ToInt64(k.ReadBytes(F(SlotAbi.Offsets.TlsImage), 8)));
        // ELF TLS symbols hold offsets in the TLS block.
        Assert.Equal(0UL, Symbol(elf, "tls_init"));
        Assert.Equal(8UL, Symbol(elf, "tls_zero"));

        // Program headers: parse them from the image and check them against the descriptor's ranges.
        int phnum = (int)F(SlotAbi.Offsets.Phnum);
        Assert.Equal(56UL, F(SlotAbi.Offsets.Phentsize));
        var table = k.ReadBytes(F(SlotAbi.Offsets.Phdr), phnum * 56)!;
        var types = Enumerable.Range(0, phnum).Select(i => BinaryPrimitives.ReadUInt32LittleEndian(table.AsSpan(i * 56))).ToList();
        Assert.Equal(4, types.Count(t => t == 1)); // text, rodata, data, bss
        Assert.Contains(7u, types);                // PT_TLS
        Assert.Contains(0x6474e551u, types);       // PT_GNU_STACK
        int tls = types.IndexOf(7);
        Assert.Equal(F(SlotAbi.Offsets.TlsImage), BinaryPrimitives.ReadUInt64LittleEndian(table.AsSpan(tls * 56 + 16)));
        Assert.Equal(F(SlotAbi.Offsets.TextStart), slots["text"].Start);
        Assert.True(F(SlotAbi.Offsets.TextEnd) > Symbol(elf, "_start"));
        Assert.InRange(F(SlotAbi.Offsets.Phdr), F(SlotAbi.Offsets.DataStart), F(SlotAbi.Offsets.DataEnd) - 1);
    }

    [Fact]
    public void CallsIntoTheKernelAreResolvedToKernelSymbols()
    {
        var kernel = Kernel();
        var output = Out();
        Assert.Equal(0, Cli.Run("link", "--kernel", kernel, "-o", output, Obj(App, "app")).ExitCode);
        using var elf = ELFReader.Load(output);
        using var k = KernelImage.Load(output);
        // Find the call rel32 in _start that lands on kernel_print: decode with objdump as an outside check.
        string dis = Toolchain.Run($"objdump -d --start-address=0x{Symbol(elf, "_start"):x} --stop-address=0x{Symbol(elf, "_start") + 64:x} {output}");
        Assert.Contains($"call   {Symbol(elf, "kernel_print"):x} <kernel_print>", dis);
    }

    [Fact]
    public void SameInputsGiveTheSameBytes()
    {
        var kernel = Kernel();
        var obj = Obj(App, "app");
        var a = Out();
        var b = Out();
        Assert.Equal(0, Cli.Run("link", "-k", kernel, "-o", a, obj).ExitCode);
        Assert.Equal(0, Cli.Run("link", "-k", kernel, "-o", b, obj).ExitCode);
        Assert.Equal(File.ReadAllBytes(a), File.ReadAllBytes(b));
    }

    [Fact]
    public void UndefinedSymbolIsReportedLikeLld()
    {
        var obj = Obj("extern int nothere(void);\nint _start(void) { return nothere(); }", "undef", Toolchain.UklFlags + " -g");
        var output = Out();
        var r = Cli.Run("link", "-k", Kernel(), "-o", output, obj);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("error UKL010: undefined symbol: nothere", r.Stderr);
        Assert.Matches(@">>> referenced by \S+\.c:2 \(\S+undef\.o:\(\.text\+0x[0-9a-f]+\)\)", r.Stderr);
        Assert.False(File.Exists(output));
        Assert.Empty(Directory.GetFiles(Path.GetDirectoryName(output)!));
    }

    [Fact]
    public void DuplicateStrongDefinitionsAreAnError()
    {
        var a = Obj("int twice(void) { return 1; } int _start(void) { return twice(); }", "dup1");
        var b = Obj("int twice(void) { return 2; }", "dup2");
        var r = Cli.Run("link", "-k", Kernel(), "-o", Out(), a, b);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("UKL013", r.Stderr);
        Assert.Contains("duplicate symbol: twice", r.Stderr);
    }

    [Fact]
    public void WeakDefinitionLosesToStrongAndUndefinedWeakIsZero()
    {
        var a = Obj("""
            __attribute__((weak)) long pick(void) { return 1; }
            extern long maybe __attribute__((weak));
            long *where(void) { return &maybe; }
            long _start(void) { return pick(); }
            """, "weak1");
        var b = Obj("long pick(void) { return 2; }", "weak2");
        var output = Out();
        var r = Cli.Run("link", "-k", Kernel(), "-o", output, a, b);
        Assert.True(r.ExitCode == 0, r.Stderr);
        using var elf = ELFReader.Load(output);
        string dis = Toolchain.Run($"objdump -d --start-address=0x{Symbol(elf, "where"):x} --stop-address=0x{Symbol(elf, "where") + 8:x} {output}");
        Assert.Contains("mov    $0x0,%rax", dis); // &maybe is 0 (R_X86_64_32S against an undefined weak)
        string start = Toolchain.Run($"objdump -d --start-address=0x{Symbol(elf, "_start"):x} --stop-address=0x{Symbol(elf, "_start") + 8:x} {output}");
        Assert.Contains("<pick>", start);
        // The strong pick (returning 2) is the one in the image.
        var k = KernelImage.Load(output);
        Assert.Equal(new byte[] { 0xb8, 0x02, 0, 0, 0 }, k.ReadBytes(Symbol(elf, "pick"), 5));
        k.Dispose();
    }

    [Fact]
    public void SlotTooSmallNamesBytesAndTheKernelOption()
    {
        // The stand-in kernel's data slot is 8 KiB.
        var obj = Obj("long big[2048] = {1}; long _start(void) { return big[5]; }", "big");
        var r = Cli.Run("link", "-k", Kernel(), "-o", Out(), obj);
        Assert.Equal(1, r.ExitCode);
        var line = Assert.Single(r.StderrLines, l => l.Contains("UKL020"));
        Assert.Contains("data slot too small: the application needs 16384 bytes", line);
        Assert.Contains("has 8192 bytes", line);
        Assert.Contains("CONFIG_UKL_DATA_SLOT_SIZE=0x4000", r.Stderr);
    }

    [Fact]
    public void RelocationOverflowNamesTypeSymbolAndPlace()
    {
        // A small-model absolute address of a kernel-half symbol cannot be stored in 32 zero-extended bits.
        var obj = Obj("static long v; long *_start(void) { return &v; }", "overflow", Toolchain.SmallModelFlags + " -mno-red-zone");
        var r = Cli.Run("link", "-k", Kernel(), "-o", Out(), obj);
        Assert.Equal(1, r.ExitCode);
        var line = Assert.Single(r.StderrLines, l => l.Contains("UKL021"));
        Assert.Matches(@"overflow\.o:\(\.text\+0x[0-9a-f]+\): error UKL021: relocation R_X86_64_32 out of range: 0xffffffff8[0-9a-f]+ is not in \[0, 0xffffffff\]; references 'v'", line);
    }

    [Fact]
    public void OverflowWithTheMostNegativeAddendIsAFindingNotACrash()
    {
        // fuzz/run's link target found this: the report of an overflowing relocation against a section symbol
        // negated the addend, and -2^63 has no positive long (internal error, exit 2, instead of UKL021).
        var obj = Toolchain.Assemble("""
                .text
                .globl _start
            _start:
                ret
                .data
            v:  .quad 0
                .long v - 0x8000000000000000
                .long v + 0x7ffffffffffffff0
            """, "minaddend");
        var r = Cli.Run("link", "-k", Kernel(), "-o", Out(), obj);
        Assert.True(r.ExitCode == 1, r.Stderr);
        Assert.DoesNotContain("internal error", r.Stderr);
        Assert.Contains(r.StderrLines, l => l.Contains("error UKL021") && l.Contains("references section '.data'-0x8000000000000000 ["));
        Assert.Contains(r.StderrLines, l => l.Contains("error UKL021") && l.Contains("references section '.data'+0x7ffffffffffffff0 ["));
    }

    [Fact]
    public void SectionNoRuleMatchesIsAnError()
    {
        var obj = Obj("__attribute__((section(\"mystery\"))) long odd = 1; long _start(void) { return odd; }", "orphan");
        var r = Cli.Run("link", "-k", Kernel(), "-o", Out(), obj);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("error UKL022: section 'mystery' (8 bytes) matches no rule", r.Stderr);
    }

    [Fact]
    public void MissingEntryIsAnErrorAndEntryCanBeChosen()
    {
        var obj = Obj("int main(void) { return 0; }", "noentry");
        var r = Cli.Run("link", "-k", Kernel(), "-o", Out(), obj);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("UKL024", r.Stderr);
        Assert.Contains("entry symbol '_start'", r.Stderr);
        var output = Out();
        Assert.Equal(0, Cli.Run("link", "-k", Kernel(), "-o", output, "--entry", "main", obj).ExitCode);
        using var k = KernelImage.Load(output);
        using var elf = ELFReader.Load(output);
        Assert.Equal(Symbol(elf, "main"), BinaryPrimitives.ReadUInt64LittleEndian(k.ReadBytes(k.DescriptorAddress!.Value + SlotAbi.Offsets.Entry, 8)));
    }

    [Fact]
    public void KernelWithoutSlotsAndLinkedKernelAreRefused()
    {
        var obj = Obj(App, "app");
        var r = Cli.Run("link", "-k", FakeKernel.Build(null), "-o", Out(), obj);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("UKL012", r.Stderr);
        var linked = Out();
        Assert.Equal(0, Cli.Run("link", "-k", Kernel(), "-o", linked, obj).ExitCode);
        var again = Cli.Run("link", "-k", linked, "-o", Out(), obj);
        Assert.Equal(1, again.ExitCode);
        Assert.Contains("already has an application linked", again.Stderr);
    }

    [Fact]
    public void BadScriptAndMissingFilesAreOneLineUsageErrors()
    {
        string dir = Toolchain.NewWorkDirectory();
        string script = Path.Combine(dir, "bad.ld");
        File.WriteAllText(script, "SECTIONS {\n  .text : { *(.text) \n");
        var obj = Obj(App, "app");
        var r = Cli.Run("link", "-k", Kernel(), "-o", Out(), "--script", script, obj);
        Assert.Equal(2, r.ExitCode);
        var line = Assert.Single(r.StderrLines);
        Assert.StartsWith($"ukl-link: error: {script}:", line);

        var missing = Cli.Run("link", "-k", Kernel(), "-o", Out(), Path.Combine(dir, "nope.o"));
        Assert.Equal(2, missing.ExitCode);
        Assert.Single(missing.StderrLines);
        Assert.Contains("nope.o", missing.Stderr);
        var noKernel = Cli.Run("link", "-k", Path.Combine(dir, "vmlinux"), "-o", Out(), obj);
        Assert.Equal(2, noKernel.ExitCode);
        Assert.Single(noKernel.StderrLines);
    }

    [Fact]
    public void ScriptPlacingASectionOutsideTheSlotsIsRejected()
    {
        string dir = Toolchain.NewWorkDirectory();
        string script = Path.Combine(dir, "outside.ld");
        File.WriteAllText(script, "SECTIONS { . = 0xffffffff90000000; .text : { *(.text*) } /DISCARD/ : { *(*) } }\n");
        var r = Cli.Run("link", "-k", Kernel(), "-o", Out(), "--script", script, Obj(App, "app"));
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("UKL023", r.Stderr);
        Assert.Contains("lies in no slot", r.Stderr);
    }

    /// <summary>
    /// Found by the `script` fuzz target: code placed in the bss slot (NOBITS in the kernel) made the vmlinux writer fail
    /// with an error blaming the kernel; it is a finding on the script, and nothing is written.
    /// </summary>
    [Fact]
    public void ScriptPuttingContentsIntoTheBssSlotIsAFindingOnTheScript()
    {
        string dir = Toolchain.NewWorkDirectory();
        string script = Path.Combine(dir, "bss-text.ld");
        File.WriteAllText(script, "ENTRY(_start)\nSECTIONS {\n  . = __ukl_rodata_slot_start;\n  .rodata : { *(.rodata*) }\n" +
            "  . = __ukl_data_slot_start;\n  .data : { *(.data*) }\n  . = __ukl_bss_slot_start;\n  .bss.text : { *(.text*) }\n" +
            "  .bss : { *(.bss*) *(COMMON) }\n  /DISCARD/ : { *(.comment) *(.note*) *(.eh_frame) }\n}\n");
        string output = Out();
        var r = Cli.Run("link", "-k", Kernel(), "-o", output, "--script", script, Obj(App, "app"));
        Assert.True(r.ExitCode == 1, r.Stdout + r.Stderr);
        Assert.Contains("UKL023", r.Stderr);
        Assert.Contains("output section .bss.text", r.Stderr);
        Assert.Contains("bss slot", r.Stderr);
        Assert.Contains(script, r.Stderr);
        Assert.DoesNotContain("not inside a kernel section", r.Stderr);
        Assert.False(File.Exists(output));
    }

    [Fact]
    public void MapListsEveryInputSectionAndSymbolWithItsAddress()
    {
        var kernel = Kernel();
        var output = Out();
        string map = output + ".map", json = output + ".json";
        var obj = Obj(App, "app");
        Assert.Equal(0, Cli.Run("link", "-k", kernel, "-o", output, "--map", map, obj).ExitCode);
        Assert.Equal(0, Cli.Run("link", "-k", kernel, "-o", output, "--map", json, "--map-format", "json", obj).ExitCode);
        using var elf = ELFReader.Load(output);
        string text = File.ReadAllText(map);
        Assert.Contains($"{Symbol(elf, "_start"):x}", text);
        Assert.Matches(@"app\.o:\(\.text(\.startup)?\)", text);
        using var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllText(json));
        var syms = doc.RootElement.GetProperty("symbols").EnumerateArray().ToDictionary(e => e.GetProperty("name").GetString()!, e => e.GetProperty("address").GetString()!);
        Assert.Equal($"0x{Symbol(elf, "counter"):x}", syms["counter"]);
        Assert.Equal($"0x{Symbol(elf, "_start"):x}", syms["_start"]);
        var sections = doc.RootElement.GetProperty("sections").EnumerateArray().Select(e => e.GetProperty("name").GetString()).ToList();
        Assert.Contains(".text", sections);
        Assert.Contains(".tdata", sections);
    }

    [Fact]
    public void ArchiveMembersArePulledOnlyWhenNeeded()
    {
        var main = Obj("extern long used(void); long _start(void) { return used(); }", "arch-main");
        var used = Obj("long used(void) { return 11; }", "arch-used");
        var unused = Obj("long unused_but_archived(void) { return 12; }", "arch-unused");
        string dir = Toolchain.NewWorkDirectory();
        string lib = Path.Combine(dir, "libx.a");
        Toolchain.Run($"ar rcs {lib} {used} {unused}");
        var output = Out();
        Assert.Equal(0, Cli.Run("link", "-k", Kernel(), "-o", output, main, lib).ExitCode);
        using var elf = ELFReader.Load(output);
        var names = ((ISymbolTable)elf.GetSection(".symtab")).Entries.Select(e => e.Name).ToHashSet();
        Assert.Contains("used", names);
        Assert.DoesNotContain("unused_but_archived", names);
    }

    [Fact]
    public void ValidateWithKernelReportsWhatLinkWouldFailOn()
    {
        var big = Obj("long big[2048] = {1}; long _start(void) { return big[5]; }", "big");
        var r = Cli.Run("validate", "--kernel", Kernel(), big);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("UKL020", r.Stdout);
        var fine = Cli.Run("validate", "--kernel", Kernel(), Obj(App, "app"));
        Assert.True(fine.ExitCode == 0, fine.Stdout);
    }

    [Fact]
    public void ApplicationDwarfIsRelocatedSoAddr2lineFindsTheSource()
    {
        string source = "extern int kernel_print(const char *);\nstatic int twice(int x) { return 2 * x; }\nint _start(void)\n{\n    return kernel_print(\"x\") + twice(3);\n}\n";
        var obj = Obj(source, "dwarf", Toolchain.UklFlags + " -g -O1");
        var output = Out();
        Assert.Equal(0, Cli.Run("link", "-k", Kernel(), "-o", output, obj).ExitCode);
        using var elf = ELFReader.Load(output);
        string where = Toolchain.Run($"addr2line -f -e {output} 0x{Symbol(elf, "_start"):x}");
        Assert.Contains("_start", where);
        Assert.Matches(@"\.c:[345]\b", where);
    }

    [Fact]
    public void LargeModelGotEntryOffsetsAreRejectedWithTheirRule()
    {
        string dir = Toolchain.NewWorkDirectory();
        string src = Path.Combine(dir, "large.s");
        File.WriteAllText(src, ".text\n.globl _start\n_start:\n movabsq $counter@GOTOFF, %rdx\n movabsq $counter@GOT, %rdx\n ret\n.data\n.globl counter\ncounter: .quad 1\n.section .note.GNU-stack,\"\",@progbits\n");
        string obj = Path.Combine(dir, "large.o");
        Toolchain.Run($"as --64 {src} -o {obj}");
        var r = Cli.Run("link", "-k", Kernel(), "-o", Out(), obj);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("error UKL005: relocation R_X86_64_GOT64 is not supported", r.Stderr);
        Assert.DoesNotContain("GOTOFF64", r.Stderr); // GOT-relative data addresses are supported (base: .got.plt)
    }

    private const string SyscallApp = """
        static long sys_write(long fd, const void *buf, long n)
        {
            long ret;
            __asm__ volatile("syscall" : "=a"(ret) : "a"(1L), "D"(fd), "S"(buf), "d"(n) : "rcx", "r11", "memory");
            return ret;
        }
        long _start(void) { return sys_write(1, "hi\n", 3); }
        """;

    [Fact]
    public void SyscallSitesJumpToTrampolinesThatCallTheKernelEntry()
    {
        var kernel = FakeKernel.Build(1, "kernel_print", "ukl_entry_SYSCALL_64");
        var output = Out();
        string map = output + ".map";
        var r = Cli.Run("link", "-k", kernel, "-o", output, "--map", map, Obj(SyscallApp, "sysapp"));
        Assert.True(r.ExitCode == 0, r.Stderr);
        using var elf = ELFReader.Load(output);
        ulong entry = Symbol(elf, "ukl_entry_SYSCALL_64");
        // objdump is the outside judge: no syscall left in the app, a jmp from _start, and the trampoline's
        // mov $ukl_entry_SYSCALL_64,%rcx; call *%rcx.
        ulong start = Symbol(elf, "_start");
        string text = Toolchain.Run($"objdump -d --start-address=0x{start:x} --stop-address=0x{start + 0x100:x} {output}");
        Assert.DoesNotContain("syscall", text);
        var jmp = System.Text.RegularExpressions.Regex.Match(text, @"jmp\s+([0-9a-f]+)");
        Assert.True(jmp.Success, text);
        ulong tramp = Convert.ToUInt64(jmp.Groups[1].Value, 16);
        string trampText = Toolchain.Run($"objdump -d --start-address=0x{tramp:x} --stop-address=0x{tramp + 32:x} {output}");
        Assert.Contains($"mov    $0x{entry:x},%rcx", trampText);
        Assert.Contains("call   *%rcx", trampText);
        Assert.Contains("ff d1", trampText);
        string mapText = File.ReadAllText(map);
        Assert.Contains("Syscall rewrite: 1 sites found, 1 jump to a trampoline (0 through a bypass entry), 0 int $0x81 fallback, 0 left unchanged", mapText);
        Assert.Contains($"{tramp:x}", mapText);
        Assert.Contains("syscall 1 (write)", mapText);
        Assert.DoesNotContain("bypass ukl_", mapText);
    }

    /// <summary>The trampoline's target, read back from the output with objdump: the address its mov loads into %rcx.</summary>
    private static ulong TrampolineTarget(string output)
    {
        using var elf = ELFReader.Load(output);
        ulong start = Symbol(elf, "_start");
        string text = Toolchain.Run($"objdump -d --start-address=0x{start:x} --stop-address=0x{start + 0x100:x} {output}");
        var jmp = System.Text.RegularExpressions.Regex.Match(text, @"jmp\s+([0-9a-f]+)");
        Assert.True(jmp.Success, text);
        ulong tramp = Convert.ToUInt64(jmp.Groups[1].Value, 16);
        string trampText = Toolchain.Run($"objdump -d --start-address=0x{tramp:x} --stop-address=0x{tramp + 32:x} {output}");
        Assert.Contains("jmp    *%rcx", trampText);
        var mov = System.Text.RegularExpressions.Regex.Match(trampText, @"mov\s+\$0x([0-9a-f]+),%rcx");
        Assert.True(mov.Success, trampText);
        return Convert.ToUInt64(mov.Groups[1].Value, 16);
    }

    [Fact]
    public void BypassPointsAConstantNumberSiteAtTheKernelsEntryForIt()
    {
        var kernel = FakeKernel.BuildV2(UklLink.Kernel.SlotAbi.Features.EventStack | UklLink.Kernel.SlotAbi.Features.Bypass,
            "kernel_print", "ukl_entry_SYSCALL_64", "ukl_bypass_0", "ukl_bypass_1");
        var obj = Obj(SyscallApp, "sysapp");
        var output = Out();
        var r = Cli.Run("link", "-v", "-k", kernel, "-o", output, "--map", output + ".map", "--bypass", obj);
        Assert.True(r.ExitCode == 0, r.Stderr);
        using (var elf = ELFReader.Load(output))
            Assert.Equal(Symbol(elf, "ukl_bypass_1"), TrampolineTarget(output));
        string map = File.ReadAllText(output + ".map");
        Assert.Contains("1 jump to a trampoline (1 through a bypass entry)", map);
        Assert.Matches(@"trampoline for .*sysapp.*, syscall 1 \(write\), bypass ukl_bypass_1\n", map);
        Assert.Contains(r.StderrLines, l => l.Contains("bypass:") && l.Contains("syscall 1 (write) -> ukl_bypass_1"));
        Assert.DoesNotContain("UKL030", r.Stderr);

        // Without --bypass the same kernel gets the plain rewrite.
        var plain = Out();
        Assert.Equal(0, Cli.Run("link", "-k", kernel, "-o", plain, obj).ExitCode);
        using (var elf = ELFReader.Load(plain))
            Assert.Equal(Symbol(elf, "ukl_entry_SYSCALL_64"), TrampolineTarget(plain));
    }

    [Theory]
    [InlineData(false)] // the feature bit is not set (its symbol alone does not count)
    [InlineData(true)]  // the bit is set but no entry is defined
    public void BypassWithAKernelWithoutEntriesIsANoteAndThePlainRewrite(bool featureBit)
    {
        ulong features = UklLink.Kernel.SlotAbi.Features.EventStack | (featureBit ? UklLink.Kernel.SlotAbi.Features.Bypass : 0);
        var kernel = featureBit
            ? FakeKernel.BuildV2(features, "kernel_print", "ukl_entry_SYSCALL_64")
            : FakeKernel.BuildV2(features, "kernel_print", "ukl_entry_SYSCALL_64", "ukl_bypass_1");
        var output = Out();
        var r = Cli.Run("link", "-k", kernel, "-o", output, "--bypass", Obj(SyscallApp, "sysapp"));
        Assert.True(r.ExitCode == 0, r.Stderr);
        var note = Assert.Single(r.StderrLines, l => l.Contains("UKL030"));
        Assert.Contains(featureBit ? "defines no ukl_bypass_<nr> symbol" : "feature bit 2 is not set", note);
        using var elf = ELFReader.Load(output);
        Assert.Equal(Symbol(elf, "ukl_entry_SYSCALL_64"), TrampolineTarget(output));
    }

    [Fact]
    public void KernelWithoutTheSyscallEntryIsRefusedUnlessRewritingIsOff()
    {
        var obj = Obj(SyscallApp, "sysapp");
        var r = Cli.Run("link", "-k", Kernel(), "-o", Out(), obj);
        Assert.Equal(1, r.ExitCode);
        var line = Assert.Single(r.StderrLines, l => l.Contains("UKL027"));
        Assert.Contains("does not define ukl_entry_SYSCALL_64", line);
        var v = Cli.Run("validate", "--kernel", Kernel(), obj);
        Assert.Equal(1, v.ExitCode);
        Assert.Contains("UKL027", v.Stdout);
        var output = Out();
        Assert.Equal(0, Cli.Run("link", "-k", Kernel(), "-o", output, "--no-syscall-rewrite", obj).ExitCode);
        using var elf = ELFReader.Load(output);
        ulong start = Symbol(elf, "_start");
        Assert.Contains("syscall", Toolchain.Run($"objdump -d --start-address=0x{start:x} --stop-address=0x{start + 0x40:x} {output}"));
    }

    [Fact]
    public void ValidateAndLinkAgreeOnNamesTheLinkDefinesItself()
    {
        // A general-dynamic TLS access calls __tls_get_addr, which the static link relaxes away, and the default
        // script defines __init_array_start: neither is undefined for link, so neither may be for validate.
        var obj = Obj("__thread int t; extern void (*__init_array_start[])(void); long _start(void) { return t + (long)__init_array_start; }",
            "gd", Toolchain.UklFlags.Replace("-fno-pic", "-fpic") + " -ftls-model=global-dynamic");
        var v = Cli.Run("validate", "--kernel", Kernel(), obj);
        Assert.DoesNotContain("UKL010", v.Stdout);
        Assert.Equal(0, Cli.Run("link", "-k", Kernel(), "-o", Out(), obj).ExitCode);
        // __executable_start is in ld's default script, not in ukl-app.ld: undefined for both.
        var undefined = Obj("extern int __executable_start; long _start(void) { return (long)&__executable_start; }", "exec_start");
        Assert.Contains("undefined symbol: __executable_start", Cli.Run("validate", "--kernel", Kernel(), undefined).Stdout);
        Assert.Equal(1, Cli.Run("link", "-k", Kernel(), "-o", Out(), undefined).ExitCode);
    }

    /// <summary>
    /// __ehdr_start (which glibc's static start-up uses when AT_PHDR is missing) names a real ELF header in the data
    /// slot, whose e_phoff leads to the descriptor's program header table; validate agrees that it is defined.
    /// </summary>
    [Fact]
    public void EhdrStartNamesAnElfHeaderBeforeTheProgramHeaders()
    {
        var obj = Obj("extern const char __ehdr_start[]; const char *header(void) { return __ehdr_start; } long _start(void) { return 0; }", "ehdr");
        Assert.DoesNotContain("UKL010", Cli.Run("validate", "--kernel", Kernel(), obj).Stdout);
        var output = Out();
        var r = Cli.Run("link", "-k", Kernel(), "-o", output, obj);
        Assert.True(r.ExitCode == 0, r.Stderr);
        using var k = KernelImage.Load(output);
        using var elf = ELFReader.Load(output);
        ulong ehdr = Symbol(elf, "__ehdr_start");
        var header = k.ReadBytes(ehdr, 64)!;
        Assert.Equal(new byte[] { 0x7f, (byte)'E', (byte)'L', (byte)'F', 2, 1, 1 }, header[..7]);
        Assert.Equal(Symbol(elf, "_start"), BinaryPrimitives.ReadUInt64LittleEndian(header.AsSpan(24)));
        var d = k.ReadBytes(k.DescriptorAddress!.Value, 192)!;
        ulong F(int off) => BinaryPrimitives.ReadUInt64LittleEndian(d.AsSpan(off));
        Assert.Equal(F(SlotAbi.Offsets.Phdr), ehdr + BinaryPrimitives.ReadUInt64LittleEndian(header.AsSpan(32)));
        Assert.Equal(F(SlotAbi.Offsets.Phnum), BinaryPrimitives.ReadUInt16LittleEndian(header.AsSpan(56)));
        Assert.Equal(56, BinaryPrimitives.ReadUInt16LittleEndian(header.AsSpan(54)));
        Assert.InRange(ehdr, F(SlotAbi.Offsets.DataStart), F(SlotAbi.Offsets.DataEnd) - 64);
    }

    /// <summary>gcc -static's crtbeginT.o cannot reach kernel addresses: the error says which start files to use instead.</summary>
    [Fact]
    public void CrtbeginTGetsTheStartFilesToUseInstead()
    {
        var app = Obj("long _start(void) { return 0; }", "crt_app");
        var r = Cli.Run("link", "-k", Kernel(), "-o", Out(), LinkCorpus.GccFile("crtbeginT.o"), app, LinkCorpus.GccFile("crtend.o"));
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("UKL021", r.Stdout + r.Stderr);
        Assert.Contains("crtbeginS.o and crtendS.o", r.Stdout + r.Stderr);
    }
}
