using System.Text.RegularExpressions;
using UklLink.Linking;
using UklLink.Rewrite;
using UklLink.Tests.Support;
using Xunit;

namespace UklLink.Tests;

/// <summary>
/// validate and link read the same code model and report resolution problems through the same code: validate's
/// syscall count is the number of sites link rewrites or reports, and both commands print the same text for rejected
/// inputs, duplicate definitions and undefined symbols.
/// </summary>
public class OneModelOneReportTests
{
    /// <summary>
    /// A jump over two bytes (48 B8, the start of a movabs) hides the real syscall from a linear sweep, which instead
    /// sees the data bytes 0F 05 after the ret: control flow finds the one, a linear listing the other. Both are sites:
    /// the real one is rewritten, the data one reported and left alone.
    /// </summary>
    private const string DataInCode = """
        .text
        .globl _start
        .type _start, @function
        _start:
            jmp 1f
            .byte 0x48, 0xb8
        1:  mov $39, %eax
            syscall
            ret
            .byte 0x0f, 0x05
        .size _start, .-_start
        """;

    [Fact]
    public void ValidateCountsTheSitesLinkRewritesInCodeWithData()
    {
        string obj = Toolchain.Assemble(DataInCode, "datacode");
        var v = Cli.Run("validate", obj);
        var count = Assert.Single(v.StdoutLines, l => l.Contains("note UKL008"));
        Assert.Contains("2 syscall instructions in .text (in _start)", count);
        // The data bytes: reported by validate as link will leave them.
        var untouched = Assert.Single(v.StdoutLines, l => l.Contains("UKL017"));
        Assert.StartsWith($"{obj}:(.text+0xc)", untouched);

        var link = Linker.Link(new LinkOptions
        {
            KernelPath = FakeKernel.Build(1, "ukl_entry_SYSCALL_64"),
            Inputs = [obj],
            OutputPath = Path.Combine(Toolchain.NewWorkDirectory(), "out"),
        });
        Assert.True(link.Written, string.Join("\n", link.Findings.Findings));
        var totals = link.Rewrite!;
        Assert.Equal(2, totals.Found);
        Assert.Equal(1, totals.Patched + totals.Fallbacks);
        Assert.Equal(1, totals.Untouched);
    }

    [Fact]
    public void LinkLeavesTheInputSectionsAsRead()
    {
        // validate --kernel runs the link passes on the input set it checked; the rewrite must not change it.
        string obj = Toolchain.Assemble(DataInCode, "readonly");
        using var inputs = UklLink.Inputs.InputSet.Load([obj]);
        var text = inputs.AllObjects.Single().AllSections.Single(s => s.Name == ".text");
        byte[] before = text.Content.ToArray();
        var relocationsBefore = text.Relocations.ToList();
        string kernelPath = FakeKernel.Build(1, "ukl_entry_SYSCALL_64");
        using var kernel = UklLink.Kernel.KernelImage.Load(kernelPath);
        var link = Linker.Link(new LinkOptions { KernelPath = kernelPath, Inputs = [obj], OutputPath = null }, kernel, inputs);
        Assert.Equal(1, link.Rewrite!.Patched + link.Rewrite.Fallbacks);
        Assert.Equal(before, text.Content.ToArray());
        Assert.Equal(before, text.Data);
        Assert.Equal(relocationsBefore, text.Relocations);
    }

