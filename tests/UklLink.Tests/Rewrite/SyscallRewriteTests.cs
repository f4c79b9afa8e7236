using UklLink.Diagnostics;
using UklLink.Inputs;
using UklLink.Kernel;
using UklLink.Rewrite;
using UklLink.Tests.Support;
using UklLink.X86_64;
using Xunit;

namespace UklLink.Tests.Rewrite;

/// <summary>
/// The exact rewrite of each hand-written case in fixtures/rewrite/sites.s for a slot ABI v1 kernel (trampolines enter
/// with <c>call *%rcx</c>): the section's new bytes and relocations, the trampoline's bytes and relocations, or the
/// fallback and its reason. <see cref="SyscallRewriteV2Tests"/> has the v2 form.
/// </summary>
public class SyscallRewriteTests : IDisposable
{
    private readonly InputSet _inputs;
    private readonly IReadOnlyList<SectionRewrite> _rewrites;

    public SyscallRewriteTests()
    {
        string obj = Toolchain.Assemble(Toolchain.FixtureSource("rewrite/sites.s"), "sites");
        (_inputs, _, _rewrites) = RewriteHarness.Rewrite(obj, new RewriteOptions { EntryForm = SyscallEntryForm.CallRcx });
    }

    public void Dispose() => _inputs.Dispose();

    private const string MovRcxCallRcx = "48C7C100000000 FFD1"; // mov $ukl_entry_SYSCALL_64, %rcx; call *%rcx
    private const string EntryReloc = "R_X86_64_32S ukl_entry_SYSCALL_64+0";

    private static string Hex(string spaced) => spaced.Replace(" ", "");

    private static string[] Relocs(IEnumerable<RewriteRelocation> relocs) =>
        relocs.Select(r => $"0x{r.Offset:x} {RelocationTypes.Get(r.Type).Name} {r.Target}{r.Addend:+0;-0;+0}").ToArray();

    /// <summary>Asserts the single site of a section went to a trampoline with exactly these bytes.</summary>
    private SectionRewrite AssertTrampoline(string section, ulong site, ulong windowStart, ulong windowEnd, int before, int after,
        string data, string[] relocs, string code, string[] codeRelocs)
    {
        var rw = _rewrites.Section(section);
        var s = Assert.Single(rw.Sites);
        Assert.Equal(SiteStrategy.JumpToTrampoline, s.Strategy);
        Assert.Equal(site, s.Offset);
        Assert.Equal((windowStart, windowEnd), (s.WindowStart, s.WindowEnd));
        Assert.Equal((before, after), (s.MovedBefore, s.MovedAfter));
        Assert.Equal(Hex(data), Convert.ToHexString(rw.Data));
        Assert.Equal(rw.Section.Size, (ulong)rw.Data.Length);
        Assert.Equal(relocs, Relocs(rw.Relocations));
        var t = Assert.Single(rw.Trampolines);
        Assert.Equal(0, s.TrampolineIndex);
        Assert.Equal(Hex(code), Convert.ToHexString(t.Code));
        Assert.Equal(codeRelocs, Relocs(t.Relocations));
        // The instruction that enters the kernel is the 2-byte call *%rcx (restart contract, slot-abi.md §4).
        Assert.Equal(new byte[] { 0xFF, 0xD1 }, t.Code[t.EntryOffset..(t.EntryOffset + 2)]);
        Assert.True(rw.Changed);
        Assert.Empty(rw.Findings);
        return rw;
    }

    [Fact]
    public void MovImmediateThenSyscallMovesTheMov()
    {
        AssertTrampoline(".text.mov_imm", site: 5, 0, 7, before: 1, after: 0,
            data: "E900000000 CCCC C3",
            relocs: ["0x1 R_X86_64_PC32 trampoline[0]-4"],
            code: "B827000000 " + MovRcxCallRcx + " E900000000",
            codeRelocs: ["0x8 " + EntryReloc, "0xf R_X86_64_PC32 section+0x7-4"]);
    }

