using System.Buffers.Binary;
using ELFSharp.ELF;
using ELFSharp.ELF.Sections;
using UklLink.Tests.Support;
using Xunit;

namespace UklLink.Tests.Link;

/// <summary>
/// Every relocation type <c>X86_64/Relocator.cs</c> applies is exercised with a value a test checks, so breaking the
/// handling of any one type fails a test (tests/mutate-relocator demonstrates it). The C corpus covers the common
/// types; this covers what compilers rarely emit (8/16-bit fields, GOT-relative and TLS data fields) against GNU ld
/// and against the psABI formulas, and the two relocation errors (UKL025, UKL026).
/// </summary>
public class RelocationTypeTests
{
    private static string Fixture(string file) =>
        Toolchain.Assemble(File.ReadAllText(Path.Combine(RepositoryPaths.Root, "tests", "UklLink.Tests", "Link", "Fixtures", file)),
            Path.GetFileNameWithoutExtension(file));

    private static LinkCase Fields(TestKernel k) => new("RelocationFields", [Fixture("reloc_fields_a.s"), Fixture("reloc_fields_b.s")]);

    /// <summary>R_X86_64_8/16/32, PC8/PC16, GOTPC32/GOTPC64, GOTOFF64, TPOFF32/TPOFF64, DTPOFF32/DTPOFF64 in data.</summary>
    [Fact]
    public void RarelyEmittedTypesMatchGnuLd() => LinkDifferentialTests.Check(Fields, TestKernel.Fake);

    /// <summary>The same fields recomputed from the psABI formulas and ukl-link's own symbol values.</summary>
    [Fact]
    public void RarelyEmittedTypesHoldThePsAbiValues()
    {
        string output = LinkDifferentialTests.Check(Fields, TestKernel.Fake);
        using var elf = ELFReader.Load<ulong>(output);
        var symbols = ((SymbolTable<ulong>)elf.GetSection(".symtab")).Entries.GroupBy(e => e.Name).ToDictionary(g => g.Key, g => g.Last());
        ulong S(string name) => symbols[name].Value;
        byte[] Bytes(ulong address, int count)
        {
            var section = elf.Sections.OfType<ProgBitsSection<ulong>>().Single(s => s.LoadAddress <= address && address + (ulong)count <= s.LoadAddress + s.Size);
            return section.GetContents().AsSpan((int)(address - section.LoadAddress), count).ToArray();
        }

        ulong pc = S("pc_fields");
        var f = Bytes(pc, 24);
        ulong near = S("near_b");
        Assert.Equal((sbyte)(near - pc), (sbyte)f[0]);                                                        // PC8
        Assert.Equal((sbyte)(near - (pc + 1) + 3), (sbyte)f[1]);                                              // PC8 + addend
        Assert.Equal((short)(near - (pc + 2)), BinaryPrimitives.ReadInt16LittleEndian(f.AsSpan(2)));          // PC16
        Assert.Equal((short)(near - (pc + 4) - 100), BinaryPrimitives.ReadInt16LittleEndian(f.AsSpan(4)));    // PC16 + addend
        Assert.Equal(0x5a, f[6]);                                                                             // 8
        Assert.Equal(0x5c, f[7]);                                                                             // 8 + addend
        Assert.Equal(0x1234, BinaryPrimitives.ReadUInt16LittleEndian(f.AsSpan(8)));                           // 16
        Assert.Equal(0x1234 - 7, BinaryPrimitives.ReadUInt16LittleEndian(f.AsSpan(10)));                      // 16 + addend
        Assert.Equal(0x7654321u, BinaryPrimitives.ReadUInt32LittleEndian(f.AsSpan(12)));                      // 32
        Assert.Equal(0x7654321u + 9, BinaryPrimitives.ReadUInt32LittleEndian(f.AsSpan(16)));                  // 32 + addend

        ulong got = S("_GLOBAL_OFFSET_TABLE_");
        ulong movabs = pc + 20; // movabsq $imm64, %r11: REX.W, opcode, then the 8-byte field
        Assert.Equal(got - (movabs + 2) + 2, BinaryPrimitives.ReadUInt64LittleEndian(Bytes(movabs + 2, 8)));  // GOTPC64 (addend: field offset)
        ulong gf = S("got_fields");
        var g = Bytes(gf, 28);
        Assert.Equal(S("data_b") - got, BinaryPrimitives.ReadUInt64LittleEndian(g));                          // GOTOFF64
        Assert.Equal(S("data_b") + 16 - got, BinaryPrimitives.ReadUInt64LittleEndian(g.AsSpan(8)));           // GOTOFF64 + addend
        Assert.Equal(got - (gf + 16), BinaryPrimitives.ReadUInt64LittleEndian(g.AsSpan(16)));                 // GOTPC64 in data
        Assert.Equal((int)(got - (gf + 24)), BinaryPrimitives.ReadInt32LittleEndian(g.AsSpan(24)));           // GOTPC32 in data
    }