    [Fact]
    public void ValidateHandsItsResolutionToTheLinkPasses()
    {
        // validate --kernel resolves the inputs once: the link passes report on validate's resolution.
        string obj = Toolchain.Assemble(DataInCode, "resolveonce");
        using var inputs = UklLink.Inputs.InputSet.Load([obj]);
        string kernelPath = FakeKernel.Build(1, "ukl_entry_SYSCALL_64");
        using var kernel = UklLink.Kernel.KernelImage.Load(kernelPath);
        var validation = UklLink.Validation.Validator.Run(inputs, kernel);
        Assert.Equal(["_start"], validation.Resolution.Definitions.Keys);
        var options = new LinkOptions { KernelPath = kernelPath, Inputs = [obj], OutputPath = null };

        var link = Linker.Link(options, kernel, inputs, validation.Resolution);
        Assert.Same(validation.Resolution, link.Resolution);
        Assert.Equal(1, link.Rewrite!.Patched + link.Rewrite.Fallbacks);
        // Without one the link resolves for itself, to the same answer.
        var own = Linker.Link(options, kernel, inputs);
        Assert.NotSame(validation.Resolution, own.Resolution);
        Assert.Equal(validation.Resolution.Included, own.Resolution!.Included);
        // validate resolves with the default script's names: a link with -T must resolve for itself.
        Assert.Throws<ArgumentException>(() => Linker.Link(options with { ScriptPath = "other.ld" }, kernel, inputs, validation.Resolution));
    }

    /// <summary>Each finding line of the given rules with the lines that continue it (">>> referenced by", hints).</summary>
    private static List<string> Blocks(string report, params string[] rules)
    {
        var blocks = new List<string>();
        bool inBlock = false;
        foreach (var line in report.Split('\n'))
        {
            if (Regex.IsMatch(line, @" (error|warning|note) UKL\d{3}: "))
                inBlock = rules.Any(r => line.Contains($" {r}: ", StringComparison.Ordinal));
            else if (!line.StartsWith(">>>", StringComparison.Ordinal) && !line.StartsWith("    hint:", StringComparison.Ordinal))
                inBlock = false;
            if (inBlock)
                blocks.Add(line);
        }
        return blocks;
    }

    [Fact]
    public void ValidateAndLinkReportDuplicatesAndUndefinedSymbolsInTheSameText()
    {
        string a = Toolchain.CompileC("extern long missing(void); long twice(void) { return 1; } void _start(void) { missing(); for (;;) ; }",
            Toolchain.UklFlags, "resa");
        string b = Toolchain.CompileC("extern long missing(void); long twice(void) { return missing(); }", Toolchain.UklFlags, "resb");
        string kernel = FakeKernel.Build(1, "ukl_entry_SYSCALL_64");
        var v = Cli.Run("validate", "--kernel", kernel, a, b);
        var l = Cli.Run("link", "--kernel", kernel, "-o", Path.Combine(Toolchain.NewWorkDirectory(), "out"), a, b);
        Assert.Equal(1, v.ExitCode);
        Assert.Equal(1, l.ExitCode);

        var fromValidate = Blocks(v.Stdout, "UKL013", "UKL010");
        Assert.Equal(fromValidate, Blocks(l.Stderr, "UKL013", "UKL010"));
        Assert.Contains(fromValidate, x => x.Contains("error UKL013: duplicate symbol: twice (also defined in ", StringComparison.Ordinal));
        Assert.Contains(fromValidate, x => x.Contains("error UKL010: undefined symbol: missing", StringComparison.Ordinal));
        Assert.Equal(2, fromValidate.Count(x => x.StartsWith(">>> referenced by ", StringComparison.Ordinal)));
    }

    [Fact]
    public void ValidateAndLinkReportRejectedInputsInTheSameText()
    {
        string elf32 = Toolchain.Assemble(".text\nf: ret\n", "rej32", "--32");
        string obj = Toolchain.CompileC("void _start(void) { for (;;) ; }", Toolchain.UklFlags, "rejok");
        string kernel = FakeKernel.Build(1, "ukl_entry_SYSCALL_64");
        var v = Cli.Run("validate", "--kernel", kernel, obj, elf32);
        var l = Cli.Run("link", "--kernel", kernel, "-o", Path.Combine(Toolchain.NewWorkDirectory(), "out"), obj, elf32);
        var fromValidate = Blocks(v.Stdout, "UKL009");
        Assert.Contains("is ELF32, expected ELF64", Assert.Single(fromValidate, x => x.Contains("UKL009")));
        Assert.Equal(fromValidate, Blocks(l.Stderr, "UKL009"));
    }
}
