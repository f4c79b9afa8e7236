using System.Buffers.Binary;
using System.Diagnostics;
using UklLink.Analysis;
using UklLink.Diagnostics;
using UklLink.Inputs;
using UklLink.Kernel;
using UklLink.Layout;
using UklLink.LinkerScript;
using UklLink.Output;
using UklLink.Rewrite;
using UklLink.Symbols;
using UklLink.Validation;
using UklLink.X86_64;
using static UklLink.Inputs.ElfConstants;

namespace UklLink.Linking;

/// <summary>
/// `ukl-link link`: the passes in order (<see cref="Run"/>), each a function of earlier passes' results that returns its
/// own; every pass appends findings, and the link stops after the first pass that reported an error. The output is
/// written only when no pass did.
/// </summary>
public sealed class Linker
{
    public const string DefaultScriptName = "ukl-app.ld";

    // The link's context, fixed before the first pass: options, the script, where findings and timings go.
    private readonly LinkOptions _options;
    private readonly FindingBag _bag = new();
    private readonly Locator _locator = new();
    private readonly LinkResult _result;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly Script _script;
    private readonly Resolution? _resolution; // validate's, when it hands the inputs over already resolved
    private long _lastMark;

    private Linker(LinkOptions options, Resolution? resolution = null)
    {
        _options = options;
        _resolution = resolution;
        _result = new LinkResult(_bag);
        _script = LoadScript(options.ScriptPath);
        if (options.ScriptPath is not null)
            _result.FilesRead.Add(options.ScriptPath);
    }

    public static LinkResult Link(LinkOptions options)
    {
        var linker = new Linker(options);
        using var kernel = linker.Pass("read kernel", () => KernelImage.Load(options.KernelPath))!;
        using var inputs = linker.Pass("read inputs", () => InputSet.Load(options.Inputs))!;
        linker.Run(kernel, inputs);
        return linker._result;
    }

    /// <summary>
    /// The passes on a kernel and inputs already read (validate --kernel has them open): nothing is read twice, and no
    /// pass changes <paramref name="inputs"/>. With <paramref name="resolution"/> (validate's, made by
    /// <see cref="Resolver"/> from these inputs, this kernel and the default script's linker-defined names) the resolve
    /// pass reports on it instead of resolving again; it then needs the default script.
    /// </summary>
    public static LinkResult Link(LinkOptions options, KernelImage kernel, InputSet inputs, Resolution? resolution = null)
    {
        if (resolution is not null && options.ScriptPath is not null)
            throw new ArgumentException("a resolution made elsewhere is made with the default script's names; it cannot serve a link with -T", nameof(resolution));
        var linker = new Linker(options, resolution);
        linker.Run(kernel, inputs);
        return linker._result;
    }

    /// <summary>The passes, in order: one line each, named as -v times them.</summary>
    private void Run(KernelImage kernel, InputSet inputs)
    {
        _result.FilesRead.Add(kernel.Path);
        _result.FilesRead.AddRange(inputs.FilesRead);

        if (Pass("check kernel", () => CheckKernel(kernel, inputs)) is not { } checkedKernel) return;
        if (Pass("resolve", () => Resolve(kernel, inputs)) is not { } resolved) return;
        if (Pass("mark live", () => MarkLive(resolved, checkedKernel.Descriptor)) is not { } live) return;
        if (Pass("rewrite", () => RewriteSyscalls(live, kernel, checkedKernel.Descriptor)) is not { } rewritten) return;
        if (Pass("scan relocations", () => ScanRelocations(rewritten, resolved, kernel)) is not { } made) return;
        if (Pass("assign", () => LayoutEngine.Assign(_script, rewritten.Live, made.Pieces)) is not { } assignment) return;
        if (Pass("merge", () => Merge(assignment, rewritten, resolved, made)) is not { } transforms) return;
        if (Pass("layout", () => Layout(assignment, transforms, checkedKernel.Slots, resolved, kernel)) is not { } layout) return;
        if (Pass("bind", () => Bind(layout, transforms, made, rewritten, resolved, live, kernel)) is not { } bound) return;
        if (Pass("relocate", () => Relocate(layout, transforms, made, bound, rewritten)) is not { } images) return;
        Write(images, layout, made, bound, resolved, checkedKernel.Slots, kernel); // times "write" and "map" itself
    }

    /// <summary>Runs one pass and times it; null when the pass reported an error (the passes after it do not run).</summary>
    private T? Pass<T>(string name, Func<T?> pass) where T : class
    {
        var value = pass();
        long now = _clock.ElapsedMilliseconds;
        _result.Timings.Add((name, now - _lastMark));
        _lastMark = now;
        return _bag.ErrorCount > 0 ? null : value;
    }