    private const string TlsData = ".section .tbss,\"awT\",@nobits\n.globl tv\n.balign 8\ntv: .zero 8\n.section .note.GNU-stack,\"\",@progbits\n";

    public static TheoryData<string, string> UnrelaxableTls => new()
    {
        // Initial-exec through an instruction other than movq/addq: there is no local-exec form to rewrite it into.
        { "gottpoff-xor", ".text\n.globl _start\n_start:\n xorq tv@gottpoff(%rip), %rax\n ret\n" },
        // General-dynamic without the data16 prefixes ld recognises.
        { "tlsgd-bare", ".text\n.globl _start\n_start:\n leaq tv@tlsgd(%rip), %rdi\n call __tls_get_addr@PLT\n ret\n" },
        // Local-dynamic whose lea is not followed by the call.
        { "tlsld-nocall", ".text\n.globl _start\n_start:\n leaq tv@tlsld(%rip), %rdi\n nop\n nop\n nop\n nop\n nop\n ret\n" },
    };

    /// <summary>UKL025: a TLS relocation outside the sequence the static link rewrites; nothing is written.</summary>
    [Theory]
    [MemberData(nameof(UnrelaxableTls))]
    public void UnrecognisedTlsSequenceIsUkl025(string name, string code)
    {
        string obj = Toolchain.Assemble(code + TlsData, name);
        string output = Path.Combine(Toolchain.NewWorkDirectory(), "vmlinux");
        var r = Cli.Run("link", "-k", FakeKernel.Build(1, "__tls_get_addr"), "-o", output, obj);
        Assert.True(r.ExitCode == 1, r.Stdout + r.Stderr);
        Assert.Contains("error UKL025", r.Stdout + r.Stderr);
        Assert.Contains($"{name}.o:(.text+0x", r.Stdout + r.Stderr);
        Assert.False(File.Exists(output), "no output after an error");
    }

    /// <summary>
    /// UKL026: b.o's copy of a COMDAT group loses to a.o's, but b.o's .text refers to the discarded copy through its
    /// section symbol (as ld reports: "defined in discarded section"); a.o's references to its own copy are fine.
    /// </summary>
    [Fact]
    public void ReferenceToDiscardedComdatCopyIsUkl026()
    {
        const string group = ".section .text.dup,\"axG\",@progbits,dup,comdat\n.globl dup\ndup: ret\n";
        string a = Toolchain.Assemble(".text\n.globl _start\n_start:\n call dup\n ret\n" + group + ".section .note.GNU-stack,\"\",@progbits\n", "comdat_a");
        string b = Toolchain.Assemble(".text\n.globl other\nother:\n leaq .text.dup+0(%rip), %rax\n ret\n" + group + ".section .note.GNU-stack,\"\",@progbits\n", "comdat_b");
        string output = Path.Combine(Toolchain.NewWorkDirectory(), "vmlinux");
        var r = Cli.Run("link", "-k", FakeKernel.Build(1), "-o", output, a, b);
        Assert.True(r.ExitCode == 1, r.Stdout + r.Stderr);
        var line = (r.Stdout + r.Stderr).Split('\n').FirstOrDefault(l => l.Contains("error UKL026"));
        Assert.True(line is not null, r.Stdout + r.Stderr);
        Assert.Contains("comdat_b.o:(.text+0x", line);
        Assert.False(File.Exists(output), "no output after an error");
        // GNU ld refuses the same link.
        var ld = Assert.Throws<InvalidOperationException>(() => Toolchain.Run($"ld -static -e _start -o {output}.ld {a} {b}"));
        Assert.Contains("discarded section", ld.Message);
    }
}
