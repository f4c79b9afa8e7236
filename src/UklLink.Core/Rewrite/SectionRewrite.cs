using UklLink.Diagnostics;
using UklLink.Inputs;

namespace UklLink.Rewrite;

/// <summary>
/// The result of rewriting one executable input section. The linker uses <see cref="Data"/> and
/// <see cref="Relocations"/> instead of the section's own bytes and relocations (same size, same alignment), and
/// places every <see cref="Trampolines"/> entry in a synthetic section of the text slot. When <see cref="Changed"/> is
/// false, <see cref="Data"/> is the section's own array and <see cref="Relocations"/> mirror its own.
/// </summary>
public sealed class SectionRewrite
{
    internal SectionRewrite(InputSection section, byte[] data, IReadOnlyList<RewriteRelocation> relocations,
        IReadOnlyList<Trampoline> trampolines, IReadOnlyList<SyscallSite> sites, IReadOnlyList<Finding> findings, bool changed)
    {
        Section = section;
        Data = data;
        Relocations = relocations;
        Trampolines = trampolines;
        Sites = sites;
        Findings = findings;
        Changed = changed;
    }

    public InputSection Section { get; }

    /// <summary>The section's new bytes; always exactly <c>Section.Size</c> long.</summary>
    public byte[] Data { get; }

    /// <summary>The section's new relocations, by offset: the original ones outside rewritten windows (as
    /// <see cref="SymbolTarget"/>s) plus one R_X86_64_PC32 per trampoline jump.</summary>
    public IReadOnlyList<RewriteRelocation> Relocations { get; }

    /// <summary>Per-site code, indexed by <see cref="TrampolineTarget.Index"/>.</summary>
    public IReadOnlyList<Trampoline> Trampolines { get; }

    /// <summary>Every syscall site found, in offset order, with what was done to it.</summary>
    public IReadOnlyList<SyscallSite> Sites { get; }

    /// <summary>A UKL016 finding per int fallback and a UKL017 finding per untouched site (errors under
    /// <see cref="RewriteOptions.StrictRewrite"/>).</summary>
    public IReadOnlyList<Finding> Findings { get; }

    /// <summary>Whether any byte or relocation differs from the input section.</summary>
    public bool Changed { get; }

    public int Found => Sites.Count;
    public int Patched => Count(SiteStrategy.JumpToTrampoline);
    public int Fallbacks => Count(SiteStrategy.IntFallback);
    public int Untouched => Count(SiteStrategy.Untouched);

    public int Count(SiteStrategy strategy) => Sites.Count(s => s.Strategy == strategy);
}

/// <summary>Counts over many section rewrites, for the linker's summary and for tests.</summary>
public sealed record RewriteTotals(int Sections, int SectionsChanged, int Found, int Patched, int Fallbacks, int Untouched,
    int TrampolineBytes)
{
    public static RewriteTotals Of(IEnumerable<SectionRewrite> rewrites)
    {
        int sections = 0, changed = 0, found = 0, patched = 0, fallbacks = 0, untouched = 0, bytes = 0, bypassed = 0;
        foreach (var r in rewrites)
        {
            sections++;
            if (r.Changed)
                changed++;
            found += r.Found;
            patched += r.Patched;
            fallbacks += r.Fallbacks;
            untouched += r.Untouched;
            bytes += r.Trampolines.Sum(t => t.Code.Length);
            bypassed += r.Trampolines.Count(t => t.Bypass);
        }
        return new RewriteTotals(sections, changed, found, patched, fallbacks, untouched, bytes) { Bypassed = bypassed };
    }

    /// <summary>Trampolines that enter through a bypass entry (<c>--bypass</c>).</summary>
    public int Bypassed { get; init; }

    public override string ToString() =>
        $"{Found} syscall sites: {Patched} to trampolines ({Bypassed} bypass), {Fallbacks} int fallback, {Untouched} untouched; {TrampolineBytes} trampoline bytes";
}