    // What the passes hand on, beyond the library types (Resolution, SectionAssignment, LayoutResult, ...).
    private sealed record CheckedKernel(IReadOnlyList<Slot> Slots, SlotDescriptor Descriptor);
    private sealed record Resolved(Resolution Resolution, IReadOnlySet<string> LinkerNames);
    private sealed record LiveSections(IReadOnlyList<InputSection> Sections, ComdatGroups Comdats);
    private sealed record MadeSections(LinkerMadeSections Made, EhFrameHeader? EhFrameHeader)
    {
        public IReadOnlyList<SyntheticPiece> Pieces => EhFrameHeader is null ? Made.Pieces : [.. Made.Pieces, EhFrameHeader.Piece];
    }
    private sealed record Bound(SymbolValues Values, DebugSections Debug, TlsSegment Tls, IReadOnlyDictionary<string, LinkerSymbol> LinkerSymbols, ulong Entry);

    /// <summary>Inputs that are no relocatable x86-64 objects, and a kernel whose slot ABI ukl-link speaks with no application in it.</summary>
    private CheckedKernel? CheckKernel(KernelImage kernel, InputSet inputs)
    {
        ResolutionReport.Rejected(inputs, _bag);
        if (SlotAbiCheck.Check(kernel, _bag) is not ({ } slots, { } descriptor))
            return null;
        if (descriptor.HasApplication)
        {
            _bag.Report(Rules.KernelNotUkl, new Location(kernel.Path, Symbol: SlotAbi.DescriptorSymbol),
                "kernel already has an application linked into its slots; link against the kernel build's own vmlinux",
                "pass the vmlinux from kernel/build, not the output of an earlier ukl-link link");
            return null;
        }
        return new CheckedKernel(slots, descriptor);
    }

    /// <summary>Application first, then the script's symbols, then the kernel's.</summary>
    private Resolved Resolve(KernelImage kernel, InputSet inputs)
    {
        var linkerNames = _resolution is null ? LinkerDefinedSymbols.For(_script) : LinkerDefinedSymbols.Default;
        var resolution = _resolution ?? Resolver.Resolve(inputs, name => linkerNames.Contains(name) || kernel.GlobalSymbols.ContainsKey(name));
        _result.Resolution = resolution;
        ResolutionReport.Symbols(resolution, withUndefined: true, _locator, _bag);
        return new Resolved(resolution, linkerNames);
    }

    /// <summary>
    /// The live sections: allocatable sections of the included objects without the members of COMDAT groups that lost;
    /// with the checks on what is linked (libraries' .gnu.warning sections, red-zone use).
    /// </summary>
    private LiveSections MarkLive(Resolved resolved, SlotDescriptor descriptor)
    {
        var included = resolved.Resolution.Included;
        var comdats = new ComdatGroups(included);
        var live = included.SelectMany(o => o.AllSections)
            .Where(s => s.IsAlloc && s.Type is not (SHT_GROUP or SHT_RELA or SHT_REL or SHT_SYMTAB or SHT_STRTAB) && comdats.Keeps(s))
            .ToList();
        ReportWarningSections(resolved.Resolution);
        CheckRedZone(resolved.Resolution, live, descriptor);
        return new LiveSections(live, comdats);
    }

    /// <summary>
    /// Red-zone use in what the link includes (objects and pulled archive members) is an error unless the kernel delivers
    /// events on its own stack: the same judgement validate makes (<see cref="RedZoneCheck"/>).
    /// </summary>
    private void CheckRedZone(Resolution resolution, IReadOnlyList<InputSection> live, SlotDescriptor descriptor)
    {
        var (severity, reason) = RedZoneCheck.SeverityFor(descriptor, linked: true);
        if (severity != Severity.Error)
            return;
        var maps = new CodeMaps();
        var check = new RedZoneCheck(_locator, maps);
        var liveSet = live.ToHashSet();
        foreach (var obj in resolution.Included)
        {
            check.Check(obj, severity, reason, _bag, liveSet.Contains);
            maps.Release(obj); // object by object, as validate does: the maps of a 90 MiB application do not stay live together
        }
    }

