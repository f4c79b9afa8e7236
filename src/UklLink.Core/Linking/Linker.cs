using System.Buffers.Binary;
using System.Diagnostics;
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
/// `ukl-link link`: the passes in order — read, resolve, rewrite, linker-made sections (GOT, COMMON), layout, bind,
/// relocate, write — each appending findings; the output is written only when no pass reported an error.
/// </summary>
public sealed class Linker
{
    public const string DefaultScriptName = "ukl-app.ld";

    private readonly LinkOptions _options;
    private readonly FindingBag _bag = new();
    private readonly Locator _locator = new();
    private readonly LinkResult _result;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private long _lastMark;

    private Linker(LinkOptions options)
    {
        _options = options;
        _result = new LinkResult(_bag);
    }

    public static LinkResult Link(LinkOptions options)
    {
        var linker = new Linker(options);
        var script = linker.ReadScript();
        using var kernel = KernelImage.Load(options.KernelPath);
        linker.Mark("read kernel");
        using var inputs = InputSet.Load(options.Inputs);
        linker.Mark("read inputs");
        linker.Run(script, kernel, inputs);
        return linker._result;
    }

    /// <summary>
    /// The passes on a kernel and inputs already read (validate --kernel has them open): nothing is read twice. The
    /// rewrite pass replaces the contents of rewritten code sections in <paramref name="inputs"/>.
    /// </summary>
    public static LinkResult Link(LinkOptions options, KernelImage kernel, InputSet inputs)
    {
        var linker = new Linker(options);
        linker.Run(linker.ReadScript(), kernel, inputs);
        return linker._result;
    }

    private Script ReadScript()
    {
        var script = LoadScript(_options.ScriptPath);
        if (_options.ScriptPath is not null)
            _result.FilesRead.Add(_options.ScriptPath);
        return script;
    }

    private void Mark(string pass)
    {
        long now = _clock.ElapsedMilliseconds;
        _result.Timings.Add((pass, now - _lastMark));
        _lastMark = now;
    }

    private bool Failed => _bag.ErrorCount > 0;

    // State the passes hand on, in pass order.
    private Script _script = null!;
    private KernelImage _kernel = null!;
    private SlotDescriptor _descriptor = null!;
    private IReadOnlyList<Slot> _slots = Array.Empty<Slot>();
    private Resolution _resolution = null!;
    private IReadOnlySet<string> _linkerNames = new HashSet<string>();
    private ComdatGroups _comdats = null!;
    private List<InputSection> _live = new();
    private SyscallRewritePass? _rewrite;
    private LinkerMadeSections _made = null!;
    private EhFrameHeader? _ehFrameHeader;
    private Dictionary<string, LinkerSymbol> _linkerSymbols = new(StringComparer.Ordinal);
    private LayoutResult _layout = null!;
    private ContentTransforms? _transforms;
    private DebugSections _debug = null!;
    private SymbolValues _values = null!;
    private TlsSegment _tls;
    private ulong _entry;

    /// <summary>The passes, in order; each returns false when it reported an error that stops the link.</summary>
    private void Run(Script script, KernelImage kernel, InputSet inputs)
    {
        _script = script;
        _kernel = kernel;
        _result.FilesRead.Add(kernel.Path);
        _result.FilesRead.AddRange(inputs.FilesRead);

        if (!CheckInputs(inputs) || !Resolve(inputs))
            return;
        Mark("resolve");
        if (_options.RewriteSyscalls)
        {
            if (!RewriteSyscalls())
                return;
            Mark("rewrite");
        }
        _made = LinkerMadeSections.Build(_live, _resolution, _kernel, _linkerNames, SymbolTableOrder());
        _ehFrameHeader = EhFrameHeader.For(_script, _live);
        Mark("got scan");
        if (!Layout() || !Bind())
            return;
        Mark("layout");
        var images = Relocate();
        Mark("relocate");
        if (Failed)
            return;
        Write(images);
    }

    private bool CheckInputs(InputSet inputs)
    {
        var slots = CheckKernel(_kernel);
        foreach (var rejected in inputs.Rejected)
            _bag.Report(Rules.WrongObjectKind, new Location(rejected.RejectedPath, rejected.Member), $"{rejected.DisplayName} {rejected.Reason}", rejected.Fix);
        if (slots is null)
            return false;
        _slots = slots;
        return !Failed;
    }

