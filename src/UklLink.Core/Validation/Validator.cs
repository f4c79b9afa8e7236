using UklLink.Analysis;
using UklLink.Diagnostics;
using UklLink.Inputs;
using UklLink.Kernel;
using UklLink.Rewrite;
using UklLink.Symbols;
using UklLink.X86_64;
using static UklLink.Inputs.ElfConstants;

namespace UklLink.Validation;

/// <summary>
/// The checks of <c>ukl-link validate</c>: everything that can be known about the application's objects (and, with a
/// kernel, about how they bind to it) before anything is linked or booted. Every object is checked, including archive
/// members the link would not pull in, so a library is judged whole; undefined symbols are judged on the link closure,
/// and red-zone use is an error only in what the link includes, and only for a kernel that is not red-zone safe
/// (<see cref="RedZoneCheck"/>, the check link makes too).
/// </summary>
public sealed class Validator
{
    private static readonly HashSet<string> LinkerOnlySections = new(StringComparer.Ordinal)
    {
        ".got", ".got.plt", ".plt", ".plt.got", ".plt.sec", ".dynamic", ".interp", ".dynsym", ".dynstr", ".rela.dyn",
        ".rela.plt", ".hash", ".gnu.hash", ".gnu.version", ".gnu.version_r", ".gnu.version_d",
    };

    private readonly FindingBag _bag = new();
    private readonly Locator _locator = new();
    private readonly CodeMaps _maps = new();
    private readonly SyscallRewriter _rewriter;
    private readonly RedZoneCheck _redZone;

    /// <summary>The syscall count, the rewrite's findings and the red-zone analysis read one code model per section.</summary>
    private Validator()
    {
        _rewriter = new SyscallRewriter(maps: _maps);
        _redZone = new RedZoneCheck(_locator, _maps);
    }

    /// <summary>
    /// Checks every object of <paramref name="inputs"/>; the resolution is the default script's and
    /// <paramref name="kernel"/>'s (what `link` without -T resolves against), so `link` can reuse it.
    /// </summary>
    public static ValidationResult Run(InputSet inputs, KernelImage? kernel)
    {
        var v = new Validator();
        ResolutionReport.Rejected(inputs, v._bag);
        // The kernel's findings come last; its descriptor decides how serious red-zone use is.
        var kernelBag = new FindingBag();
        var checkedKernel = kernel is null ? null : SlotAbiCheck.Check(kernel, kernelBag);
        var resolution = Resolver.Resolve(inputs, name => LinkerDefinedSymbols.Default.Contains(name) || kernel is not null && kernel.GlobalSymbols.ContainsKey(name));
        var linked = resolution.Included.ToHashSet();
        foreach (var obj in inputs.AllObjects)
            v.CheckObject(obj, RedZoneCheck.SeverityFor(checkedKernel?.Descriptor, linked.Contains(obj)));
        ResolutionReport.Symbols(resolution, withUndefined: kernel is not null, v._locator, v._bag);
        if (kernel is not null)
            v.CheckKernel(kernel, kernelBag, checkedKernel);
        return new ValidationResult(v._bag, resolution);
    }

    private void CheckObject(ObjectFile obj, (Severity Severity, RedZoneCheck.Reason Reason) redZone)
    {
        foreach (var section in obj.AllSections)
        {
            if (LinkerOnlySections.Contains(section.Name) || section.Type is SHT_DYNAMIC or SHT_DYNSYM or SHT_HASH)
                _bag.Report(Rules.LinkerCreatedSection, At(section, null), $"section '{section.Name}' is created by a final or dynamic link, not found in relocatable input");
            if (IsLegacyConstructorSection(section.Name) && section.Size > 0)
                _bag.Report(Rules.LegacyConstructors, At(section, 0), $"section '{section.Name}' holds legacy constructors or destructors; the link runs them from .init_array/.fini_array");
            if (section.Name == ".note.GNU-stack" && section.IsExecutable)
                _bag.Report(Rules.ExecutableStack, At(section, null), "the object requests an executable stack");
            CheckRelocations(section);
            if (section.IsExecutable && section.IsAlloc && !section.IsNoBits)
                CheckSyscalls(section);
        }

        foreach (var sym in obj.Symbols)
            if (sym.Type == STT_GNU_IFUNC && sym.IsDefined)
                _bag.Report(Rules.IndirectFunction, At(sym.Section, sym.Value, sym), $"'{sym.Name}' is an indirect function (STT_GNU_IFUNC), resolved by the C library's start-up through .rela.iplt");

        _redZone.Check(obj, redZone.Severity, redZone.Reason, _bag);
        _maps.Release(obj); // every consumer of this object's code maps has run
    }