    /// <summary>Before anything depends on section contents (GOT decisions, layout); the sections as read without --no-syscall-rewrite.</summary>
    private RewriteOutcome RewriteSyscalls(LiveSections live, KernelImage kernel, SlotDescriptor descriptor)
    {
        if (!_options.RewriteSyscalls)
            return new RewriteOutcome(live.Sections, SectionContents.AsRead, [], []);
        var form = SyscallEntryForms.ForAbiVersion(descriptor.AbiVersion);
        var bypass = _options.Bypass ? BypassEntries(kernel, descriptor) : new Dictionary<int, string>();
        var outcome = SyscallRewritePass.Run(live.Sections,
            new RewriteOptions { StrictRewrite = _options.StrictRewrite, EntryForm = form, BypassEntries = bypass });
        foreach (var f in outcome.Rewrites.SelectMany(rw => rw.Findings))
            _bag.Add(f);
        var totals = RewriteTotals.Of(outcome.Rewrites);
        _result.Rewrite = totals;
        _result.EntryForm = form;
        if (totals.Patched + totals.Fallbacks > 0 && !kernel.GlobalSymbols.ContainsKey(SlotAbi.SyscallEntrySymbol))
            _bag.Report(Rules.KernelWithoutSyscallEntry, new Location(kernel.Path),
                $"the application has {totals.Found} syscall site(s) to rewrite, but the kernel does not define {SlotAbi.SyscallEntrySymbol}");
        return outcome;
    }

    /// <summary>
    /// The kernel's bypass entries by number (<c>ukl_bypass_&lt;nr&gt;</c>) when its descriptor announces them; otherwise
    /// none, and a note that --bypass has no effect with this kernel.
    /// </summary>
    private Dictionary<int, string> BypassEntries(KernelImage kernel, SlotDescriptor descriptor)
    {
        var entries = new Dictionary<int, string>();
        if (descriptor.Bypass)
        {
            for (int nr = 0; nr <= SlotAbi.MaxBypassNumber; nr++)
            {
                string name = SlotAbi.BypassEntryPrefix + nr.ToString(System.Globalization.CultureInfo.InvariantCulture);
                if (kernel.GlobalSymbols.ContainsKey(name))
                    entries[nr] = name;
            }
        }
        if (entries.Count == 0)
            _bag.Report(Rules.BypassUnavailable, new Location(kernel.Path), descriptor.Bypass
                ? "--bypass: the kernel announces bypass entries but defines no ukl_bypass_<nr> symbol; every site enters through " + SlotAbi.SyscallEntrySymbol
                : "--bypass: the kernel has no bypass entries (slot ABI feature bit 2 is not set); every site enters through " + SlotAbi.SyscallEntrySymbol);
        return entries;
    }

    /// <summary>The content the linker makes from the relocations: .got, the IFUNC sections, .got.plt, COMMON; and whether .eh_frame_hdr is made.</summary>
    private MadeSections ScanRelocations(RewriteOutcome rewritten, Resolved resolved, KernelImage kernel)
    {
        var made = LinkerMadeSections.Build(rewritten.Live, rewritten.Contents, resolved.Resolution, kernel, resolved.LinkerNames,
            // Replaying ld's symbol table (some 30k names with the kernel's) only matters when global GOT or IFUNC entries need an order.
            new Lazy<LdHashOrder>(() => SymbolTableOrder(rewritten.Live, resolved.Resolution, kernel), LazyThreadSafetyMode.None));
        return new MadeSections(made, EhFrameHeader.For(_script, rewritten.Live));
    }

    /// <summary>Merged strings, the edited .eh_frame and reversed .ctors, from where the assign pass sent each section.</summary>
    private ContentTransforms Merge(SectionAssignment assignment, RewriteOutcome rewritten, Resolved resolved, MadeSections made) =>
        ContentTransforms.Build(assignment.Claims, rewritten.Live, resolved.Resolution, rewritten.Contents, made.EhFrameHeader?.Piece);

    /// <summary>Addresses for everything, then the checks on them: orphans, slot sizes, failed ASSERTs.</summary>
    private LayoutResult? Layout(SectionAssignment assignment, ContentTransforms transforms, IReadOnlyList<Slot> slots, Resolved resolved, KernelImage kernel)
    {
        LayoutResult layout;
        try
        {
            layout = LayoutEngine.Place(new LayoutRequest
            {
                Script = _script,
                Assignment = assignment,
                Sizes = transforms,
                Slots = slots,
                ExternalSymbol = name => kernel.TryGetSymbolValue(name, out ulong v) ? v : null,
                DefinedByApplication = name => resolved.Resolution.Definitions.ContainsKey(name),
                ReferencedByApplication = resolved.Resolution.Referenced.Contains,
            });
        }
        catch (LayoutException ex)
        {
            _bag.Report(Rules.ScriptError, ScriptLocation(ex.Position), ex.Message);
            return null;
        }
        foreach (var orphan in layout.Orphans)
            _bag.Report(Rules.OrphanSection, _locator.At(orphan, null), $"section '{orphan.Name}' ({orphan.Size} bytes) matches no rule of the linker script {_script.File}");
        CheckSlots(layout, slots);
        foreach (var failed in layout.FailedAsserts)
            _bag.Report(Rules.ScriptError, ScriptLocation(failed.Position), failed.Message);
        return layout;
    }