    [Fact]
    public void SyscallAsFirstInstructionMovesWhatFollows()
    {
        AssertTrampoline(".text.first", site: 0, 0, 5, before: 0, after: 1,
            data: "E900000000 4889D0 C3",
            relocs: ["0x1 R_X86_64_PC32 trampoline[0]-4"],
            code: MovRcxCallRcx + " 4889C2 E900000000",
            codeRelocs: ["0x3 " + EntryReloc, "0xd R_X86_64_PC32 section+0x5-4"]);
    }

    [Fact]
    public void SyscallThatIsABranchTargetStartsTheWindow()
    {
        // mov $39,%eax; test %edi,%edi; jz 1f; mov $110,%eax; 1: syscall; mov %eax,%edx; add $1,%edx; lea -1(%rdx),%eax; ret
        AssertTrampoline(".text.is_target", site: 0xe, 0xe, 0x15, before: 0, after: 2,
            data: "B827000000 85FF 7405 B86E000000 E900000000 CCCC 8D42FF C3",
            relocs: ["0xf R_X86_64_PC32 trampoline[0]-4"],
            code: MovRcxCallRcx + " 89C2 83C201 E900000000",
            codeRelocs: ["0x3 " + EntryReloc, "0xf R_X86_64_PC32 section+0x15-4"]);
    }

    [Fact]
    public void BranchTargetAfterTheSyscallEndsTheWindow()
    {
        // xor %eax,%eax; test %edi,%edi; jz 1f; mov $39,%eax; syscall; 1: ret
        AssertTrampoline(".text.next_is_target", site: 0xb, 6, 0xd, before: 1, after: 0,
            data: "31C0 85FF 7407 E900000000 CCCC C3",
            relocs: ["0x7 R_X86_64_PC32 trampoline[0]-4"],
            code: "B827000000 " + MovRcxCallRcx + " E900000000",
            codeRelocs: ["0x8 " + EntryReloc, "0xf R_X86_64_PC32 section+0xd-4"]);
    }

    [Fact]
    public void BareSyscallAndRetBetweenTwoFunctionsFallsBackToInt()
    {
        var rw = _rewrites.Section(".text.bare");
        Assert.Equal(2, rw.Found);
        var bare = rw.Sites[0];
        Assert.Equal(SiteStrategy.IntFallback, bare.Strategy);
        Assert.Equal(0ul, bare.Offset);
        Assert.Equal("only 3 bytes; before: the section starts there; after: `ret` at 0x2 does not fall through and no padding follows", bare.Reason);
        // The neighbour function is still rewritten normally, and the int does not disturb it.
        Assert.Equal(SiteStrategy.JumpToTrampoline, rw.Sites[1].Strategy);
        Assert.Equal((3ul, 0xaul), (rw.Sites[1].WindowStart, rw.Sites[1].WindowEnd));
        Assert.Equal(Hex("CD81 C3 E900000000 CCCC C3"), Convert.ToHexString(rw.Data));
        Assert.Equal(SlotAbi.SyscallTrapVector, rw.Data[1]);
        Assert.Equal((1, 1, 0), (rw.Patched, rw.Fallbacks, rw.Untouched));

        var f = Assert.Single(rw.Findings);
        Assert.Equal("UKL016", f.RuleId);
        Assert.Equal(Severity.Warning, f.Severity);
        Assert.Equal(".text.bare", f.Location.Section);
        Assert.Equal(0ul, f.Location.Offset);
        Assert.Equal("bare", f.Location.Symbol);
        Assert.Contains("int $0x81", f.Message);
        Assert.Contains("the section starts there", f.Message);
    }

    [Fact]
    public void SyscallThenRetUsesTheAlignmentPaddingAfterTheRet()
    {
        // syscall; ret; then nop padding up to the next function at 0x10: the window is the syscall, the ret and
        // 2 bytes of padding; the trampoline ends in the moved ret, so there is no jump back.
        var rw = AssertTrampoline(".text.ret_pad", site: 0, 0, 5, before: 0, after: 1,
            data: "E900000000 2E0F1F840000000000 6690 C3",
            relocs: ["0x1 R_X86_64_PC32 trampoline[0]-4"],
            code: MovRcxCallRcx + " C3",
            codeRelocs: ["0x3 " + EntryReloc]);
        Assert.Equal(0xC3, rw.Data[0x10]); // ret_pad_next untouched
    }

