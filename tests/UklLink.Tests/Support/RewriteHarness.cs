using System.Diagnostics;
using UklLink.Inputs;
using UklLink.Rewrite;

namespace UklLink.Tests.Support;

/// <summary>
/// Rewrites objects with <see cref="SyscallRewriter"/>, writes them back with <see cref="RewrittenObjectWriter"/> and
/// runs programs linked from them in user space, where <c>ukl_entry_SYSCALL_64</c> is a two-instruction shim
/// (<c>syscall; ret</c>) instead of the kernel's entry.
/// </summary>
public static class RewriteHarness
{
    /// <summary>
    /// The user-space stand-in for a slot ABI v2 kernel's alternate entry, reached by <c>jmp *%rcx</c> with the resume
    /// address in %r11 (the default <see cref="SyscallEntryForm"/>): the real `syscall`, then back to %r11 with the
    /// flags as they were (sysret restores them). Unlike the kernel it needs the stack to keep %r11 across the
    /// syscall; it stays clear of the caller's red zone. Not for clone with a new stack or vfork (the harness's
    /// programs use neither).
    /// </summary>
    public const string EntryShim = """
            .text
            .globl ukl_entry_SYSCALL_64
            .type ukl_entry_SYSCALL_64,@function
        ukl_entry_SYSCALL_64:
            lea -128(%rsp), %rsp
            push %r11
            syscall
            pop %r11
            lea 128(%rsp), %rsp
            jmp *%r11
            .size ukl_entry_SYSCALL_64, .-ukl_entry_SYSCALL_64
            .section .note.GNU-stack,"",@progbits
        """;

    /// <summary>Rewrites every executable section of the object at <paramref name="path"/>.</summary>
    public static (InputSet Inputs, ObjectFile Object, IReadOnlyList<SectionRewrite> Rewrites) Rewrite(string path, RewriteOptions? options = null)
    {
        var set = InputSet.Load(new[] { path });
        var obj = set.AllObjects.Single();
        var rewriter = new SyscallRewriter(options);
        var rewrites = obj.AllSections.Where(s => s.IsExecutable).Select(rewriter.Rewrite).ToList();
        return (set, obj, rewrites);
    }

    /// <summary>The rewrite of the section named <paramref name="name"/>.</summary>
    public static SectionRewrite Section(this IReadOnlyList<SectionRewrite> rewrites, string name) =>
        rewrites.Single(r => r.Section.Name == name);

    /// <summary>Rewrites an object file and writes the result next to <paramref name="outputDirectory"/>.</summary>
    public static (string Path, RewriteTotals Totals) RewriteToFile(string input, string output, RewriteOptions? options = null)
    {
        var (set, obj, rewrites) = Rewrite(input, options);
        using (set)
            RewrittenObjectWriter.Write(obj, rewrites, output);
        return (output, RewriteTotals.Of(rewrites));
    }

    /// <summary>
    /// Rewrites every member of an archive into a new archive (member order kept); returns the totals over all
    /// members.
    /// </summary>
    public static RewriteTotals RewriteArchive(string archive, string output, string workDirectory, Action<SectionRewrite>? inspect = null)
    {
        using var set = InputSet.Load(new[] { archive });
        var rewriter = new SyscallRewriter();
        var all = new List<SectionRewrite>();
        var members = new List<string>();
        int n = 0;
        string dir = Path.Combine(workDirectory, "members");
        Directory.CreateDirectory(dir);
        foreach (var obj in set.AllObjects)
        {
            var rewrites = obj.AllSections.Where(s => s.IsExecutable).Select(rewriter.Rewrite).ToList();
            foreach (var r in rewrites)
                inspect?.Invoke(r);
            all.AddRange(rewrites);
            string path = Path.Combine(dir, $"{n++:d4}-{obj.Member}");
            RewrittenObjectWriter.Write(obj, rewrites, path);
            members.Add(path);
        }
        File.Delete(output);
        // ar in batches keeps the command line short.
        foreach (var batch in members.Chunk(200))
            Toolchain.Run($"ar qS {output} {string.Join(' ', batch)}");
        Toolchain.Run($"ranlib {output}");
        return RewriteTotals.Of(all);
    }

    /// <summary>The shim as an object, assembled once.</summary>
    public static string ShimObject() => Toolchain.Assemble(EntryShim, "ukl_entry_shim");

    /// <summary>What a program did: its exit status, its output and the files it wrote.</summary>
    public sealed record RunResult(int ExitCode, string Stdout, string Stderr, IReadOnlyDictionary<string, string> Files);

    /// <summary>Runs <paramref name="executable"/> in a fresh directory and collects its output and the files it wrote there.</summary>
    public static RunResult Run(string executable, string? stdin = null)
    {
        string dir = Toolchain.NewWorkDirectory();
        var psi = new ProcessStartInfo(executable)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            WorkingDirectory = dir,
        };
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (stdin is not null)
            p.StandardInput.Write(stdin);
        p.StandardInput.Close();
        if (!p.WaitForExit(30_000))
        {
            p.Kill(true);
            throw new TimeoutException($"{executable} did not finish in 30 s");
        }
        var files = Directory.GetFiles(dir).ToDictionary(f => Path.GetFileName(f), f => File.ReadAllText(f));
        return new RunResult(p.ExitCode, stdout.Result, stderr.Result, files);
    }

    /// <summary>How many `syscall` instructions objdump finds in a linked program.</summary>
    public static int CountSyscallInstructions(string path) =>
        Toolchain.Run($"objdump -d --no-show-raw-insn {path}").Split('\n')
            .Count(l => System.Text.RegularExpressions.Regex.IsMatch(l, @"^\s*[0-9a-f]+:\s+syscall\s*$"));
}