    /// <summary>Final symbol values, the TLS segment and the entry point, once every address is known.</summary>
    private Bound? Bind(LayoutResult layout, ContentTransforms transforms, MadeSections made, RewriteOutcome rewritten, Resolved resolved,
        LiveSections live, KernelImage kernel)
    {
        var tls = TlsSegment.Of(layout);
        var debug = new DebugSections(resolved.Resolution.Included, live.Comdats);
        var linkerSymbols = DefineLinkerSymbols(layout, made, rewritten, resolved, kernel);
        if (linkerSymbols is null)
            return null;
        var values = new SymbolValues(resolved.Resolution, layout, kernel, made.Made,
            (section, offset) => layout.Placed.TryGetValue(section, out var piece) && piece.Output is not null ? piece.Address + offset
                : debug.TryGetOffset(section, out ulong debugOffset) ? debugOffset + offset : null,
            tls.Start, tls.Size, transforms, linkerSymbols.ToDictionary(kv => kv.Key, kv => kv.Value.Value, StringComparer.Ordinal));

        string entryName = _options.Entry ?? layout.Entry ?? "_start";
        var entry = values.ResolveName(entryName, null);
        if (entry.Kind is not TargetKind.Section || !resolved.Resolution.Definitions.ContainsKey(entryName) && !layout.Symbols.ContainsKey(entryName))
        {
            _bag.Report(Rules.MissingEntry, new Location(_options.Inputs.FirstOrDefault() ?? _options.KernelPath), $"entry symbol '{entryName}' is not defined by the application");
            return null;
        }
        _result.Entry = entry.Value;
        foreach (var (section, offset, trampoline, rw) in rewritten.Trampolines)
            if (layout.Placed.TryGetValue(section, out var piece) && layout.Placed.TryGetValue(rw.Section, out var site))
                _result.Trampolines.Add(new TrampolineInfo(piece.Address + offset, (ulong)trampoline.Code.Length,
                    site.Address + trampoline.SiteOffset, $"{rw.Section.File.DisplayName}:({rw.Section.Name}+0x{trampoline.SiteOffset:x})")
                {
                    Number = trampoline.SyscallNumber,
                    Entry = trampoline.EntrySymbol,
                });
        return new Bound(values, debug, tls, linkerSymbols, entry.Value);
    }

    /// <summary>
    /// The symbols the linker defines itself once addresses are known: _GLOBAL_OFFSET_TABLE_, __GNU_EH_FRAME_HDR, and
    /// __start_SECNAME/__stop_SECNAME for referenced names that nothing else defines (<see cref="StartStopSymbols"/>).
    /// A __start_/__stop_ name whose section went into an output section of another name stays undefined, as in ld.
    /// </summary>
    private Dictionary<string, LinkerSymbol>? DefineLinkerSymbols(LayoutResult layout, MadeSections made, RewriteOutcome rewritten, Resolved resolved,
        KernelImage kernel)
    {
        var resolution = resolved.Resolution;
        var linkerSymbols = new Dictionary<string, LinkerSymbol>(StringComparer.Ordinal);
        foreach (var (name, value) in made.Made.Symbols())
            linkerSymbols[name] = new LinkerSymbol(name, value, Global: false);
        if (made.EhFrameHeader is { IsPlaced: true } header)
            linkerSymbols[EhFrameHeader.Symbol] = new LinkerSymbol(EhFrameHeader.Symbol, header.Piece.Address, Global: false);
        foreach (var name in resolution.Referenced.Order(StringComparer.Ordinal))
        {
            if (StartStopSymbols.SectionOf(name) is not { } section || resolution.Definitions.ContainsKey(name) || layout.Symbols.ContainsKey(name)
                || resolved.LinkerNames.Contains(name) || kernel.GlobalSymbols.ContainsKey(name))
                continue;
            var output = layout.Sections.FirstOrDefault(os => os.Name == section && os.Pieces.OfType<InputPiece>().Any(p => p.Section.Name == section));
            if (output is not null)
            {
                linkerSymbols[name] = new LinkerSymbol(name, StartStopSymbols.IsStop(name) ? output.End : output.Address, Global: true);
                continue;
            }
            if (!rewritten.Live.Any(s => s.Name == section))
                continue; // no such section: resolution reported the reference already, or it is weak
            var placedIn = layout.Sections.FirstOrDefault(os => os.Pieces.OfType<InputPiece>().Any(p => p.Section.Name == section));
            var referrer = resolution.Included.SelectMany(o => o.AllSections).SelectMany(rewritten.Contents.Relocations)
                .FirstOrDefault(r => r.Symbol.Name == name && !r.Symbol.IsLocal);
            if (referrer is null || referrer.Symbol.IsWeak)
                continue;
            _bag.Report(Rules.UndefinedSymbol, _locator.At(referrer.Section, referrer.Offset),
                $"undefined symbol: {name} (section '{section}' went into output section '{placedIn?.Name ?? "/DISCARD/"}'; "
                + $"the linker defines {name} only for an output section named '{section}')");
        }
        return _bag.ErrorCount > 0 ? null : linkerSymbols;
    }