    private static bool IsLegacyConstructorSection(string name) =>
        name is ".ctors" or ".dtors" || name.StartsWith(".ctors.", StringComparison.Ordinal) || name.StartsWith(".dtors.", StringComparison.Ordinal);

    private void CheckRelocations(InputSection section)
    {
        if (!section.IsAlloc)
            return; // .debug_* and other non-allocated sections are never loaded: any address width is fine there
        foreach (var r in section.Relocations)
        {
            var type = RelocationTypes.Get(r.Type);
            string target = SymbolText(r);
            switch (type.Class)
            {
                case RelocationClass.AbsoluteLow:
                    _bag.Report(Rules.AddressCannotReachKernel, At(section, r.Offset),
                        $"relocation {type.Name} against {target} stores a zero-extended {type.FieldSize * 8}-bit absolute address, which cannot reach the kernel's top 2 GiB");
                    break;
                case RelocationClass.Unsupported:
                    _bag.Report(Rules.UnsupportedRelocation, At(section, r.Offset),
                        $"relocation {type.Name} against {target} is not supported: {type.Why}");
                    break;
                case RelocationClass.Relaxable:
                    _bag.Report(Rules.RelaxableConstruct, At(section, r.Offset),
                        $"relocation {type.Name} against {target} will be relaxed to a direct access");
                    break;
            }
        }
    }

    private static string SymbolText(InputRelocation r)
    {
        var s = r.Symbol;
        if (s.Index == 0)
            return "no symbol";
        string name = s.DisplayName.Length > 0 ? s.DisplayName : $"symbol {s.Index}";
        return r.Addend != 0 && s.Type == STT_SECTION ? $"'{name}'+0x{r.Addend:x}" : $"'{name}'";
    }

    /// <summary>
    /// The sites `link` rewrites, found by the rewriter itself (so the count is the link's), and what it will have to do
    /// with them: fallbacks and untouched bytes are reported before linking.
    /// </summary>
    private void CheckSyscalls(InputSection section)
    {
        var rewrite = _rewriter.Rewrite(section);
        var sites = rewrite.Sites;
        if (sites.Count == 0)
            return;
        var functions = sites.Select(s => s.Function?.Name).OfType<string>().Where(n => n.Length > 0).Distinct().Take(5).ToList();
        string where = functions.Count > 0 ? $" (in {string.Join(", ", functions)})" : "";
        _bag.Report(Rules.SyscallSites, At(section, sites[0].Offset),
            $"{sites.Count} syscall instruction{(sites.Count == 1 ? "" : "s")} in {section.Name}{where}; `ukl-link link` rewrites them into calls to {SlotAbi.SyscallEntrySymbol}");
        foreach (var f in rewrite.Findings)
            _bag.Add(f);
    }

    private void CheckKernel(KernelImage kernel, FindingBag kernelBag, (IReadOnlyList<Slot> Slots, SlotDescriptor Descriptor)? checkedKernel)
    {
        foreach (var f in kernelBag.Findings)
            _bag.Add(f);
        if (checkedKernel is not ({ } slots, { } descriptor))
            return;
        string sizes = string.Join(", ", slots.Select(s => $"{s.Name.Role} {FormatSize(s.Size)}"));
        string app = descriptor.HasApplication ? "an application is already linked" : "no application linked";
        _bag.Report(Rules.KernelDescriptor, new Location(kernel.Path, Symbol: SlotAbi.DescriptorSymbol),
            $"kernel carries UKL slot ABI v{descriptor.AbiVersion} ({sizes}; {app}; features: {descriptor.FeatureText})");
    }

    private static string FormatSize(ulong bytes) =>
        bytes % (1024 * 1024) == 0 ? $"{bytes / (1024 * 1024)} MiB" : bytes % 1024 == 0 ? $"{bytes / 1024} KiB" : $"{bytes} bytes";

    private Location At(InputSection? section, ulong? offset, InputSymbol? symbol = null) => _locator.At(section, offset, symbol);
}