    /// <summary>Application first, then the script's symbols, then the kernel's.</summary>
    private bool Resolve(InputSet inputs)
    {
        _linkerNames = LinkerDefinedSymbols.For(_script);
        _resolution = Resolver.Resolve(inputs, name => _linkerNames.Contains(name) || _kernel.GlobalSymbols.ContainsKey(name));
        ReportResolution(_resolution);
        _comdats = new ComdatGroups(_resolution.Included);
        _live = LiveSections(_resolution.Included, _comdats);
        ReportWarningSections();
        CheckRedZone();
        return !Failed;
    }

    /// <summary>
    /// Red-zone use in what the link includes (objects and pulled archive members) is an error unless the kernel delivers
    /// events on its own stack: the same judgement validate makes (<see cref="RedZoneCheck"/>).
    /// </summary>
    private void CheckRedZone()
    {
        var (severity, reason) = RedZoneCheck.SeverityFor(_descriptor, linked: true);
        if (severity != Severity.Error)
            return;
        var check = new RedZoneCheck(_locator);
        var live = _live.ToHashSet();
        foreach (var obj in _resolution.Included)
            check.Check(obj, severity, reason, _bag, live.Contains);
    }

    /// <summary>Before anything depends on section contents (GOT decisions, layout).</summary>
    private bool RewriteSyscalls()
    {
        var form = SyscallEntryForms.ForAbiVersion(_descriptor.AbiVersion);
        _rewrite = new SyscallRewritePass(_options.StrictRewrite, form);
        _live = _rewrite.Run(_live);
        foreach (var f in _rewrite.Rewrites.SelectMany(rw => rw.Findings))
            _bag.Add(f);
        var totals = RewriteTotals.Of(_rewrite.Rewrites);
        _result.Rewrite = totals;
        _result.EntryForm = form;
        if (totals.Patched + totals.Fallbacks > 0 && !_kernel.GlobalSymbols.ContainsKey(SlotAbi.SyscallEntrySymbol))
            _bag.Report(Rules.KernelWithoutSyscallEntry, new Location(_kernel.Path),
                $"the application has {totals.Found} syscall site(s) to rewrite, but the kernel does not define {SlotAbi.SyscallEntrySymbol}");
        return !Failed;
    }

    private bool Layout()
    {
        var liveSet = _live.ToHashSet();
        try
        {
            _layout = LayoutEngine.Run(new LayoutRequest
            {
                Script = _script,
                Sections = _live,
                Synthetic = _ehFrameHeader is null ? _made.Pieces : [.. _made.Pieces, _ehFrameHeader.Piece],
                Slots = _slots,
                ExternalSymbol = name => _kernel.TryGetSymbolValue(name, out ulong v) ? v : null,
                DefinedByApplication = name => _resolution.Definitions.ContainsKey(name),
                ReferencedByApplication = _resolution.Referenced.Contains,
                Sizes = claims =>
                {
                    _transforms = ContentTransforms.Build(claims, _live, _resolution, liveSet.Contains);
                    _ehFrameHeader?.Size(_transforms.EhFrameLayout);
                    return _transforms;
                },
            });
        }
        catch (LayoutException ex)
        {
            _bag.Report(Rules.ScriptError, ScriptLocation(ex.Position), ex.Message);
            return false;
        }
        foreach (var orphan in _layout.Orphans)
            _bag.Report(Rules.OrphanSection, _locator.At(orphan, null), $"section '{orphan.Name}' ({orphan.Size} bytes) matches no rule of the linker script {_script.File}");
        CheckSlots(_layout, _slots);
        foreach (var failed in _layout.FailedAsserts)
            _bag.Report(Rules.ScriptError, ScriptLocation(failed.Position), failed.Message);
        return !Failed;
    }

