using System.Diagnostics;
using System.Text.RegularExpressions;
using UklLink.Inputs;
using UklLink.Rewrite;
using UklLink.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace UklLink.Tests.Rewrite;

/// <summary>
/// musl (Debian's source, built UKL-style by toolchain/build-musl) as the large real input: every syscall
/// site of libc.a is patched or reported with a reason, and a program linked against the rewritten libc.a behaves
/// like one linked against the original.
/// </summary>
public class MuslRewriteTests(ITestOutputHelper output)
{
    private const string UserFlags = "-O2 -mcmodel=small -mno-red-zone -fno-pie -fno-pic -fno-stack-protector";

    /// <summary>syscall instructions in an object or archive as objdump's linear disassembly counts them.</summary>
    private static int ObjdumpSyscalls(string path) =>
        Toolchain.Run($"objdump -d --no-show-raw-insn {path}").Split('\n').Count(l => Regex.IsMatch(l, @"^\s*[0-9a-f]+:\s+syscall\s*$"));

    [Theory]
    [InlineData("kernel")]
    [InlineData("small")]
    public void EverySyscallSiteOfMuslIsPatchedOrReported(string model)
    {
        string libc = Path.Combine(MuslBuild.Prefix(model), "lib", "libc.a");
        int expected = ObjdumpSyscalls(libc);
        Assert.True(expected > 300, $"objdump found only {expected} syscalls in {libc}");

        using var set = InputSet.Load(new[] { libc });
        var rewriter = new SyscallRewriter();
        var sw = Stopwatch.StartNew();
        var rewrites = set.AllObjects.SelectMany(o => o.AllSections).Where(s => s.IsExecutable).Select(rewriter.Rewrite).ToList();
        sw.Stop();
        var totals = RewriteTotals.Of(rewrites);
        output.WriteLine($"musl {model}: {set.AllObjects.Count()} objects, {totals}, {sw.ElapsedMilliseconds} ms");
        foreach (var site in rewrites.SelectMany(r => r.Sites).Where(s => s.Strategy != SiteStrategy.JumpToTrampoline))
            output.WriteLine("  " + site);

        Assert.Equal(expected, totals.Found);
        Assert.Equal(totals.Found, totals.Patched + totals.Fallbacks + totals.Untouched);
        Assert.Equal(0, totals.Untouched);
        Assert.True(totals.Fallbacks <= 2, $"{totals.Fallbacks} int fallbacks");
        foreach (var rw in rewrites)
        {
            Assert.Equal(rw.Section.Size, (ulong)rw.Data.Length);
            var reported = rw.Sites.Where(s => s.Strategy != SiteStrategy.JumpToTrampoline).ToList();
            Assert.All(reported, s => Assert.False(string.IsNullOrEmpty(s.Reason)));
            Assert.Equal(reported.Select(s => s.Offset), rw.Findings.Select(f => f.Location.Offset!.Value));
            Assert.All(rw.Findings, f => Assert.Equal(rw.Section.File.Member, f.Location.Member));
            foreach (var t in rw.Trampolines)
            {
                // v2 (the default form): lea resume(%rip),%r11; mov $entry,%rcx; jmp *%rcx.
                Assert.Equal(new byte[] { 0xFF, 0xE1 }, t.Code[t.EntryOffset..(t.EntryOffset + 2)]);
                Assert.Equal(new byte[] { 0x4C, 0x8D, 0x1D, 0x09, 0, 0, 0 }, t.Code[(t.EntryOffset - 14)..(t.EntryOffset - 7)]);
                var entry = Assert.Single(t.Relocations, r => r.Target is NamedSymbolTarget);
                Assert.Equal(X86_64.RelocationTypes.R_X86_64_32S, entry.Type);
                Assert.Equal((ulong)t.EntryOffset - 4, entry.Offset);
            }
        }
        // Every patched site's window begins with the jump to its own trampoline.
        foreach (var rw in rewrites)
        {
            foreach (var s in rw.Sites.Where(s => s.Strategy == SiteStrategy.JumpToTrampoline))
            {
                Assert.Equal(0xE9, rw.Data[s.WindowStart]);
                Assert.Contains(rw.Relocations, r => r.Offset == s.WindowStart + 1 && r.Target == new TrampolineTarget(s.TrampolineIndex!.Value));
            }
        }
    }

