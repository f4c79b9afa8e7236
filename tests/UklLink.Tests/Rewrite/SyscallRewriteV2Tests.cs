using UklLink.Inputs;
using UklLink.Rewrite;
using UklLink.Tests.Support;
using UklLink.X86_64;
using Xunit;

namespace UklLink.Tests.Rewrite;

/// <summary>
/// The slot ABI v2 trampoline (docs/slot-abi.md §4): the same windows as for v1 (<see cref="SyscallRewriteTests"/>), but
/// the trampoline enters the kernel with <c>lea resume(%rip), %r11; mov $ukl_entry_SYSCALL_64, %rcx; jmp *%rcx</c> and
/// the moved instructions after the syscall start at <c>resume</c>, so nothing is written below %rsp. The expected
/// bytes are written out by hand from the encodings: lea r11, [rip+9] is 4C 8D 1D 09000000 (9 = the 7-byte mov and
/// the 2-byte jmp that follow it), mov rcx, imm32 is 48 C7 C1 imm32, jmp *%rcx is FF E1.
/// </summary>
public class SyscallRewriteV2Tests : IDisposable
{
    private readonly InputSet _inputs;
    private readonly IReadOnlyList<SectionRewrite> _rewrites;

    public SyscallRewriteV2Tests()
    {
        string obj = Toolchain.Assemble(Toolchain.FixtureSource("rewrite/sites.s"), "sites");
        (_inputs, _, _rewrites) = RewriteHarness.Rewrite(obj, new RewriteOptions { EntryForm = SyscallEntryForm.JumpRcx });
    }

    public void Dispose() => _inputs.Dispose();

    private const string LeaMovJmp = "4C8D1D09000000 48C7C100000000 FFE1";
    private const string EntryReloc = "R_X86_64_32S ukl_entry_SYSCALL_64+0";

    private static string Hex(string spaced) => spaced.Replace(" ", "");

    private static string[] Relocs(IEnumerable<RewriteRelocation> relocs) =>
        relocs.Select(r => $"0x{r.Offset:x} {RelocationTypes.Get(r.Type).Name} {r.Target}{r.Addend:+0;-0;+0}").ToArray();

    private void AssertTrampoline(string section, string data, string code, string[] codeRelocs, int entryOffset)
    {
        var rw = _rewrites.Section(section);
        var s = Assert.Single(rw.Sites);
        Assert.Equal(SiteStrategy.JumpToTrampoline, s.Strategy);
        // The site itself is rewritten exactly as for v1: only the trampoline differs.
        Assert.Equal(Hex(data), Convert.ToHexString(rw.Data));
        var t = Assert.Single(rw.Trampolines);
        Assert.Equal(Hex(code), Convert.ToHexString(t.Code));
        Assert.Equal(codeRelocs, Relocs(t.Relocations));
        Assert.Equal(entryOffset, t.EntryOffset);
        Assert.Equal(new byte[] { 0xFF, 0xE1 }, t.Code[t.EntryOffset..(t.EntryOffset + 2)]);
        // lea's displacement points just past the jmp *%rcx: where the kernel resumes (r11 = resume address).
        int lea = t.EntryOffset - 14;
        Assert.Equal(new byte[] { 0x4C, 0x8D, 0x1D }, t.Code[lea..(lea + 3)]);
        Assert.Equal(t.EntryOffset + 2, lea + 7 + BitConverter.ToInt32(t.Code, lea + 3));
        Assert.Empty(rw.Findings);
    }

    [Fact]
    public void MovImmediateThenSyscall()
    {
        // mov $39,%eax (5 bytes) before; lea at 5, mov at 12 (imm at 15), jmp *%rcx at 19, jmp back at 21 (field 22).
        AssertTrampoline(".text.mov_imm", data: "E900000000 CCCC C3",
            code: "B827000000 " + LeaMovJmp + " E900000000",
            codeRelocs: ["0xf " + EntryReloc, "0x16 R_X86_64_PC32 section+0x7-4"], entryOffset: 19);
    }

    [Fact]
    public void InstructionsAfterTheSyscallRunAtTheResumeAddress()
    {
        // syscall; mov %eax,%edx; add $1,%edx moved after: resume (16) is the mov, then the jump back at 21 (field 22).
        AssertTrampoline(".text.is_target", data: "B827000000 85FF 7405 B86E000000 E900000000 CCCC 8D42FF C3",
            code: LeaMovJmp + " 89C2 83C201 E900000000",
            codeRelocs: ["0xa " + EntryReloc, "0x16 R_X86_64_PC32 section+0x15-4"], entryOffset: 14);
    }

    [Fact]
    public void MovedRetEndsTheTrampolineWithoutAJumpBack()
    {
        AssertTrampoline(".text.ret_pad", data: "E900000000 2E0F1F840000000000 6690 C3",
            code: LeaMovJmp + " C3",
            codeRelocs: ["0xa " + EntryReloc], entryOffset: 14);
    }

    [Fact]
    public void RipRelativeInstructionBeforeTheSyscallKeepsItsTarget()
    {
        // lea 1f(%rip),%rsi (7 bytes) moves before the entry; its relocation stays at 3, the others move by 7.
        AssertTrampoline(".text.rip_local", data: "B827000000 E900000000 CCCCCCCC 0FB616 01D0 C3 2A",
            code: "488D3500000000 " + LeaMovJmp + " E900000000",
            codeRelocs: ["0x3 R_X86_64_PC32 section+0x14-4", "0x11 " + EntryReloc, "0x18 R_X86_64_PC32 section+0xe-4"],
            entryOffset: 21);
    }

    [Fact]
    public void MovedShortJccAfterTheSyscallWidens()
    {
        // After resume (16): test %eax,%eax (2), js rel32 (6, field 20), jmp back (field 25).
        AssertTrampoline(".text.short_jump", data: "B827000000 EB07 E900000000 CC C3 85FF 74F5 B86E000000 EBEE F7D8 C3",
            code: LeaMovJmp + " 85C0 0F8800000000 E900000000",
            codeRelocs: ["0xa " + EntryReloc, "0x14 R_X86_64_PC32 section+0x19-4", "0x19 R_X86_64_PC32 section+0xd-4"],
            entryOffset: 14);
    }

    [Fact]
    public void TheSameSitesAreRewrittenAsForV1()
    {
        var v1 = RewriteHarness.Rewrite(_inputs.AllObjects.Single().Path, new RewriteOptions { EntryForm = SyscallEntryForm.CallRcx });
        using (v1.Inputs)
        {
            var a = RewriteTotals.Of(_rewrites);
            var b = RewriteTotals.Of(v1.Rewrites);
            Assert.Equal((b.Found, b.Patched, b.Fallbacks, b.Untouched), (a.Found, a.Patched, a.Fallbacks, a.Untouched));
            // Each v2 trampoline is exactly one 7-byte lea longer.
            Assert.Equal(b.TrampolineBytes + 7 * b.Patched, a.TrampolineBytes);
        }
    }
}