    /// <summary>One image per output section with file contents: fill, pieces (transformed where ld transforms), relocations.</summary>
    private Dictionary<OutputSection, byte[]> Relocate(LayoutResult layout, ContentTransforms transforms, MadeSections made, Bound bound, RewriteOutcome rewritten)
    {
        var images = new Dictionary<OutputSection, byte[]>();
        var problems = new List<RelocationProblem>();
        // Fills and linker-made pieces first; the input pieces (copy and relocate, most of the work) then run in
        // parallel: each writes only its own range of its output section's image.
        var pieces = new List<(InputPiece Piece, byte[] Buffer, int At)>();
        foreach (var os in layout.Sections)
        {
            if (os.IsNoBits)
                continue;
            var buffer = new byte[os.Size];
            bool codeFill = (os.Flags & SHF_EXECINSTR) != 0 && !os.HasExplicitFill;
            if (!codeFill)
                FillPattern(buffer, os.Fill);
            ulong filled = os.Address;
            foreach (var piece in os.Pieces)
            {
                int at = (int)(piece.Address - os.Address);
                if (codeFill && piece.Address > filled)
                    CodeFill.Fill(buffer.AsSpan((int)(filled - os.Address), (int)(piece.Address - filled)));
                filled = Math.Max(filled, piece.Address + piece.Size);
                switch (piece)
                {
                    case InputPiece ip when !ip.IsNoBits:
                        pieces.Add((ip, buffer, at));
                        break;
                    case SyntheticPiece sp when sp.Data is not null:
                        sp.Data.CopyTo(buffer, at);
                        break;
                    case SyntheticPiece sp when sp.IsNoBits:
                        Array.Clear(buffer, at, (int)sp.Size);
                        break;
                }
            }
            images[os] = buffer;
        }
        var found = new List<RelocationProblem>?[pieces.Count];
        Parallel.For(0, pieces.Count, i =>
        {
            var (ip, buffer, at) = pieces[i];
            var relocations = transforms.CopyContents(ip.Section, s => layout.Placed[s].Address, buffer.AsSpan(at, (int)ip.Size));
            var list = new List<RelocationProblem>();
            Relocator.Apply(ip.Section, relocations, buffer, at, ip.Address, bound.Values, list);
            found[i] = list.Count > 0 ? list : null;
        });
        foreach (var list in found)
            if (list is not null)
                problems.AddRange(list);
        made.Made.WriteGot(images, bound.Values, r => layout.Placed[r.Section].Address + r.Offset, RelocationOrder(layout, rewritten.Live));
        WriteEhFrameHeader(images, layout, transforms, made.EhFrameHeader);
        _result.GotEntries = made.Made.GotSlots.Count;
        foreach (var p in problems)
            _bag.Report(p.Kind switch
            {
                RelocationProblemKind.Overflow => Rules.RelocationOverflow,
                RelocationProblemKind.Sequence => Rules.UnrelaxableSequence,
                RelocationProblemKind.Discarded => Rules.DiscardedReference,
                _ => Rules.UnsupportedRelocation,
            }, _locator.At(p.Relocation.Section, p.Relocation.Offset), $"{p.Message}; references {TargetText(p.Relocation)}", CrtHint(p));
        return images;
    }

    /// <summary>.eh_frame_hdr is made from the relocated .eh_frame, so it is filled in last.</summary>
    private void WriteEhFrameHeader(Dictionary<OutputSection, byte[]> images, LayoutResult layout, ContentTransforms transforms, EhFrameHeader? ehFrameHeader)
    {
        if (ehFrameHeader is not { IsPlaced: true } header)
            return;
        var ehFrame = layout.Sections.FirstOrDefault(os => os.Name == ".eh_frame");
        if (ehFrame is null || !images.TryGetValue(ehFrame, out var ehImage))
            return;
        var bytes = header.Contents(transforms.EhFrameLayout, ehFrame, ehImage, layout.Placed, out string? problem);
        var output = header.Piece.Output!;
        bytes.CopyTo(images[output], (int)(header.Piece.Address - output.Address));
        if (problem is not null)
            _bag.Report(Rules.EhFrameHeaderInvalid, new Location(_options.KernelPath), problem);
    }