    /// <summary>Final symbol values, the TLS segment and the entry point, once every address is known.</summary>
    private bool Bind()
    {
        _tls = TlsSegment.Of(_layout);
        _debug = new DebugSections(_resolution.Included, _comdats);
        var layout = _layout;
        if (!DefineLinkerSymbols())
            return false;
        _values = new SymbolValues(_resolution, layout, _kernel, _made,
            (section, offset) => layout.Placed.TryGetValue(section, out var piece) && piece.Output is not null ? piece.Address + offset
                : _debug.TryGetOffset(section, out ulong debugOffset) ? debugOffset + offset : null,
            _tls.Start, _tls.Size, _transforms, _linkerSymbols.ToDictionary(kv => kv.Key, kv => kv.Value.Value, StringComparer.Ordinal));

        string entryName = _options.Entry ?? layout.Entry ?? "_start";
        var entry = _values.ResolveName(entryName, null);
        if (entry.Kind is not TargetKind.Section || !_resolution.Definitions.ContainsKey(entryName) && !layout.Symbols.ContainsKey(entryName))
        {
            _bag.Report(Rules.MissingEntry, new Location(_options.Inputs.FirstOrDefault() ?? _options.KernelPath), $"entry symbol '{entryName}' is not defined by the application");
            return false;
        }
        _entry = _result.Entry = entry.Value;
        if (_rewrite is not null)
            foreach (var (section, offset, trampoline, rw) in _rewrite.Trampolines)
                if (layout.Placed.TryGetValue(section, out var piece) && layout.Placed.TryGetValue(rw.Section, out var site))
                    _result.Trampolines.Add(new TrampolineInfo(piece.Address + offset, (ulong)trampoline.Code.Length,
                        site.Address + trampoline.SiteOffset, $"{rw.Section.File.DisplayName}:({rw.Section.Name}+0x{trampoline.SiteOffset:x})"));
        return true;
    }

    /// <summary>
    /// The symbols the linker defines itself once addresses are known: _GLOBAL_OFFSET_TABLE_, __GNU_EH_FRAME_HDR, and
    /// __start_SECNAME/__stop_SECNAME for referenced names that nothing else defines (<see cref="StartStopSymbols"/>).
    /// A __start_/__stop_ name whose section went into an output section of another name stays undefined, as in ld.
    /// </summary>
    private bool DefineLinkerSymbols()
    {
        foreach (var (name, value) in _made.Symbols())
            _linkerSymbols[name] = new LinkerSymbol(name, value, Global: false);
        if (_ehFrameHeader is { IsPlaced: true } header)
            _linkerSymbols[EhFrameHeader.Symbol] = new LinkerSymbol(EhFrameHeader.Symbol, header.Piece.Address, Global: false);
        foreach (var name in _resolution.Referenced.Order(StringComparer.Ordinal))
        {
            if (StartStopSymbols.SectionOf(name) is not { } section || _resolution.Definitions.ContainsKey(name) || _layout.Symbols.ContainsKey(name)
                || _linkerNames.Contains(name) || _kernel.GlobalSymbols.ContainsKey(name))
                continue;
            var output = _layout.Sections.FirstOrDefault(os => os.Name == section && os.Pieces.OfType<InputPiece>().Any(p => p.Section.Name == section));
            if (output is not null)
            {
                _linkerSymbols[name] = new LinkerSymbol(name, StartStopSymbols.IsStop(name) ? output.End : output.Address, Global: true);
                continue;
            }
            if (!_live.Any(s => s.Name == section))
                continue; // no such section: resolution reported the reference already, or it is weak
            var placedIn = _layout.Sections.FirstOrDefault(os => os.Pieces.OfType<InputPiece>().Any(p => p.Section.Name == section));
            var referrer = _resolution.Included.SelectMany(o => o.AllSections).SelectMany(s => s.Relocations).FirstOrDefault(r => r.Symbol.Name == name && !r.Symbol.IsLocal);
            if (referrer is null || referrer.Symbol.IsWeak)
                continue;
            _bag.Report(Rules.UndefinedSymbol, _locator.At(referrer.Section, referrer.Offset),
                $"undefined symbol: {name} (section '{section}' went into output section '{placedIn?.Name ?? "/DISCARD/"}'; "
                + $"the linker defines {name} only for an output section named '{section}')");
        }
        return !Failed;
    }

