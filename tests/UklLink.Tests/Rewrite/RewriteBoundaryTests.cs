using UklLink.Rewrite;
using UklLink.Tests.Support;
using Xunit;

namespace UklLink.Tests.Rewrite;

/// <summary>
/// What else keeps a window from growing: unwind entries, code pointers in data, neighbouring sites, data objects
/// and undecodable bytes. Each case is a small assembly source whose result differs from the plain
/// <c>mov $nr, %eax; syscall</c> rewrite only because of that one thing.
/// </summary>
public class RewriteBoundaryTests
{
    private static SectionRewrite RewriteOne(string asm, string section = ".text")
    {
        string obj = Toolchain.Assemble(asm + "\n        .section .note.GNU-stack,\"\",@progbits\n", "boundary");
        var (set, _, rewrites) = RewriteHarness.Rewrite(obj);
        set.Dispose();
        return rewrites.Section(section);
    }

    [Fact]
    public void PlainCaseForComparison()
    {
        var rw = RewriteOne("""
                .text
                .globl f
                .type f,@function
            f:
                .cfi_startproc
                mov $39, %eax
                syscall
                ret
                .cfi_endproc
            """);
        var s = Assert.Single(rw.Sites);
        Assert.Equal(SiteStrategy.JumpToTrampoline, s.Strategy);
        Assert.Equal((0ul, 7ul), (s.WindowStart, s.WindowEnd));
    }

    [Fact]
    public void UnwindEntryStartingAtTheSyscallIsABoundary()
    {
        // A second FDE starts at the syscall (no symbol there, only the .eh_frame relocation), so the mov before
        // it may not join the window; the ret after it is too short and the section ends: int fallback.
        var rw = RewriteOne("""
                .text
                .globl f
                .type f,@function
            f:
                .cfi_startproc
                mov $39, %eax
                .cfi_endproc
                .cfi_startproc
                syscall
                ret
                .cfi_endproc
            """);
        var s = Assert.Single(rw.Sites);
        Assert.Equal(SiteStrategy.IntFallback, s.Strategy);
        Assert.Contains("before: unwind entry (relocation at .eh_frame+0x", s.Reason);
        Assert.Contains(") at 0x5", s.Reason);
    }

    [Fact]
    public void CodePointerInDataIsABoundary()
    {
        // .rodata holds the address of the syscall (R_X86_64_64 against .text+5): someone may jump there.
        var rw = RewriteOne("""
                .text
                .globl f
                .type f,@function
            f:
                mov $39, %eax
            .Lmid:
                syscall
                mov %rax, %rdx
                mov %rdx, %rax
                ret
                .section .rodata
                .quad .Lmid
            """);
        var s = Assert.Single(rw.Sites);
        Assert.Equal(SiteStrategy.JumpToTrampoline, s.Strategy);
        Assert.Equal((5ul, 10ul), (s.WindowStart, s.WindowEnd)); // syscall + mov %rax,%rdx, not the mov $39
        Assert.Equal((0, 1), (s.MovedBefore, s.MovedAfter));
    }

    [Fact]
    public void BackToBackSitesDoNotShareInstructions()
    {
        var rw = RewriteOne("""
                .text
                .globl f
                .type f,@function
            f:
                syscall
                syscall
                mov %rax, %rdx
                ret
            """);
        Assert.Equal(2, rw.Found);
        Assert.Equal(SiteStrategy.IntFallback, rw.Sites[0].Strategy);
        Assert.Contains("after: `syscall` at 0x2 is another syscall site", rw.Sites[0].Reason);
        Assert.Equal(SiteStrategy.JumpToTrampoline, rw.Sites[1].Strategy);
        Assert.Equal((2ul, 7ul), (rw.Sites[1].WindowStart, rw.Sites[1].WindowEnd));
        Assert.Equal("CD81E900000000C3", Convert.ToHexString(rw.Data));
    }

    [Fact]
    public void LaterWindowsAvoidEarlierOnesAndTheirReturnPoints()
    {
        // The first site takes the three nops after it; the second may not take the last nop back.
        var rw = RewriteOne("""
                .text
                .globl f
                .type f,@function
            f:
                syscall
                nop
                nop
                nop
                syscall
                mov $1, %edx
                ret
            """);
        Assert.Equal(SiteStrategy.JumpToTrampoline, rw.Sites[0].Strategy);
        Assert.Equal((0ul, 5ul), (rw.Sites[0].WindowStart, rw.Sites[0].WindowEnd));
        Assert.Equal(SiteStrategy.JumpToTrampoline, rw.Sites[1].Strategy);
        Assert.Equal((5ul, 12ul), (rw.Sites[1].WindowStart, rw.Sites[1].WindowEnd));
        Assert.Equal((0, 1), (rw.Sites[1].MovedBefore, rw.Sites[1].MovedAfter));
    }

    [Fact]
    public void CallsAreNotMoved()
    {
        var rw = RewriteOne("""
                .text
                .globl f
                .type f,@function
            f:
                call g
                syscall
                ret
                .globl g
                .type g,@function
            g:
                ret
            """);
        var s = Assert.Single(rw.Sites);
        Assert.Equal(SiteStrategy.IntFallback, s.Strategy);
        Assert.Contains("is a call", s.Reason);
    }

    [Fact]
    public void SyscallInsideADataObjectIsNotTouched()
    {
        // A sized STT_OBJECT in .text is data even though its bytes decode as syscall, and the code around it
        // never falls into it.
        var rw = RewriteOne("""
                .text
                .globl f
                .type f,@function
            f:
                mov $39, %eax
                syscall
                ret
                .size f, .-f
                .globl blob
                .type blob,@object
            blob:
                .byte 0x0f, 0x05, 0x90
                .size blob, 3
            """);
        Assert.Equal(2, rw.Found);
        Assert.Equal(SiteStrategy.JumpToTrampoline, rw.Sites[0].Strategy);
        Assert.Equal(SiteStrategy.Untouched, rw.Sites[1].Strategy);
        Assert.Equal(new byte[] { 0x0F, 0x05, 0x90 }, rw.Data[8..11]);
    }

    [Fact]
    public void PathThroughUndecodableBytesIsDoubtful()
    {
        // A label (NOTYPE symbol) whose path runs into bytes that are not an instruction (0x06 is invalid in
        // 64-bit mode): the syscall on that path is left alone.
        var rw = RewriteOne("""
                .text
                .globl f
                .type f,@function
            f:
                ret
                .globl odd
            odd:
                .byte 0x0f, 0x05, 0x06
            """);
        var s = Assert.Single(rw.Sites);
        Assert.Equal(SiteStrategy.Untouched, s.Strategy);
        Assert.Contains("undecodable", s.Reason);
        Assert.Equal("C30F0506", Convert.ToHexString(rw.Data));
        Assert.Equal("UKL017", Assert.Single(rw.Findings).RuleId);
    }
}