    /// <summary>
    /// The order of GNU ld's symbol table for this link (<see cref="LdHashOrder"/>), which orders the .got and the IFUNC
    /// entries. ld adds _GLOBAL_OFFSET_TABLE_ after reading its inputs, and __GNU_EH_FRAME_HDR when it makes an
    /// .eh_frame_hdr, before it allocates entries.
    /// </summary>
    private LdHashOrder SymbolTableOrder(IReadOnlyList<InputSection> live, Resolution resolution, KernelImage kernel)
    {
        string entry = _options.Entry ?? _script.Commands.OfType<EntryCommand>().LastOrDefault()?.Symbol ?? "_start";
        var late = new List<string> { LinkerDefinedSymbols.GlobalOffsetTable };
        if (EhFrameHeader.IsWanted(_script, live))
            late.Add(EhFrameHeader.Symbol);
        return LdHashOrder.Replay(entry, LinkerDefinedSymbols.Assignments(_script), resolution.Included, kernel.GlobalSymbols.Keys, late);
    }

    /// <summary>
    /// The input sections in the order ld relocates them: objects in the order their first section appears in the
    /// output, all live sections of an object at once, by section index.
    /// </summary>
    private static IEnumerable<InputSection> RelocationOrder(LayoutResult layout, IReadOnlyList<InputSection> liveSections)
    {
        var live = liveSections.ToLookup(s => s.File);
        var seen = new HashSet<ObjectFile>();
        foreach (var os in layout.Sections)
            foreach (var piece in os.Pieces.OfType<InputPiece>())
                if (seen.Add(piece.Section.File))
                    foreach (var section in live[piece.Section.File].OrderBy(s => s.Index))
                        yield return section;
    }

    /// <summary>
    /// The write pass: program headers and descriptor, then the vmlinux (slots, descriptor, symbols, DWARF); then the
    /// map pass. validate --kernel (no output path) stops after the program header check.
    /// </summary>
    private void Write(Dictionary<OutputSection, byte[]> images, LayoutResult layout, MadeSections made, Bound bound, Resolved resolved,
        IReadOnlyList<Slot> slots, KernelImage kernel)
    {
        var app = new ApplicationImage(layout, slots, bound.Tls, bound.Entry, made.EhFrameHeader is { IsPlaced: true } h ? h.Piece.Output : null);
        if (app.PhdrEnd > app.DataSlot.End)
        {
            ulong need = app.PhdrEnd - app.DataSlot.Start;
            _bag.Report(Rules.SlotTooSmall, new Location(_options.KernelPath), SlotMessage(app.DataSlot, need, "the program header table"), SlotHint(app.DataSlot, need));
            return;
        }
        if (_options.OutputPath is not { } outputPath)
            return; // validate --kernel: every check ran, nothing is written
        var symbols = Pass("write", () =>
        {
            var patches = images.Select(kv => (kv.Key.Address, kv.Value)).ToList();
            patches.Add((app.EhdrAddress, app.HeaderBytes()));
            patches.Add((kernel.DescriptorAddress!.Value, app.Descriptor(kernel, bound.Entry)));
            var symbols = OutputSymbols(resolved.Resolution, layout, bound.Values, bound.Tls.Start);
            foreach (var s in bound.LinkerSymbols.Values)
                symbols.Add(s.Global
                    ? new OutputSymbol(s.Name, s.Value, 0, STB_GLOBAL, STT_NOTYPE, STV_PROTECTED, s.Value, false)
                    : new OutputSymbol(s.Name, s.Value, 0, STB_LOCAL, STT_OBJECT, STV_HIDDEN, s.Value, false));
            VmlinuxWriter.Write(kernel, outputPath, patches, symbols, bound.Debug.Relocate(bound.Values));
            _result.Written = true;
            _result.Sections = layout.Sections;
            return symbols;
        });
        if (symbols is null || _options.MapPath is not { } mapPath)
            return;
        Pass("map", () =>
        {
            string map = _options.MapFormat == MapFormat.Json
                ? LinkMap.FormatJson(layout, symbols, _result, app.PhdrAddress, app.Headers.Count)
                : LinkMap.FormatText(layout, symbols, _result, app.PhdrAddress, app.Headers.Count);
            AtomicFile.WriteText(mapPath, map);
            return map;
        });
    }