    [Fact]
    public void RipRelativeNeighbourWithRelocationKeepsItsTarget()
    {
        // mov %eax, rip_counter(%rip): the R_X86_64_PC32 against rip_counter moves with the instruction.
        var rw = AssertTrampoline(".text.rip_reloc", site: 0, 0, 8, before: 0, after: 1,
            data: "E900000000 CCCCCC C3",
            relocs: ["0x1 R_X86_64_PC32 trampoline[0]-4"],
            code: MovRcxCallRcx + " 890500000000 E900000000",
            codeRelocs: ["0x3 " + EntryReloc, "0xb R_X86_64_PC32 rip_counter-4", "0x10 R_X86_64_PC32 section+0x8-4"]);
        Assert.Same(_rewrites.Section(".text.rip_reloc").Section.Relocations.Single(),
            rw.Trampolines[0].Relocations.Single(r => r.Target is SymbolTarget).Original);
    }

    [Fact]
    public void RipRelativeNeighbourWithinTheSectionGetsARelocation()
    {
        // mov $39,%eax; lea 1f(%rip),%rsi; syscall: the lea (to the byte at 0x14, resolved by the assembler) is
        // the nearest neighbour and moves; it now needs a relocation to the section at 0x14.
        AssertTrampoline(".text.rip_local", site: 0xc, 5, 0xe, before: 1, after: 0,
            data: "B827000000 E900000000 CCCCCCCC 0FB616 01D0 C3 2A",
            relocs: ["0x6 R_X86_64_PC32 trampoline[0]-4"],
            code: "488D3500000000 " + MovRcxCallRcx + " E900000000",
            codeRelocs: ["0x3 R_X86_64_PC32 section+0x14-4", "0xa " + EntryReloc, "0x11 R_X86_64_PC32 section+0xe-4"]);
    }

    [Fact]
    public void ShortJumpsAroundTheSiteStayAndAMovedShortJccWidens()
    {
        // mov $39,%eax; jmp 2f (short, skips the site); 1: syscall; test %eax,%eax; js 3f (short); ret;
        // 2: test %edi,%edi; jz 1b; mov $110,%eax; jmp 1b; 3: neg %eax; ret
        AssertTrampoline(".text.short_jump", site: 7, 7, 0xd, before: 0, after: 2,
            data: "B827000000 EB07 E900000000 CC C3 85FF 74F5 B86E000000 EBEE F7D8 C3",
            relocs: ["0x8 R_X86_64_PC32 trampoline[0]-4"],
            code: MovRcxCallRcx + " 85C0 0F8800000000 E900000000",
            codeRelocs: ["0x3 " + EntryReloc, "0xd R_X86_64_PC32 section+0x19-4", "0x12 R_X86_64_PC32 section+0xd-4"]);
    }

    [Fact]
    public void LabelsAroundTheSyscallAsInMuslCancellationPoint()
    {
        // cp_begin is at the function start and cp_end right after the syscall: the window is the preceding
        // mov %r11,8(%rsp) and the syscall, and it ends exactly at cp_end.
        var rw = AssertTrampoline(".text.cp", site: 0x27, 0x22, 0x29, before: 1, after: 0,
            data: "8B07 85C0 7524 4989FB 4889F0 4889D7 4889CE 4C89C2 4D89CA 4C8B442408 4C8B4C2410 E900000000 CCCC C3 48C7C083FFFFFF C3",
            relocs: ["0x23 R_X86_64_PC32 trampoline[0]-4"],
            code: "4C895C2408 " + MovRcxCallRcx + " E900000000",
            codeRelocs: ["0x8 " + EntryReloc, "0xf R_X86_64_PC32 section+0x29-4"]);
        var cpEnd = rw.Section.File.Symbols.Single(s => s.Name == "cp_end");
        Assert.Equal(0x29ul, cpEnd.Value);
    }

