using System.Text;
using ELFSharp.ELF.Sections;
using Xunit;

namespace UklLink.Tests.Link;

/// <summary>
/// The ld side of every differential case on its own: GNU ld links the case with the default script against the
/// stand-in kernel, and the result has the shape the case is about. These pass without ukl-link's linker; they also pin
/// down the GNU ld behaviours ukl-link has to reproduce (documented in each test).
/// </summary>
public class LdOracleTests
{
    private static TestKernel K => TestKernel.Fake;

    private static OracleLink Ld(Func<TestKernel, LinkCase> corpusCase) => LdOracle.Link(K.Vmlinux, corpusCase(K).Inputs);

    private static ulong Slot(string name) => LdOracle.KernelSymbols(K.Vmlinux).First(s => s.Item1 == $"__ukl_{name}_slot_start").Item2;

    private static int Count(byte[] haystack, string needle)
    {
        var n = Encoding.ASCII.GetBytes(needle);
        int count = 0;
        for (int i = haystack.AsSpan().IndexOf(n); i >= 0; i = haystack.AsSpan(i + 1).IndexOf(n) is var j && j >= 0 ? i + 1 + j : -1)
            count++;
        return count;
    }

    [Fact]
    public void ManyFunctions()
    {
        var r = Ld(LinkCorpus.ManyFunctions);
        Assert.Equal(Slot("text"), r.Section(".text").Address);
        Assert.Equal(Slot("rodata"), r.Section(".rodata").Address);
        Assert.Equal(Slot("data"), r.Section(".data").Address);
        Assert.InRange(r.Symbols.Count(s => s.Binding == SymbolBinding.Local), 300, 1000); // the static strings (a few are folded away)
        // u0_p0 = &u1_g1: a 64-bit absolute pointer into .data.
        var data = r.Section(".data");
        ulong p = BitConverter.ToUInt64(data.Bytes, (int)(r.Symbol("u0_p0").Value - data.Address));
        Assert.Equal(r.Symbol("u1_g1").Value, p);
    }

    [Fact]
    public void SwitchTables()
    {
        var r = Ld(LinkCorpus.SwitchTables);
        // -mcmodel=kernel jump tables are 8-byte absolute entries pointing into .text.
        var text = r.Section(".text");
        Assert.Contains(r.Quads(".rodata"), q => q >= text.Address && q < text.End);
        Assert.Equal(".text", r.Symbol("classify").Section);
    }

    [Fact]
    public void FunctionPointerTables()
    {
        var r = Ld(LinkCorpus.FunctionPointerTables);
        Assert.Contains(r.Symbol("op_mul").Value, r.Quads(".data"));
        Assert.Contains(r.Symbol("op_div").Value, r.Quads(".rodata"));
        // The kernel's kprint, stored in the application's data.
        Assert.Contains(LdOracle.KernelSymbols(K.Vmlinux).First(s => s.Item1 == "kprint").Item2, r.Quads(".data"));
    }

    /// <summary>
    /// ld merges SHF_MERGE|SHF_STRINGS sections of the same entry size across objects: a duplicate string is kept once,
    /// and a string that is the tail of another (in any object, earlier or later) becomes a pointer into it. Each input
    /// section keeps its place in the output; it just loses the strings found elsewhere. Constants (.rodata.cst8 etc.)
    /// are deduplicated the same way.
    /// </summary>
    [Fact]
    public void MergedStrings()
    {
        var r = Ld(LinkCorpus.MergedStrings);
        var rodata = r.Section(".rodata").Bytes;
        Assert.Equal(1, Count(rodata, "a string both objects use\0"));
        Assert.Equal(1, Count(rodata, "world\0"));       // only as the tail of "hello world"
        Assert.Equal(1, Count(rodata, "suffix\0"));      // only as the tail of b's "a long suffix"
        Assert.Equal(0, Count(rodata, "\0suffix\0"));
        Assert.Equal(1, Count(rodata, "only in a\0"));
    }

    /// <summary>
    /// .tbss gets addresses after .tdata but takes no room: the next section starts where .tbss starts. TLS symbols have
    /// STT_TLS values that are offsets in the TLS block, not addresses; script symbols in .tdata/.tbss are plain addresses.
    /// The first TLS section's alignment is raised to the TLS segment's.
    /// </summary>
    [Fact]
    public void Tls()
    {
        var r = Ld(LinkCorpus.Tls);
        var tdata = r.Section(".tdata");
        var tbss = r.Section(".tbss");
        Assert.Equal(Slot("data"), tdata.Address);
        Assert.True(tbss.Tls && tbss.NoBits);
        Assert.Contains(r.Sections, s => !s.Tls && s.Address == tbss.Address);
        Assert.Equal(tdata.Address, r.Symbol("__tls_data_start").Value);
        Assert.Equal(tdata.End, r.Symbol("__tls_data_end").Value);
        Assert.Equal(tbss.Address, r.Symbol("__tls_bss_start").Value);
        Assert.Equal(tbss.End, r.Symbol("__tls_bss_end").Value);
        var counter = r.Symbol("tls_counter");
        Assert.Equal(6, (int)counter.Type); // STT_TLS
        Assert.True(counter.Value < tbss.End - tdata.Address);
        Assert.True(tdata.Alignment >= tbss.Alignment);
    }