    /// <summary>One image per output section with file contents: fill, pieces (transformed where ld transforms), relocations.</summary>
    private Dictionary<OutputSection, byte[]> Relocate()
    {
        var images = new Dictionary<OutputSection, byte[]>();
        var problems = new List<RelocationProblem>();
        // Fills and linker-made pieces first; the input pieces (copy and relocate, most of the work) then run in
        // parallel: each writes only its own range of its output section's image.
        var pieces = new List<(InputPiece Piece, byte[] Buffer, int At)>();
        foreach (var os in _layout.Sections)
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
            var (data, relocations) = _transforms is null
                ? (ip.Section.Data, ip.Section.Relocations)
                : _transforms.Contents(ip.Section, s => _layout.Placed[s].Address);
            data.AsSpan(0, (int)Math.Min((ulong)data.Length, ip.Size)).CopyTo(buffer.AsSpan(at));
            var list = new List<RelocationProblem>();
            Relocator.Apply(ip.Section, relocations, buffer, at, ip.Address, _values, list);
            found[i] = list.Count > 0 ? list : null;
        });
        foreach (var list in found)
            if (list is not null)
                problems.AddRange(list);
        _made.WriteGot(images, _values, r => _layout.Placed[r.Section].Address + r.Offset, RelocationOrder());
        WriteEhFrameHeader(images);
        _result.GotEntries = _made.GotSlots.Count;
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
    private void WriteEhFrameHeader(Dictionary<OutputSection, byte[]> images)
    {
        if (_ehFrameHeader is not { IsPlaced: true } header)
            return;
        var ehFrame = _layout.Sections.FirstOrDefault(os => os.Name == ".eh_frame");
        if (ehFrame is null || !images.TryGetValue(ehFrame, out var ehImage))
            return;
        var bytes = header.Contents(_transforms?.EhFrameLayout, ehFrame, ehImage, _layout.Placed, out string? problem);
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
    private LdHashOrder SymbolTableOrder()
    {
        string entry = _options.Entry ?? _script.Commands.OfType<EntryCommand>().LastOrDefault()?.Symbol ?? "_start";
        var late = new List<string> { LinkerDefinedSymbols.GlobalOffsetTable };
        if (EhFrameHeader.IsWanted(_script, _live))
            late.Add(EhFrameHeader.Symbol);
        return LdHashOrder.Replay(entry, LinkerDefinedSymbols.Assignments(_script), _resolution.Included, _kernel.GlobalSymbols.Keys, late);
    }

    /// <summary>
    /// The input sections in the order ld relocates them: objects in the order their first section appears in the
    /// output, all live sections of an object at once, by section index.
    /// </summary>
    private IEnumerable<InputSection> RelocationOrder()
    {
        var live = _live.ToLookup(s => s.File);
        var seen = new HashSet<ObjectFile>();
        foreach (var os in _layout.Sections)
            foreach (var piece in os.Pieces.OfType<InputPiece>())
                if (seen.Add(piece.Section.File))
                    foreach (var section in live[piece.Section.File].OrderBy(s => s.Index))
                        yield return section;
    }

    /// <summary>Program headers and descriptor, then the vmlinux (slots, descriptor, symbols, DWARF) and the map.</summary>
    private void Write(Dictionary<OutputSection, byte[]> images)
    {
        var app = new ApplicationImage(_layout, _slots, _tls, _entry, _ehFrameHeader is { IsPlaced: true } h ? h.Piece.Output : null);
        if (app.PhdrEnd > app.DataSlot.End)
        {
            ulong need = app.PhdrEnd - app.DataSlot.Start;
            _bag.Report(Rules.SlotTooSmall, new Location(_options.KernelPath), SlotMessage(app.DataSlot, need, "the program header table"), SlotHint(app.DataSlot, need));
            return;
        }
        var patches = images.Select(kv => (kv.Key.Address, kv.Value)).ToList();
        patches.Add((app.EhdrAddress, app.HeaderBytes()));
        patches.Add((_kernel.DescriptorAddress!.Value, app.Descriptor(_kernel, _entry)));
        var symbols = OutputSymbols(_resolution, _layout, _values, _tls.Start);
        foreach (var s in _linkerSymbols.Values)
            symbols.Add(s.Global
                ? new OutputSymbol(s.Name, s.Value, 0, STB_GLOBAL, STT_NOTYPE, STV_PROTECTED, s.Value, false)
                : new OutputSymbol(s.Name, s.Value, 0, STB_LOCAL, STT_OBJECT, STV_HIDDEN, s.Value, false));
        if (_options.OutputPath is null)
            return; // validate --kernel: every check ran, nothing is written
        VmlinuxWriter.Write(_kernel, _options.OutputPath, patches, symbols, _debug.Relocate(_values));
        _result.Written = true;
        _result.Sections = _layout.Sections;
        Mark("write");

        if (_options.MapPath is { } mapPath)
        {
            string map = _options.MapFormat == MapFormat.Json
                ? LinkMap.FormatJson(_layout, symbols, _result, app.PhdrAddress, app.Headers.Count)
                : LinkMap.FormatText(_layout, symbols, _result, app.PhdrAddress, app.Headers.Count);
            AtomicFile.WriteText(mapPath, map);
            Mark("map");
        }
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

    /// <summary>A slot ABI version ukl-link speaks (the check validate makes too), and no application linked yet.</summary>
    private IReadOnlyList<Slot>? CheckKernel(KernelImage kernel)
    {
        if (SlotAbiCheck.Check(kernel, _bag) is not ({ } slots, { } descriptor))
            return null;
        _descriptor = descriptor;
        if (descriptor.HasApplication)
        {
            _bag.Report(Rules.KernelNotUkl, new Location(kernel.Path, Symbol: SlotAbi.DescriptorSymbol),
                "kernel already has an application linked into its slots; link against the kernel build's own vmlinux",
                "pass the vmlinux from kernel/build, not the output of an earlier ukl-link link");
            return null;
        }
        return slots;
    }

    private void ReportResolution(Resolution resolution)
    {
        foreach (var d in resolution.Duplicates)
            _bag.Report(Rules.DuplicateDefinition, _locator.At(d.Second.Section, d.Second.Value, d.Second),
                $"duplicate symbol: {d.Name} (also defined in {d.First.File.DisplayName})");
        foreach (var u in resolution.Undefined)
        {
            // lld's layout: the name, then one ">>> referenced by" line per site (source line, then object position).
            var lines = u.ReferencedBy.Select(r =>
            {
                var at = _locator.At(r.Section, r.Offset);
                return at.SourceText is { } src ? $">>> referenced by {src} ({at})" : $">>> referenced by {at}";
            });
            string more = u.ReferenceCount > u.ReferencedBy.Count ? $"\n>>> referenced {u.ReferenceCount - u.ReferencedBy.Count} more times" : "";
            var first = u.ReferencedBy[0];
            _bag.Report(Rules.UndefinedSymbol, _locator.At(first.Section, first.Offset), $"undefined symbol: {u.Name}\n{string.Join("\n", lines)}{more}");
        }
    }

    /// <summary>
    /// A library's own link-time warnings, as ld prints them: a .gnu.warning.SYMBOL section (its text is the message)
    /// warns where another linked object refers to SYMBOL, a plain .gnu.warning section whenever its object is linked.
    /// </summary>
    private void ReportWarningSections()
    {
        const string prefix = ".gnu.warning";
        var warned = new HashSet<string>(StringComparer.Ordinal);
        foreach (var obj in _resolution.Included)
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
                if (!_resolution.Referenced.Contains(symbol) || !warned.Add(symbol))
                    continue;
                var use = _resolution.Included.Where(o => o != obj).SelectMany(o => o.AllSections).Where(s => s.IsAlloc)
                    .SelectMany(s => s.Relocations).FirstOrDefault(r => r.Symbol.Name == symbol && !r.Symbol.IsLocal);
                if (use is not null)
                    _bag.Report(Rules.LinkWarning, _locator.At(use.Section, use.Offset), message);
            }
    }

    /// <summary>Allocatable sections of the included objects, without the members of COMDAT groups that lost.</summary>
    private static List<InputSection> LiveSections(IReadOnlyList<ObjectFile> included, ComdatGroups comdats) =>
        included.SelectMany(o => o.AllSections)
            .Where(s => s.IsAlloc && s.Type is not (SHT_GROUP or SHT_RELA or SHT_REL or SHT_SYMTAB or SHT_STRTAB) && comdats.Keeps(s))
            .ToList();

    private void CheckSlots(LayoutResult layout, IReadOnlyList<Slot> slots)
    {
        // A section belongs to the slot its start lies in (an empty one may sit exactly at a slot's end).
        foreach (var os in layout.Sections)
            os.Slot = slots.FirstOrDefault(s => os.Address >= s.Start && os.Address < s.End)
                ?? slots.FirstOrDefault(s => os.Address == s.End && os.Size == 0);
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
