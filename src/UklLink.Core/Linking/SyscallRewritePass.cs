using UklLink.Inputs;
using UklLink.Rewrite;
using static UklLink.Inputs.ElfConstants;

namespace UklLink.Linking;

/// <summary>
/// What the rewrite pass hands on: the live sections with the trampoline sections inserted, the new contents of the
/// sections it changed (the input sections themselves keep what the file holds), every section's rewrite, and where
/// each trampoline sits (for the link map).
/// </summary>
internal sealed record RewriteOutcome(
    IReadOnlyList<InputSection> Live,
    SectionContents Contents,
    IReadOnlyList<SectionRewrite> Rewrites,
    IReadOnlyList<(InputSection Section, ulong Offset, Trampoline Trampoline, SectionRewrite Rewrite)> Trampolines);

/// <summary>
/// The rewrite pass of `link`: every executable input section goes through <see cref="SyscallRewriter"/>; a changed
/// section gets its new bytes and relocations (in the outcome's <see cref="SectionContents"/>), and its trampolines
/// become one linker-made input section, <c>.text.ukl_trampolines</c> of the same object, right after it in link order
/// (so the script's <c>.text.*</c> rule places it in the text slot next to the code that jumps to it).
/// docs/syscall-rewrite.md has the API.
/// </summary>
internal sealed class SyscallRewritePass
{
    public const string TrampolineSectionName = ".text.ukl_trampolines";

    private readonly SyscallRewriter _rewriter;
    private readonly Dictionary<(ObjectFile, string), InputSymbol> _named = new();
    private readonly Dictionary<InputSection, InputSymbol> _sectionSymbols = new();

    private SyscallRewritePass(RewriteOptions options) => _rewriter = new SyscallRewriter(options);

    /// <summary>Rewrites the live code sections; <paramref name="live"/> and its sections are left as they are.</summary>
    public static RewriteOutcome Run(IReadOnlyList<InputSection> live, RewriteOptions options) =>
        new SyscallRewritePass(options).Rewrite(live);

    private RewriteOutcome Rewrite(IReadOnlyList<InputSection> live)
    {
        var result = new List<InputSection>(live.Count);
        var rewrites = new List<SectionRewrite>();
        var trampolines = new List<(InputSection, ulong, Trampoline, SectionRewrite)>();
        var contents = new Dictionary<InputSection, (byte[], IReadOnlyList<InputRelocation>)>();
        foreach (var section in live)
        {
            result.Add(section);
            if (!SyscallRewriter.MayContainSyscall(section))
                continue;
            var rw = _rewriter.Rewrite(section);
            if (rw.Sites.Count == 0)
                continue;
            rewrites.Add(rw);
            if (!rw.Changed)
                continue;

            // Trampolines first: the section's own relocations may point into them.
            InputSection? tramp = null;
            var offsets = new ulong[rw.Trampolines.Count];
            if (rw.Trampolines.Count > 0)
            {
                var code = new MemoryStream();
                for (int i = 0; i < rw.Trampolines.Count; i++)
                {
                    while (code.Length % Trampoline.PreferredAlignment != 0)
                        code.WriteByte(0xcc);
                    offsets[i] = (ulong)code.Length;
                    code.Write(rw.Trampolines[i].Code);
                }
                tramp = InputSection.Synthetic(section.File, TrampolineSectionName, SHF_ALLOC | SHF_EXECINSTR, Trampoline.PreferredAlignment, code.ToArray(),
                    self => rw.Trampolines.SelectMany((t, i) => t.Relocations.Select(r => Convert(r, self, offsets[i], section, self, offsets))).ToList());
                for (int i = 0; i < rw.Trampolines.Count; i++)
                    trampolines.Add((tramp, offsets[i], rw.Trampolines[i], rw));
                result.Add(tramp);
            }
            contents[section] = (rw.Data, rw.Relocations.Select(r => Convert(r, section, 0, section, tramp, offsets)).OrderBy(r => r.Offset).ToList());
        }
        return new RewriteOutcome(result, new SectionContents(contents), rewrites, trampolines);
    }

    private InputRelocation Convert(RewriteRelocation r, InputSection owner, ulong ownerOffset, InputSection rewritten, InputSection? tramp, ulong[] offsets)
    {
        var (symbol, addend) = r.Target switch
        {
            SymbolTarget s => (s.Symbol, r.Addend),
            NamedSymbolTarget n => (Named(rewritten.File, n.Name), r.Addend),
            SectionOffsetTarget o => (SectionSymbol(rewritten), r.Addend + (long)o.Offset),
            TrampolineTarget t => (SectionSymbol(tramp!), r.Addend + (long)offsets[t.Index]),
            _ => throw new InvalidOperationException($"unknown rewrite target {r.Target}"),
        };
        return new InputRelocation(owner, ownerOffset + r.Offset, r.Type, symbol, addend);
    }

    private InputSymbol SectionSymbol(InputSection section)
    {
        if (!_sectionSymbols.TryGetValue(section, out var s))
            _sectionSymbols[section] = s = InputSymbol.Synthetic(section.File, "", STB_LOCAL, STT_SECTION, section);
        return s;
    }

    private InputSymbol Named(ObjectFile file, string name)
    {
        if (!_named.TryGetValue((file, name), out var s))
            _named[(file, name)] = s = InputSymbol.Synthetic(file, name, STB_GLOBAL, STT_NOTYPE, null);
        return s;
    }
}
