using UklLink.Inputs;
using UklLink.Rewrite;
using UklLink.Tests.Support;
using UklLink.X86_64;
using Xunit;

namespace UklLink.Tests.Rewrite;

/// <summary>
/// <c>link --bypass</c> in the rewriter: which sites get a known system call number (<see cref="SyscallNumber"/>, a
/// backward walk over the decoded code) and which of those enter through a bypass entry instead of
/// <c>ukl_entry_SYSCALL_64</c>. Each function below is its own section; the comments say what the walk must find. A site at a branch target or
/// after a call gets a `mov` after it, so that its window has the 5 bytes a trampoline jump needs.
/// </summary>
public class BypassRewriteTests : IDisposable
{
    private const string Source = """
            .macro fn name
            .section .text.\name,"ax",@progbits
            .globl \name
            .type \name,@function
        \name:
            .endm

            # mov $N, %eax right before the site: 39 (getpid).
            fn direct
            mov $39, %eax
            syscall
            ret

            # The number in a callee-saved register before a loop, copied into %rax each time round (what GCC makes of
            # a loop around an inline syscall): 1 on the way in, and the back edge adds no other value.
            fn loop
            push %r12
            mov $1, %r12d
        1:  mov %r12, %rax
            syscall
            cmp $5, %rax
            jne 1b
            pop %r12
            ret

            # Two paths that set the same number: 0.
            fn same_both_ways
            test %edi, %edi
            je 1f
            mov $0, %eax
            jmp 2f
        1:  xor %eax, %eax
        2:  syscall
            mov %rax, %rdx
            ret

            # Two paths with different numbers: not known.
            fn differs_by_path
            test %edi, %edi
            je 1f
            mov $0, %eax
            jmp 2f
        1:  mov $1, %eax
        2:  syscall
            mov %rax, %rdx
            ret

            # The number is the caller's (a wrapper like musl's __syscall): not known.
            fn from_argument
            mov %rdi, %rax
            syscall
            ret

            # %rax is set before a call, which may change it: not known.
            fn across_call
            mov $39, %eax
            call direct
            syscall
            mov %rax, %rdx
            ret

            # The number kept in %rbx across a call (callee-saved): 110 (getppid).
            fn callee_saved_across_call
            push %rbx
            mov $110, %ebx
            call direct
            mov %rbx, %rax
            syscall
            pop %rbx
            ret

            # Computed: not known.
            fn computed
            mov $38, %eax
            add $1, %eax
            syscall
            ret

            .section .note.GNU-stack,"",@progbits
        """;

    private static readonly Dictionary<int, string> Entries = new() { [0] = "ukl_bypass_0", [39] = "ukl_bypass_39", [110] = "ukl_bypass_110" };

    private readonly InputSet _inputs;
    private readonly IReadOnlyList<SectionRewrite> _plain;
    private readonly IReadOnlyList<SectionRewrite> _bypass;
    private readonly InputSet _inputs2;

    public BypassRewriteTests()
    {
        string obj = Toolchain.Assemble(Source, "bypass");
        (_inputs, _, _plain) = RewriteHarness.Rewrite(obj);
        (_inputs2, _, _bypass) = RewriteHarness.Rewrite(obj, new RewriteOptions { BypassEntries = Entries });
    }

    public void Dispose()
    {
        _inputs.Dispose();
        _inputs2.Dispose();
    }

    [Theory]
    [InlineData("direct", 39)]
    [InlineData("loop", 1)]
    [InlineData("same_both_ways", 0)]
    [InlineData("callee_saved_across_call", 110)]
    public void ConstantNumbersAreFound(string function, int number)
    {
        var site = Assert.Single(_plain.Section(".text." + function).Sites);
        Assert.Equal(SiteStrategy.JumpToTrampoline, site.Strategy);
        Assert.Equal(number, site.Number);
        Assert.Equal(number, Assert.Single(_plain.Section(".text." + function).Trampolines).SyscallNumber);
    }

    [Theory]
    [InlineData("differs_by_path")]
    [InlineData("from_argument")]
    [InlineData("across_call")]
    [InlineData("computed")]
    public void OtherNumbersAreNotKnownAndNeverBypass(string function)
    {
        var site = Assert.Single(_bypass.Section(".text." + function).Sites);
        Assert.Equal(SiteStrategy.JumpToTrampoline, site.Strategy);
        Assert.Null(site.Number);
        Assert.False(site.Bypass);
        Assert.Equal(["R_X86_64_32S ukl_entry_SYSCALL_64"], EntryRelocations(_bypass.Section(".text." + function)));
    }

    [Theory]
    [InlineData("direct", "ukl_bypass_39")]
    [InlineData("same_both_ways", "ukl_bypass_0")]
    [InlineData("callee_saved_across_call", "ukl_bypass_110")]
    public void KnownNumbersWithAnEntryEnterThroughIt(string function, string entry)
    {
        var rw = _bypass.Section(".text." + function);
        var site = Assert.Single(rw.Sites);
        Assert.True(site.Bypass);
        Assert.Equal(entry, site.Entry);
        Assert.Contains($"bypass {entry}", site.ToString());
        Assert.Equal([$"R_X86_64_32S {entry}"], EntryRelocations(rw));
        // The same bytes as the plain trampoline: only the symbol the mov loads differs.
        var plain = _plain.Section(".text." + function);
        Assert.Equal(Assert.Single(plain.Trampolines).Code, Assert.Single(rw.Trampolines).Code);
        Assert.Equal(plain.Data, rw.Data);
    }

    [Fact]
    public void AKnownNumberWithoutAnEntryEntersAsUsual()
    {
        // loop's number is 1 (write), which this test's kernel does not bypass.
        var site = Assert.Single(_bypass.Section(".text.loop").Sites);
        Assert.Equal(1, site.Number);
        Assert.False(site.Bypass);
        Assert.Equal(["R_X86_64_32S ukl_entry_SYSCALL_64"], EntryRelocations(_bypass.Section(".text.loop")));
    }

    [Fact]
    public void WithoutBypassEntriesEverySiteEntersAsUsual()
    {
        Assert.All(_plain.SelectMany(r => r.Sites), s => Assert.False(s.Bypass));
        Assert.Equal(0, RewriteTotals.Of(_plain).Bypassed);
        Assert.Equal(3, RewriteTotals.Of(_bypass).Bypassed);
    }

    private static string[] EntryRelocations(SectionRewrite rw) =>
        Assert.Single(rw.Trampolines).Relocations
            .Where(r => r.Target is NamedSymbolTarget)
            .Select(r => $"{RelocationTypes.Get(r.Type).Name} {r.Target}")
            .ToArray();
}