    [Fact]
    public void SyscallAtTheEndOfTheSectionTakesOnlyWhatPrecedes()
    {
        AssertTrampoline(".text.at_end", site: 5, 0, 7, before: 1, after: 0,
            data: "E900000000 CCCC",
            relocs: ["0x1 R_X86_64_PC32 trampoline[0]-4"],
            code: "B83C000000 " + MovRcxCallRcx + " E900000000",
            codeRelocs: ["0x8 " + EntryReloc, "0xf R_X86_64_PC32 section+0x7-4"]);
    }

    [Fact]
    public void BareSyscallThatIsTheWholeSectionFallsBack()
    {
        var rw = _rewrites.Section(".text.bare_end");
        var s = Assert.Single(rw.Sites);
        Assert.Equal(SiteStrategy.IntFallback, s.Strategy);
        Assert.Equal("only 2 bytes; before: the section starts there; after: the section ends there", s.Reason);
        Assert.Equal("CD81", Convert.ToHexString(rw.Data));
        Assert.Empty(rw.Trampolines);
    }

    [Fact]
    public void JumpTableDataInTextIsNeverTouched()
    {
        var rw = _rewrites.Section(".text.table");
        var original = rw.Section.Data;
        // The table (3 quads at 0x10) and the data bytes 0f 05 0f 05 0f 05 at 0x28 are unchanged.
        Assert.Equal(original[0x10..0x2e], rw.Data[0x10..0x2e]);
        Assert.Equal(Hex("0F050F050F05"), Convert.ToHexString(rw.Data[0x28..0x2e]));
        var data = rw.Sites.Where(s => s.Offset is >= 0x28 and < 0x2e).ToList();
        Assert.All(data, s => Assert.Equal(SiteStrategy.Untouched, s.Strategy));
        Assert.All(data, s => Assert.Contains("not reached", s.Reason));
        Assert.All(rw.Findings, f => Assert.Equal("UKL017", f.RuleId));
        Assert.Equal(data.Count, rw.Findings.Count);
        // The jump-table relocations (R_X86_64_64 against the section) are kept as they were.
        Assert.Equal(3, rw.Relocations.Count(r => r.Type == RelocationTypes.R_X86_64_64));
        // The real syscall of case 2 (mov $39,%eax; syscall; ret at 0x3a) is rewritten.
        var real = rw.Sites.Single(s => s.Strategy == SiteStrategy.JumpToTrampoline);
        Assert.Equal(0x3ful, real.Offset);
        Assert.Equal((0x3aul, 0x41ul), (real.WindowStart, real.WindowEnd));
        Assert.Equal(Hex("E900000000 CCCC C3"), Convert.ToHexString(rw.Data[0x3a..0x42]));
    }

    [Fact]
    public void StrictRewriteMakesFallbacksErrors()
    {
        string obj = Toolchain.Assemble(Toolchain.FixtureSource("rewrite/sites.s"), "sites");
        var (set, _, rewrites) = RewriteHarness.Rewrite(obj, new RewriteOptions { StrictRewrite = true });
        using (set)
        {
            var findings = rewrites.SelectMany(r => r.Findings).ToList();
            Assert.NotEmpty(findings);
            Assert.All(findings, f => Assert.Equal(Severity.Error, f.Severity));
            Assert.Equal(rewrites.Sum(r => r.Fallbacks + r.Untouched), findings.Count);
        }
    }

    [Fact]
    public void TotalsCountEveryStrategy()
    {
        var totals = RewriteTotals.Of(_rewrites);
        // 14 real syscalls plus 3 decodings of the jump table's data bytes.
        Assert.Equal(17, totals.Found);
        Assert.Equal(12, totals.Patched);
        Assert.Equal(2, totals.Fallbacks);
        Assert.Equal(3, totals.Untouched);
        Assert.Equal(totals.Found, totals.Patched + totals.Fallbacks + totals.Untouched);
    }

    [Fact]
    public void SectionsWithoutSyscallsComeBackUnchanged()
    {
        string obj = Toolchain.CompileC("int add(int a, int b) { return a + b; }", Toolchain.UklFlags, "plain");
        var (set, _, rewrites) = RewriteHarness.Rewrite(obj);
        using (set)
        {
            var rw = rewrites.Single();
            Assert.False(rw.Changed);
            Assert.Same(rw.Section.Data, rw.Data);
            Assert.Empty(rw.Sites);
        }
    }
}