    /// <summary>
    /// gcc -static names crtbeginT.o (and crtend.o); those start files are built for low addresses (32-bit absolute
    /// relocations), and the position-independent pair gcc -static-pie uses does the same job at kernel addresses.
    /// </summary>
    private static string? CrtHint(RelocationProblem p) =>
        p.Kind == RelocationProblemKind.Overflow && Path.GetFileName(p.Relocation.Section.File.Path) is "crtbeginT.o" or "crtbegin.o"
            ? "link crtbeginS.o and crtendS.o (gcc -print-file-name=crtbeginS.o) instead of crtbeginT.o/crtbegin.o and crtend.o"
            : null;

    /// <summary>
    /// The relocation's target as a user knows it: a section symbol plus addend is shown as the object symbol that
    /// covers that offset (gcc refers to static variables through their section), else as "section 'name'+offset".
    /// </summary>
    private static string TargetText(InputRelocation r)
    {
        var s = r.Symbol;
        if (s.Type != STT_SECTION || s.Section is not { } section)
            return $"'{s.DisplayName}'";
        long offset = r.Addend;
        var covering = section.File.Symbols.FirstOrDefault(o => o.Section == section && o.Type is STT_OBJECT or STT_FUNC or STT_TLS
            && offset >= (long)o.Value && offset < (long)(o.Value + Math.Max(o.Size, 1)));
        if (covering is not null)
            return offset == (long)covering.Value ? $"'{covering.Name}'" : $"'{covering.Name}'+0x{offset - (long)covering.Value:x}";
        // The magnitude as unsigned: an addend of -2^63 has no positive long (found by fuzz/run's link target).
        ulong magnitude = offset < 0 ? unchecked(0UL - (ulong)offset) : (ulong)offset;
        return offset == 0 ? $"section '{section.Name}'" : $"section '{section.Name}'{(offset < 0 ? "-" : "+")}0x{magnitude:x}";
    }

    private static Script LoadScript(string? path)
    {
        if (path is not null)
        {
            string text;
            try
            {
                text = File.ReadAllText(path);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                throw new InputException(path, ex is FileNotFoundException or DirectoryNotFoundException ? "no such file" : ex.Message);
            }
            return ScriptParser.Parse(text, path);
        }
        return ScriptParser.Parse(DefaultScript.Text, DefaultScriptName);
    }

    private Location ScriptLocation(ScriptPosition p) => new(p.File, SourceFile: p.File, SourceLine: p.Line);

    /// <summary>
    /// A library's own link-time warnings, as ld prints them: a .gnu.warning.SYMBOL section (its text is the message)
    /// warns where another linked object refers to SYMBOL, a plain .gnu.warning section whenever its object is linked.
    /// </summary>
    private void ReportWarningSections(Resolution resolution)
    {
        const string prefix = ".gnu.warning";
        var warned = new HashSet<string>(StringComparer.Ordinal);
        foreach (var obj in resolution.Included)
            foreach (var section in obj.AllSections.Where(s => s.Name.StartsWith(prefix, StringComparison.Ordinal) && !s.IsAlloc))
            {
                string message = System.Text.Encoding.UTF8.GetString(section.Data).TrimEnd('\0', '\n');
                if (section.Name == prefix)
                {
                    _bag.Report(Rules.LinkWarning, new Location(obj.Path, obj.Member), message);
                    continue;
                }
                if (!section.Name.StartsWith(prefix + ".", StringComparison.Ordinal))
                    continue;
                string symbol = section.Name[(prefix.Length + 1)..];
                if (!resolution.Referenced.Contains(symbol) || !warned.Add(symbol))
                    continue;
                var use = resolution.Included.Where(o => o != obj).SelectMany(o => o.AllSections).Where(s => s.IsAlloc)
                    .SelectMany(s => s.Relocations).FirstOrDefault(r => r.Symbol.Name == symbol && !r.Symbol.IsLocal);
                if (use is not null)
                    _bag.Report(Rules.LinkWarning, _locator.At(use.Section, use.Offset), message);
            }
    }