    /// <summary>validate's count (UKL008) is the rewriter's: every site objdump lists, counted once.</summary>
    [Fact]
    public void ValidateCountsEverySyscallSiteOfMusl()
    {
        string libc = Path.Combine(MuslBuild.Prefix("kernel"), "lib", "libc.a");
        var r = Cli.Run("validate", libc);
        int counted = r.StdoutLines.Select(l => Regex.Match(l, @" note UKL008: (\d+) syscall instructions? in "))
            .Where(m => m.Success).Sum(m => int.Parse(m.Groups[1].Value));
        Assert.Equal(ObjdumpSyscalls(libc), counted);
    }

    [Fact]
    public void ProgramLinkedWithRewrittenMuslBehavesTheSame()
    {
        string prefix = MuslBuild.Prefix("small");
        string lib = Path.Combine(prefix, "lib");
        string dir = Toolchain.NewWorkDirectory();
        string prog = Toolchain.CompileC(Toolchain.FixtureSource("rewrite/musl-program.c"),
            $"{UserFlags} -nostdinc -isystem {Path.Combine(prefix, "include")}", "musl-program");
        string shim = RewriteHarness.ShimObject();
        string rewrittenLibc = Path.Combine(dir, "libc-rewritten.a");
        var sw = Stopwatch.StartNew();
        var totals = RewriteHarness.RewriteArchive(Path.Combine(lib, "libc.a"), rewrittenLibc, dir);
        output.WriteLine($"rewrote and wrote libc.a in {sw.ElapsedMilliseconds} ms: {totals}");

        string libgcc = Toolchain.Run("gcc -print-libgcc-file-name").Trim();
        string Link(string libc, string outName)
        {
            string exe = Path.Combine(dir, outName);
            Toolchain.Run($"gcc -nostdlib -static -no-pie -o {exe} {lib}/crt1.o {lib}/crti.o {prog} {shim} {libc} {libgcc} {lib}/crtn.o");
            return exe;
        }
        string before = Link(Path.Combine(lib, "libc.a"), "before");
        string after = Link(rewrittenLibc, "after");

        const string input = "one\nthree\nfive five\n\n";
        var a = RewriteHarness.Run(before, input);
        var b = RewriteHarness.Run(after, input);
        output.WriteLine(b.Stdout);
        Assert.Equal(a.Stdout, b.Stdout);
        Assert.Equal(a.Stderr, b.Stderr);
        Assert.Equal(a.ExitCode, b.ExitCode);
        Assert.Equal(a.Files.OrderBy(f => f.Key), b.Files.OrderBy(f => f.Key));
        Assert.Equal(5, b.ExitCode);
        Assert.Equal("to stderr\n", b.Stderr);
        Assert.Equal("hello from musl, 4 lines\n", b.Files["report.txt"]);
        Assert.Equal("""
            argc=1 lines=4 sorted: 1 4 6 10
            stat 0 size 25
            read back 25 bytes: hello from musl, 4 lines
            getpid 1
            time 1
            malloc 1

            """.ReplaceLineEndings("\n"), b.Stdout);
        // The original program has many syscall instructions; the rewritten one only the shim's.
        Assert.True(RewriteHarness.CountSyscallInstructions(before) > 10);
        Assert.Equal(1, RewriteHarness.CountSyscallInstructions(after));
    }

    [Fact]
    public void EverySyscallSiteOfGlibcIsPatchedOrReported()
    {
        // The distribution's static glibc: PIC code, IFUNCs, hand-written assembly and PIC jump tables.
        string libc = Toolchain.Run("gcc -print-file-name=libc.a").Trim();
        Assert.True(File.Exists(libc), $"no static glibc at {libc}");
        int expected = ObjdumpSyscalls(libc);
        using var set = InputSet.Load(new[] { libc });
        var rewriter = new SyscallRewriter();
        var sw = Stopwatch.StartNew();
        var rewrites = set.AllObjects.SelectMany(o => o.AllSections).Where(s => s.IsExecutable).Select(rewriter.Rewrite).ToList();
        var totals = RewriteTotals.Of(rewrites);
        output.WriteLine($"glibc: {set.AllObjects.Count()} objects, {totals}, {sw.ElapsedMilliseconds} ms");
        foreach (var site in rewrites.SelectMany(r => r.Sites).Where(s => s.Strategy != SiteStrategy.JumpToTrampoline))
            output.WriteLine("  " + site);
        Assert.Equal(expected, totals.Found);
        Assert.Equal(totals.Found, totals.Patched + totals.Fallbacks + totals.Untouched);
        Assert.True(totals.Fallbacks + totals.Untouched <= totals.Found / 100, totals.ToString());
    }
}