    [Fact]
    public void WeakAndHidden()
    {
        var r = Ld(LinkCorpus.WeakAndHidden);
        Assert.Equal(SymbolBinding.Global, r.Symbol("overridden_by_b").Binding);
        Assert.Equal(SymbolBinding.Weak, r.Symbol("kept_weak").Binding);
        Assert.Equal(SymbolBinding.Global, r.Symbol("weak_data").Binding);
        Assert.Equal(2, r.Symbols.Count(s => s.Name == "local_fn"));
        // Weak undefined symbols resolve to 0 (ld keeps them in .symtab as undefined weak).
        Assert.Contains(0UL, r.Quads(".rodata"));
    }

    [Fact]
    public void CommonOnePerObject()
    {
        var r = Ld(LinkCorpus.CommonOnePerObject);
        var shared = r.Symbol("shared_common");
        Assert.Equal(64UL, shared.Size); // the larger common wins
        Assert.Equal(".bss", shared.Section);
        Assert.Equal(".data", r.Symbol("defined_over_common").Section);
        Assert.Equal(Slot("bss"), r.Section(".bss").Address);
    }

    /// <summary>
    /// ld allocates the common symbols of each object in its own COMMON input section (placed in object order by
    /// *(COMMON)), but inside it in the order of ld's symbol hash table: it depends on the names and on the number of
    /// symbols in the link, kernel symbols from --just-symbols included. The layout differs between kernels.
    /// </summary>
    [Fact]
    public void CommonManyPerObject()
    {
        var r = Ld(LinkCorpus.CommonManyPerObject);
        Assert.Equal(32UL, r.Symbol("c_dup").Size);
        var a = new[] { "ca_int", "ca_char", "ca_longs", "ca_big", "ca_short" }.Select(n => r.Symbol(n).Value).ToList();
        var b = new[] { "cb_char", "cb_int", "cb_double", "c_dup" }.Select(n => r.Symbol(n).Value).ToList();
        Assert.True(a.Max() < b.Min(), "the first object's commons come first");
    }

    /// <summary>Members come in pull order: ld walks each archive's symbol index in order, repeatedly, then the next archive.</summary>
    [Fact]
    public void ArchivesOnDemand()
    {
        var r = Ld(LinkCorpus.ArchivesOnDemand);
        foreach (var name in new[] { "lib_a", "lib_c", "lib_d", "lib_e" })
            Assert.Equal(".text", r.Symbol(name).Section);
        Assert.DoesNotContain(r.Symbols, s => s.Name is "lib_b" or "never_linked" or "lib_f" or "lib_weak_only");
        // lib_a's member precedes lib_c's although main.c refers to lib_c first: the symbol index order wins.
        Assert.True(r.Symbol("lib_a").Value < r.Symbol("lib_c").Value);
        Assert.True(r.Symbol("lib_d").Value < r.Symbol("lib_e").Value);
    }

    [Fact]
    public void ArchiveCycle()
    {
        var r = Ld(LinkCorpus.ArchiveCycle);
        Assert.True(r.Symbol("fa1").Value < r.Symbol("fb1").Value);
        Assert.True(r.Symbol("fb1").Value < r.Symbol("fa2").Value); // a.a's second member is pulled in the group's second pass
    }

    /// <summary>Duplicate COMDAT groups are dropped with their .eh_frame FDEs; prioritised constructors come first.</summary>
    [Fact]
    public void CxxConstructorsAndExceptions()
    {
        var r = Ld(LinkCorpus.CxxConstructorsAndExceptions);
        Assert.True(r.HasSection(".gcc_except_table"));
        Assert.True(r.HasSection(".eh_frame"));
        Assert.Single(r.Symbols, s => s.Name == "_Z13shared_inlinel");
        var ctors = r.Quads(".init_array");
        Assert.Equal(3, ctors.Length);
        Assert.Equal(r.Symbol("_GLOBAL__sub_I.00200__ZN4InitC2Ev").Value, ctors[0]);
    }

    /// <summary>The script's groups: .text.unlikely, .text.exit, .text.startup, .text.hot, then the rest in input order.</summary>
    [Fact]
    public void FunctionAndDataSections()
    {
        var r = Ld(LinkCorpus.FunctionAndDataSections);
        ulong Sym(string name) => r.Symbol(name).Value;
        Assert.True(Sym("report_error") < Sym("main"));
        Assert.True(Sym("main") < Sym("hot_path"));
        Assert.True(Sym("hot_path") < Sym("plain"));
        Assert.Equal(0UL, Sym("aligned_fn") % 64);
        Assert.Equal(0UL, Sym("aligned_data") % 64);
        Assert.Equal(".text", r.Symbol("custom").Section);
    }