    private void CheckSlots(LayoutResult layout, IReadOnlyList<Slot> slots)
    {
        foreach (var slot in slots)
        {
            var inSlot = layout.Sections.Where(os => os.Slot == slot).ToList();
            var counted = inSlot.Where(s => !(s.IsTls && s.IsNoBits)).ToList();
            if (counted.Count == 0)
                continue;
            ulong end = counted.Max(s => s.End);
            if (end > slot.End)
            {
                ulong need = end - slot.Start;
                string names = string.Join(", ", counted.Select(s => $"{s.Name} {s.Size}"));
                _bag.Report(Rules.SlotTooSmall, new Location(_options.KernelPath), SlotMessage(slot, need, names), SlotHint(slot, need));
            }
        }
        // The bss slot lies in the kernel's .bss, which has no bytes in the file: a section with contents there cannot
        // be written (found by fuzzing the script parser: `.text` placed after `. = __ukl_bss_slot_start`).
        foreach (var os in layout.Sections.Where(s => s.Slot?.Name == SlotAbi.Bss && s.Size > 0 && !s.IsNoBits))
            _bag.Report(Rules.ScriptError, new Location(_options.ScriptPath ?? DefaultScriptName),
                $"output section {os.Name} (0x{os.Address:x}, {os.Size} bytes) has contents but lies in the kernel's bss slot, " +
                "which has no bytes in the file: place it in the text, rodata or data slot");
        foreach (var os in layout.Sections.Where(s => s.Slot is null))
            _bag.Report(Rules.ScriptError, new Location(_options.ScriptPath ?? DefaultScriptName),
                $"output section {os.Name} at 0x{os.Address:x} lies in no slot of the kernel (slots: {string.Join(", ", slots.Select(s => $"{s.Name.Role} 0x{s.Start:x}-0x{s.End:x}"))})");
        var ordered = layout.Sections.Where(s => s.Size > 0 && !(s.IsTls && s.IsNoBits)).OrderBy(s => s.Address).ToList();
        for (int i = 1; i < ordered.Count; i++)
            if (ordered[i].Address < ordered[i - 1].End)
                _bag.Report(Rules.ScriptError, new Location(_options.ScriptPath ?? DefaultScriptName),
                    $"output sections {ordered[i - 1].Name} (0x{ordered[i - 1].Address:x}-0x{ordered[i - 1].End:x}) and {ordered[i].Name} (0x{ordered[i].Address:x}) overlap");
    }

    private static string SlotMessage(Slot slot, ulong need, string what) =>
        $"{slot.Name.Role} slot too small: the application needs {need} bytes ({what}), the kernel's {slot.Name.Role} slot has {slot.Size} bytes";

    private static string SlotHint(Slot slot, ulong need) =>
        $"rebuild the kernel with {slot.Name.ConfigOption}=0x{AlignUp(need, 4096):x} or more (kernel/ukl.config)";

    private static ulong AlignUp(ulong v, ulong a) => a <= 1 ? v : (v + a - 1) & ~(a - 1);

    private static void FillPattern(byte[] buffer, byte[] fill)
    {
        if (fill.Length == 0 || buffer.Length == 0)
            return;
        if (fill.AsSpan().IndexOfAnyExcept(fill[0]) < 0)
        {
            Array.Fill(buffer, fill[0]);
            return;
        }
        // Lay the pattern down once, then double the filled prefix.
        int done = Math.Min(fill.Length, buffer.Length);
        fill.AsSpan(0, done).CopyTo(buffer);
        while (done < buffer.Length)
        {
            int n = Math.Min(done, buffer.Length - done);
            buffer.AsSpan(0, n).CopyTo(buffer.AsSpan(done));
            done += n;
        }
    }

    private static List<OutputSymbol> OutputSymbols(Resolution resolution, LayoutResult layout, SymbolValues values, ulong tlsStart)
    {
        var list = new List<OutputSymbol>();
        foreach (var obj in resolution.Included)
        {
            foreach (var s in obj.Symbols)
            {
                if (!s.IsLocal || s.Name.Length == 0 || s.Type is STT_SECTION or STT_FILE || s.Name.StartsWith(".L", StringComparison.Ordinal))
                    continue;
                // Named locals in merged sections (glibc's __PRETTY_FUNCTION__.0 in .rodata.str1.16) stay, at the place
                // their string or constant ended up, as in ld; only local labels (.L*) there are dropped.
                if (values.ValueOf(s) is not { } address)
                    continue;
                list.Add(Symbol(s.Name, address, s, tlsStart, STB_LOCAL));
            }
        }
        foreach (var (name, def) in resolution.Definitions)
        {
            if (layout.Symbols.ContainsKey(name) || values.ValueOf(def) is not { } address)
                continue;
            list.Add(Symbol(name, address, def, tlsStart, def.Bind));
        }
        foreach (var (name, s) in layout.Symbols)
            list.Add(new OutputSymbol(name, s.Value, 0, s.Hidden ? STB_LOCAL : STB_GLOBAL, STT_NOTYPE, s.Hidden ? STV_HIDDEN : (byte)0, s.Value, s.Section is null));
        return list;
    }

    private static OutputSymbol Symbol(string name, ulong address, InputSymbol s, ulong tlsStart, byte bind)
    {
        bool tls = s.Type == STT_TLS;
        return new OutputSymbol(name, tls ? address - tlsStart : address, s.Size, bind, s.Type, s.Visibility, address, s.IsAbsolute);
    }
}