    /// <summary>
    /// In this static, non-PIE link ld relaxes every R_X86_64_(REX_)GOTPCRELX: mov → mov $imm32 (sign-extended, for
    /// kernel and application symbols alike), call/jmp *foo@GOTPCREL → addr32 call / jmp+nop, test/binop → immediate
    /// forms; plain R_X86_64_GOTPCREL (-mrelax-relocations=no) mov → lea. No .got is left.
    /// </summary>
    [Fact]
    public void PieAndPic()
    {
        var r = Ld(LinkCorpus.PieAndPic);
        Assert.False(r.HasSection(".got"));
        Assert.False(r.HasSection(".got.plt"));
        var text = r.Section(".text");
        var pic2 = r.Symbol("pic2_kernel_address");
        int at = (int)(pic2.Value - text.Address);
        Assert.Equal(new byte[] { 0x48, 0xc7, 0xc0 }, text.Bytes[at..(at + 3)]); // mov $kernel_counter, %rax
        var pic3 = r.Symbol("pic3_kernel_address");
        at = (int)(pic3.Value - text.Address);
        Assert.Equal(new byte[] { 0x48, 0x8d, 0x05 }, text.Bytes[at..(at + 3)]); // lea kernel_counter(%rip), %rax
    }

    /// <summary>
    /// A push through the GOT needs a real GOT entry: ld creates .got (one 8-byte entry per symbol, holding its address)
    /// and, because _GLOBAL_OFFSET_TABLE_ is referenced, .got.plt with its three reserved entries (all zero in a static
    /// link); _GLOBAL_OFFSET_TABLE_ is .got.plt's address, a local symbol in the output.
    /// </summary>
    [Fact]
    public void GotEntries()
    {
        var r = Ld(LinkCorpus.GotEntries);
        var got = r.Section(".got");
        var gotplt = r.Section(".got.plt");
        Assert.Equal(8UL, got.Size); // one target no instruction lets ld relax (push)
        Assert.Equal(new ulong[] { 0, 0, 0 }, r.Quads(".got.plt"));
        Assert.Equal(gotplt.Address, r.Symbol("_GLOBAL_OFFSET_TABLE_").Value);
        Assert.Contains(r.Symbol("app_int").Value, r.Quads(".got"));
    }

    /// <summary>
    /// SORT_BY_INIT_PRIORITY orders .init_array.N by N and .ctors.N by 65535-N (ties: by section name), across objects;
    /// then .init_array and .ctors in input order, where ld reverses the 8-byte entries of each .ctors/.dtors section.
    /// </summary>
    [Fact]
    public void ConstructorTables()
    {
        var r = Ld(LinkCorpus.ConstructorTables);
        Assert.Equal(new ulong[] { 0x50, 0xc65435, 0x100, 0x200, 0xc100, 0x1111, 0xc2, 0xc1, 0x2222 }, r.Quads(".init_array"));
        Assert.Equal(new ulong[] { 0xf300, 0xf1, 0xd2, 0xd1, 0xd3 }, r.Quads(".fini_array"));
        Assert.Equal(new ulong[] { 0x9001 }, r.Quads(".preinit_array"));
        var init = r.Section(".init_array");
        var symbols = r.Quads(".data");
        Assert.Equal(init.Address, symbols[0]);
        Assert.Equal(init.End, symbols[1]);
        Assert.Equal(symbols[6], symbols[7]); // __rela_iplt_start == __rela_iplt_end
    }

    /// <summary>ld merges identical CIEs across objects (unless --traditional-format), so .eh_frame shrinks.</summary>
    [Fact]
    public void UnwindTables()
    {
        var c = LinkCorpus.UnwindTables(K);
        var r = LdOracle.Link(K.Vmlinux, c.Inputs);
        ulong inputs = 0;
        foreach (var o in c.Inputs)
        {
            using var elf = ELFSharp.ELF.ELFReader.Load<ulong>(o);
            inputs += elf.Sections.Single(s => s.Name == ".eh_frame").Size;
        }
        Assert.True(r.Section(".eh_frame").Size < inputs, $"{r.Section(".eh_frame").Size} >= {inputs}");
    }

    [Fact]
    public void MultiMegabyte()
    {
        var r = Ld(LinkCorpus.MultiMegabyte);
        Assert.True(r.Section(".text").Size > 1_500_000, $".text is {r.Section(".text").Size} bytes");
        Assert.True(r.Section(".rodata").Size > 1_000_000, $".rodata is {r.Section(".rodata").Size} bytes");
    }

    /// <summary>The cases the differential tests also run against the real reference kernel, when it is cached.</summary>
    [SkippableFact]
    public void ReferenceKernel()
    {
        // ./test builds the kernel first, so this runs there; a bare `dotnet test` on a fresh machine reports it skipped.
        Skip.If(TestKernel.Reference is null, TestKernel.NotBuilt);
        var kernel = TestKernel.Reference!;
        foreach (var corpusCase in new Func<TestKernel, LinkCase>[] { LinkCorpus.ManyFunctions, LinkCorpus.PieAndPic, LinkCorpus.Tls, LinkCorpus.GotEntries })
        {
            var r = LdOracle.Link(kernel.Vmlinux, corpusCase(kernel).Inputs);
            Assert.Equal(LdOracle.KernelSymbols(kernel.Vmlinux).First(s => s.Item1 == "__ukl_text_slot_start").Item2, r.Section(".text").Address);
        }
    }
}
