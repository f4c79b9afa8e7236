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
using UklLink.X86_64;
using static UklLink.Inputs.ElfConstants;

namespace UklLink.Linking;

/// <summary>
/// `ukl-link link`: the passes in order — read, resolve, layout, relocate, write — each appending findings; the
/// output is written only when no pass reported an error.
/// </summary>
public sealed class Linker
{
    public const string DefaultScriptName = "ukl-app.ld";
    private const string TlsGetAddr = "__tls_get_addr";
    private const string GlobalOffsetTable = "_GLOBAL_OFFSET_TABLE_";
    private const int PhdrSize = 56;

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
        linker.Run();
        return linker._result;
    }

    private void Mark(string pass)
    {
        long now = _clock.ElapsedMilliseconds;
        _result.Timings.Add((pass, now - _lastMark));
        _lastMark = now;
    }

    private bool Failed => _bag.ErrorCount > 0;

    private void Run()
    {
        var script = LoadScript(_options.ScriptPath);
        if (_options.ScriptPath is not null)
            _result.FilesRead.Add(_options.ScriptPath);
        using var kernel = KernelImage.Load(_options.KernelPath);
        _result.FilesRead.Add(_options.KernelPath);
        Mark("read kernel");
        using var inputs = InputSet.Load(_options.Inputs);
        _result.FilesRead.AddRange(inputs.FilesRead);
        Mark("read inputs");
        var slots = CheckKernel(kernel);
        foreach (var rejected in inputs.Rejected)
            _bag.Report(Rules.WrongObjectKind, new Location(rejected.RejectedPath, rejected.Member), $"{rejected.DisplayName} {rejected.Reason}", rejected.Fix);
        if (Failed || slots is null)
            return;

        // Resolve: application first, then the script's symbols, then the kernel's.
        var scriptNames = ScriptDefinedNames(script);
        // __tls_get_addr is only ever called from general- and local-dynamic TLS sequences, which a static link
        // relaxes to local-exec: the call disappears, so the name needs no definition (as with GNU ld).
        var resolution = Resolver.Resolve(inputs, name => scriptNames.Contains(name) || kernel.GlobalSymbols.ContainsKey(name) || name == TlsGetAddr);
        ReportResolution(resolution);
        if (Failed)
            return;
        var live = LiveSections(resolution.Included);
        Mark("resolve");

        // Rewrite syscall sites before anything depends on section contents (GOT decisions, layout).
        SyscallRewritePass? rewrite = null;
        if (_options.RewriteSyscalls)
        {
            rewrite = new SyscallRewritePass(_options.StrictRewrite);
            live = rewrite.Run(live);
            foreach (var f in rewrite.Rewrites.SelectMany(rw => rw.Findings))
                _bag.Add(f);
            var totals = RewriteTotals.Of(rewrite.Rewrites);
            _result.Rewrite = totals;
            if (totals.Patched + totals.Fallbacks > 0 && !kernel.GlobalSymbols.ContainsKey(SlotAbi.SyscallEntrySymbol))
                _bag.Report(Rules.KernelWithoutSyscallEntry, new Location(kernel.Path),
                    $"the application has {totals.Found} syscall site(s) to rewrite, but the kernel does not define {SlotAbi.SyscallEntrySymbol}");
            Mark("rewrite");
            if (Failed)
                return;
        }
        var liveSet = live.ToHashSet();
        var commons = CommonSymbols(resolution);

        // GOT: one slot per target that some unrelaxable GOT relocation needs. Decided before layout because the
        // decision depends only on the instruction and the kind of target, not on addresses.
        var preliminary = new PreliminaryTargets(resolution, kernel, scriptNames);
        var gotSlots = new Dictionary<object, ulong>();
        foreach (var section in live)
            foreach (var r in section.Relocations)
                if (r.Type is RelocationTypes.R_X86_64_GOTPCREL or RelocationTypes.R_X86_64_GOTPCRELX or RelocationTypes.R_X86_64_REX_GOTPCRELX
                    && Relocator.NeedsGotEntry(r, section.Data, preliminary.Resolve(r.Symbol)))
                {
                    var key = SymbolValues.GotKey(r.Symbol, resolution);
                    if (!gotSlots.ContainsKey(key))
                        gotSlots[key] = (ulong)gotSlots.Count * 8;
                }
        Mark("got scan");
        var synthetic = new List<SyntheticPiece>();
        SyntheticPiece? got = null;
        if (gotSlots.Count > 0)
            synthetic.Add(got = new SyntheticPiece(".got", (ulong)gotSlots.Count * 8, 8, SHF_ALLOC | SHF_WRITE, noBits: false));
        // COMMON: like ld, each object's winning commons form that object's own block, blocks in link order.
        // (Inside a block ld follows its symbol hash table; ukl-link uses the object's symbol-table order.)
        var commonBlocks = new List<(SyntheticPiece Block, Dictionary<InputSymbol, ulong> Offsets)>();
        var linkIndex = resolution.Included.Select((o, i) => (o, i)).ToDictionary(x => x.o, x => x.i);
        foreach (var group in commons.GroupBy(c => c.File).OrderBy(g => linkIndex[g.Key]))
        {
            ulong size = 0, align = 1;
            var offsets = new Dictionary<InputSymbol, ulong>();
            foreach (var c in group.OrderBy(c => c.Index))
            {
                ulong a = Math.Max(1, c.Value);
                size = (size + a - 1) & ~(a - 1);
                offsets[c] = size;
                size += c.Size;
                align = Math.Max(align, a);
            }
            var block = SyntheticPiece.Bss("COMMON", size, align);
            synthetic.Add(block);
            commonBlocks.Add((block, offsets));
        }

        // ld makes .got.plt (three reserved, zero entries in a static link) once there is a GOT or a reference to
        // _GLOBAL_OFFSET_TABLE_, which then names it.
        SyntheticPiece? gotPlt = null;
        if (gotSlots.Count > 0 || resolution.Included.Any(o => o.Symbols.Any(s => s.IsUndefined && s.Name == GlobalOffsetTable))
            || live.Any(s => s.Relocations.Any(r => r.Type is RelocationTypes.R_X86_64_GOTPC32 or RelocationTypes.R_X86_64_GOTPC64 or RelocationTypes.R_X86_64_GOTOFF64)))
            synthetic.Add(gotPlt = new SyntheticPiece(".got.plt", 24, 8, SHF_ALLOC | SHF_WRITE, noBits: false) { Data = new byte[24] });

        // Layout.
        LayoutResult layout;
        ContentTransforms? transforms = null;
        try
        {
            layout = LayoutEngine.Run(new LayoutRequest
            {
                Script = script,
                Sections = live,
                Synthetic = synthetic,
                Slots = slots,
                ExternalSymbol = name => kernel.TryGetSymbolValue(name, out ulong v) ? v : null,
                DefinedByApplication = name => resolution.Definitions.ContainsKey(name),
                ReferencedByApplication = name => IsReferenced(resolution, name),
                Sizes = claims => transforms = ContentTransforms.Build(claims, live, resolution, liveSet.Contains),
            });
        }
        catch (LayoutException ex)
        {
            _bag.Report(Rules.ScriptError, ScriptLocation(ex.Position), ex.Message);
            return;
        }
        foreach (var orphan in layout.Orphans)
            _bag.Report(Rules.OrphanSection, _locator.At(orphan, null), $"section '{orphan.Name}' ({orphan.Size} bytes) matches no rule of the linker script {script.File}");
        CheckSlots(layout, slots);
        foreach (var failed in layout.FailedAsserts)
            _bag.Report(Rules.ScriptError, ScriptLocation(failed.Position), failed.Message);
        if (Failed)
            return;

        var (tlsStart, tlsMemSize, tlsFileSize, tlsAlign) = TlsSegment(layout);
        ulong tlsSize = AlignUp(tlsMemSize, tlsAlign);
        var commonAddresses = new Dictionary<InputSymbol, ulong>();
        foreach (var (block, offsets) in commonBlocks)
            foreach (var (symbol, offset) in offsets)
                commonAddresses[symbol] = block.Address + offset;
        var linkerSymbols = new Dictionary<string, ulong>(StringComparer.Ordinal);
        if (gotPlt?.Output is not null)
            linkerSymbols[GlobalOffsetTable] = gotPlt.Address;
        var debug = DebugSections(resolution.Included, layout);
        var values = new SymbolValues(resolution, layout, kernel, commonAddresses,
            (section, offset) => layout.Placed.TryGetValue(section, out var piece) && piece.Output is not null ? piece.Address + offset
                : debug.Offsets.TryGetValue(section, out ulong debugOffset) ? debugOffset + offset : null,
            gotSlots, got?.Address ?? 0, tlsStart, tlsSize, transforms, linkerSymbols);

        string entryName = _options.Entry ?? layout.Entry ?? "_start";
        var entry = values.ResolveName(entryName, null);
        if (entry.Kind is not (TargetKind.Section) || !resolution.Definitions.ContainsKey(entryName) && !layout.Symbols.ContainsKey(entryName))
        {
            _bag.Report(Rules.MissingEntry, new Location(_options.Inputs.FirstOrDefault() ?? _options.KernelPath), $"entry symbol '{entryName}' is not defined by the application");
            return;
        }
        _result.Entry = entry.Value;
        if (rewrite is not null)
            foreach (var (section, offset, trampoline, rw) in rewrite.Trampolines)
                if (layout.Placed.TryGetValue(section, out var piece) && layout.Placed.TryGetValue(rw.Section, out var site))
                    _result.Trampolines.Add(new TrampolineInfo(piece.Address + offset, (ulong)trampoline.Code.Length,
                        site.Address + trampoline.SiteOffset, $"{rw.Section.File.DisplayName}:({rw.Section.Name}+0x{trampoline.SiteOffset:x})"));
        Mark("layout");

        // Relocate into one buffer per output section with file contents.
        var images = new Dictionary<OutputSection, byte[]>();
        var problems = new List<RelocationProblem>();
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
                    {
                        var (data, relocations) = transforms is null
                            ? (ip.Section.Data, ip.Section.Relocations)
                            : transforms.Contents(ip.Section, s => layout.Placed[s].Address);
                        data.AsSpan(0, (int)Math.Min((ulong)data.Length, ip.Size)).CopyTo(buffer.AsSpan(at));
                        Relocator.Apply(ip.Section, relocations, buffer, at, ip.Address, values, problems);
                        break;
                    }
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
        if (got is not null && got.Output is { } gotOut)
        {
            var buffer = images[gotOut];
            foreach (var (key, offset) in gotSlots)
            {
                var t = key is string name ? values.ResolveName(name, null) : values.Resolve((InputSymbol)key);
                ulong value = t.IsTls ? t.Value - (tlsStart + tlsSize) : t.Value;
                BinaryPrimitives.WriteUInt64LittleEndian(buffer.AsSpan((int)(got.Address - gotOut.Address + offset)), value);
            }
            _result.GotEntries = gotSlots.Count;
        }
        // DWARF: the application's .debug_* sections, concatenated per name and relocated, so gdb and addr2line
        // see the application's source in the linked vmlinux.
        var extras = new List<VmlinuxWriter.ExtraSection>();
        foreach (var (name, parts) in debug.Groups)
        {
            ulong size = parts.Count == 0 ? 0 : debug.Offsets[parts[^1]] + parts[^1].Size;
            var buffer = new byte[size];
            var debugProblems = new List<RelocationProblem>();
            foreach (var part in parts)
            {
                int at = (int)debug.Offsets[part];
                part.Data.CopyTo(buffer, at);
                Relocator.Apply(part, part.Relocations, buffer, at, debug.Offsets[part], values, debugProblems);
            }
            // A debug entry for discarded code keeps its assembled value; overflow in DWARF is not worth failing for.
            extras.Add(new VmlinuxWriter.ExtraSection(name, SHT_PROGBITS, parts[0].Flags & ~SHF_ALLOC, parts.Max(p => Math.Max(1, p.Alignment)), buffer));
        }

        foreach (var p in problems)
            _bag.Report(p.Kind switch
            {
                RelocationProblemKind.Overflow => Rules.RelocationOverflow,
                RelocationProblemKind.Sequence => Rules.UnrelaxableSequence,
                RelocationProblemKind.Discarded => Rules.DiscardedReference,
                _ => Rules.UnsupportedRelocation,
            }, _locator.At(p.Relocation.Section, p.Relocation.Offset), $"{p.Message}; references {TargetText(p.Relocation)}");
        Mark("relocate");
        if (Failed)
            return;

        // Program headers and descriptor, then the output file.
        var dataSlot = slots.First(s => s.Name == SlotAbi.Data);
        var usedEnd = layout.Sections.Where(s => s.Slot == dataSlot && !(s.IsTls && s.IsNoBits)).Select(s => s.End).DefaultIfEmpty(dataSlot.Start).Max();
        ulong phdrAddress = AlignUp(usedEnd, 8);
        var phdrs = ProgramHeaders(layout, slots, tlsStart, tlsFileSize, tlsMemSize, tlsAlign, phdrAddress);
        ulong phdrEnd = phdrAddress + (ulong)(phdrs.Count * PhdrSize);
        if (phdrEnd > dataSlot.End)
        {
            _bag.Report(Rules.SlotTooSmall, new Location(_options.KernelPath), SlotMessage(dataSlot, phdrEnd - dataSlot.Start, "the program header table"), SlotHint(dataSlot, phdrEnd - dataSlot.Start));
            return;
        }
        var phdrBytes = new byte[phdrs.Count * PhdrSize];
        for (int i = 0; i < phdrs.Count; i++)
            phdrs[i].WriteTo(phdrBytes.AsSpan(i * PhdrSize));

        var descriptor = Descriptor(kernel, layout, slots, entry.Value, tlsStart, tlsFileSize, tlsMemSize, tlsAlign, phdrAddress, phdrs.Count, phdrEnd);
        var patches = new List<(ulong Address, byte[] Bytes)>();
        foreach (var (os, bytes) in images)
            patches.Add((os.Address, bytes));
        patches.Add((phdrAddress, phdrBytes));
        patches.Add((kernel.DescriptorAddress!.Value, descriptor));
        var symbols = OutputSymbols(resolution, layout, values, tlsStart);
        foreach (var (name, value) in linkerSymbols)
            symbols.Add(new OutputSymbol(name, value, 0, STB_LOCAL, STT_OBJECT, STV_HIDDEN, value, false));

        if (_options.OutputPath is null)
            return;
        VmlinuxWriter.Write(kernel, _options.OutputPath, patches, symbols, extras);
        _result.Written = true;
        _result.Sections = layout.Sections;
        Mark("write");

        if (_options.MapPath is { } mapPath)
        {
            string map = _options.MapFormat == MapFormat.Json
                ? LinkMap.FormatJson(layout, symbols, _result, phdrAddress, phdrs.Count)
                : LinkMap.FormatText(layout, symbols, _result, phdrAddress, phdrs.Count);
            AtomicFile.WriteText(mapPath, map);
            Mark("map");
        }
    }

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
        return offset == 0 ? $"section '{section.Name}'" : $"section '{section.Name}'{(offset < 0 ? "-" : "+")}0x{Math.Abs(offset):x}";
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

    private IReadOnlyList<Slot>? CheckKernel(KernelImage kernel)
    {
        var where = new Location(kernel.Path, Symbol: SlotAbi.DescriptorSymbol);
        var descriptor = kernel.ReadDescriptor();
        var slots = kernel.GetSlots(out var missing);
        if (descriptor is null || missing.Count > 0)
        {
            _bag.Report(Rules.KernelNotUkl, new Location(kernel.Path), descriptor is null
                ? $"kernel has no {SlotAbi.DescriptorSymbol} symbol: it was not built with CONFIG_UNIKERNEL_LINUX"
                : $"kernel lacks slot symbols: {string.Join(", ", missing)}");
            return null;
        }
        if (descriptor.AbiVersion != SlotAbi.Version || descriptor.Size != SlotAbi.DescriptorSize || descriptor.SymbolSize != SlotAbi.DescriptorSize)
        {
            _bag.Report(Rules.KernelNotUkl, where, $"kernel speaks slot ABI version {descriptor.AbiVersion} with a {descriptor.Size}-byte descriptor; this ukl-link supports version {SlotAbi.Version} ({SlotAbi.DescriptorSize} bytes)");
            return null;
        }
        if (descriptor.HasApplication)
        {
            _bag.Report(Rules.KernelNotUkl, where, "kernel already has an application linked into its slots; link against the kernel build's own vmlinux",
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

    private static HashSet<string> ScriptDefinedNames(Script script)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        void Add(Assignment a)
        {
            if (a.Symbol != ".")
                names.Add(a.Symbol);
        }
        foreach (var c in script.Commands)
        {
            if (c is TopLevelAssignment t)
                Add(t.Assignment);
            if (c is SectionsCommand s)
                foreach (var item in s.Items)
                {
                    if (item is AssignmentItem ai)
                        Add(ai.Assignment);
                    if (item is OutputSectionStatement os)
                        foreach (var a in os.Items.OfType<AssignmentInSection>())
                            Add(a.Assignment);
                }
        }
        return names;
    }

    private static bool IsReferenced(Resolution resolution, string name) =>
        resolution.Included.Any(o => o.Symbols.Any(s => s.IsUndefined && s.Name == name));

    /// <summary>Allocatable sections of the included objects; of COMDAT groups with one signature only the first.</summary>
    private static List<InputSection> LiveSections(IReadOnlyList<ObjectFile> included)
    {
        var groups = new Dictionary<string, ObjectFile>(StringComparer.Ordinal);
        var live = new List<InputSection>();
        foreach (var obj in included)
        {
            foreach (var section in obj.AllSections)
            {
                if (!section.IsAlloc || section.Type is SHT_GROUP or SHT_RELA or SHT_REL or SHT_SYMTAB or SHT_STRTAB)
                    continue;
                if (section.ComdatSignature is { } sig && groups.TryGetValue(sig, out var owner) && owner != obj)
                    continue;
                if (section.ComdatSignature is { } sig2)
                    groups.TryAdd(sig2, obj);
                live.Add(section);
            }
        }
        return live;
    }

    private sealed record DebugLayout(Dictionary<string, List<InputSection>> Groups, Dictionary<InputSection, ulong> Offsets);

    /// <summary>.debug_* sections of the kept objects, grouped by name in first-seen order, each at its alignment.</summary>
    private static DebugLayout DebugSections(IReadOnlyList<ObjectFile> included, LayoutResult layout)
    {
        var groups = new Dictionary<string, List<InputSection>>(StringComparer.Ordinal);
        var offsets = new Dictionary<InputSection, ulong>();
        var signatures = new Dictionary<string, ObjectFile>(StringComparer.Ordinal);
        foreach (var obj in included)
            foreach (var section in obj.AllSections)
            {
                if (section.IsAlloc || !section.Name.StartsWith(".debug_", StringComparison.Ordinal) || section.Type is SHT_RELA or SHT_REL)
                    continue;
                if (section.ComdatSignature is { } sig && !signatures.TryAdd(sig, obj) && signatures[sig] != obj)
                    continue;
                if (!groups.TryGetValue(section.Name, out var list))
                    groups[section.Name] = list = new List<InputSection>();
                ulong end = list.Count == 0 ? 0 : offsets[list[^1]] + list[^1].Size;
                ulong align = Math.Max(1, section.Alignment);
                offsets[section] = (end + align - 1) & ~(align - 1);
                list.Add(section);
            }
        _ = layout;
        return new DebugLayout(groups, offsets);
    }

    /// <summary>The COMMON symbols that won resolution, in the order their names were first defined.</summary>
    private static List<InputSymbol> CommonSymbols(Resolution resolution) =>
        resolution.Definitions.Values.Where(s => s.IsCommon).ToList();

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

    private static (ulong Start, ulong MemSize, ulong FileSize, ulong Align) TlsSegment(LayoutResult layout)
    {
        var tls = layout.Sections.Where(s => s.IsTls).ToList();
        if (tls.Count == 0)
            return (0, 0, 0, 1);
        ulong start = tls.Min(s => s.Address);
        ulong end = tls.Max(s => s.End);
        ulong fileEnd = tls.Where(s => !s.IsNoBits).Select(s => s.End).DefaultIfEmpty(start).Max();
        ulong align = tls.Max(s => s.Alignment);
        return (start, end - start, fileEnd - start, align);
    }

    private static ulong AlignUp(ulong v, ulong a) => a <= 1 ? v : (v + a - 1) & ~(a - 1);

    private static void FillPattern(byte[] buffer, byte[] fill)
    {
        if (fill.Length == 1)
        {
            Array.Fill(buffer, fill[0]);
            return;
        }
        for (int i = 0; i < buffer.Length; i++)
            buffer[i] = fill[i % fill.Length];
    }

    private List<ProgramHeader> ProgramHeaders(LayoutResult layout, IReadOnlyList<Slot> slots, ulong tlsStart, ulong tlsFileSize,
        ulong tlsMemSize, ulong tlsAlign, ulong phdrAddress)
    {
        var list = new List<ProgramHeader>();
        foreach (var slot in slots)
        {
            var sections = layout.Sections.Where(s => s.Slot == slot && !(s.IsTls && s.IsNoBits)).ToList();
            ulong start = sections.Count > 0 ? sections.Min(s => s.Address) : slot.Start;
            ulong end = sections.Count > 0 ? sections.Max(s => s.End) : slot.Start;
            if (slot.Name == SlotAbi.Data)
                end = Math.Max(end, phdrAddress + (ulong)(PhdrCount(layout, slots, tlsMemSize) * PhdrSize));
            if (end == start)
                continue;
            uint flags = slot.Name == SlotAbi.Text ? PF_R | PF_X : slot.Name == SlotAbi.Rodata ? PF_R : PF_R | PF_W;
            ulong fileSize = slot.Name == SlotAbi.Bss ? 0 : end - start;
            list.Add(new ProgramHeader(PT_LOAD, flags, start, fileSize, end - start, 4096));
        }
        if (tlsMemSize > 0)
            list.Add(new ProgramHeader(PT_TLS, PF_R, tlsStart, tlsFileSize, tlsMemSize, tlsAlign));
        list.Add(new ProgramHeader(PT_GNU_STACK, PF_R | PF_W, 0, 0, 0, 16));
        return list;
    }

    /// <summary>How many headers <see cref="ProgramHeaders"/> makes, needed before the table's own extent is known.</summary>
    private static int PhdrCount(LayoutResult layout, IReadOnlyList<Slot> slots, ulong tlsMemSize)
    {
        int loads = 0;
        foreach (var slot in slots)
        {
            bool used = layout.Sections.Any(s => s.Slot == slot && !(s.IsTls && s.IsNoBits) && s.Size > 0) || slot.Name == SlotAbi.Data;
            if (used)
                loads++;
        }
        return loads + (tlsMemSize > 0 ? 1 : 0) + 1;
    }

    private static byte[] Descriptor(KernelImage kernel, LayoutResult layout, IReadOnlyList<Slot> slots, ulong entry, ulong tlsStart,
        ulong tlsFileSize, ulong tlsMemSize, ulong tlsAlign, ulong phdrAddress, int phnum, ulong phdrEnd)
    {
        var bytes = kernel.ReadBytes(kernel.DescriptorAddress!.Value, SlotAbi.DescriptorSize)!;
        void Put(int offset, ulong value) => BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(offset), value);
        Put(SlotAbi.Offsets.Entry, entry);
        Put(SlotAbi.Offsets.TlsImage, tlsMemSize > 0 ? tlsStart : 0);
        Put(SlotAbi.Offsets.TlsFileSize, tlsFileSize);
        Put(SlotAbi.Offsets.TlsMemSize, tlsMemSize);
        Put(SlotAbi.Offsets.TlsAlign, tlsMemSize > 0 ? tlsAlign : 0);
        Put(SlotAbi.Offsets.Phdr, phdrAddress);
        Put(SlotAbi.Offsets.Phnum, (ulong)phnum);
        Put(SlotAbi.Offsets.Phentsize, PhdrSize);
        var fields = new[]
        {
            (SlotAbi.Text, SlotAbi.Offsets.TextStart, SlotAbi.Offsets.TextEnd),
            (SlotAbi.Rodata, SlotAbi.Offsets.RodataStart, SlotAbi.Offsets.RodataEnd),
            (SlotAbi.Data, SlotAbi.Offsets.DataStart, SlotAbi.Offsets.DataEnd),
            (SlotAbi.Bss, SlotAbi.Offsets.BssStart, SlotAbi.Offsets.BssEnd),
        };
        foreach (var (name, startField, endField) in fields)
        {
            var slot = slots.First(s => s.Name == name);
            var sections = layout.Sections.Where(s => s.Slot == slot && !(s.IsTls && s.IsNoBits) && s.Size > 0).ToList();
            ulong start = sections.Count > 0 ? sections.Min(s => s.Address) : slot.Start;
            ulong end = sections.Count > 0 ? sections.Max(s => s.End) : slot.Start;
            if (name == SlotAbi.Data)
            {
                start = Math.Min(start, phdrAddress);
                end = Math.Max(end, phdrEnd);
            }
            Put(startField, start);
            Put(endField, end);
        }
        Put(SlotAbi.Offsets.Flags, 0);
        // The magic goes in last: a descriptor that carries it is complete.
        Put(SlotAbi.Offsets.Magic, SlotAbi.AppMagic);
        return bytes;
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
                if (s.Section is { } sec && (sec.Flags & SHF_MERGE) != 0)
                    continue;
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

    /// <summary>Targets as far as they can be known before layout: enough to decide GOT relaxations.</summary>
    private sealed class PreliminaryTargets(Resolution resolution, KernelImage kernel, HashSet<string> scriptNames)
    {
        public RelocationTarget Resolve(InputSymbol s)
        {
            if (s.IsLocal || s.Type == STT_SECTION)
                return new RelocationTarget(s.Value, s.Size, s.IsAbsolute ? TargetKind.Absolute : TargetKind.Section, s.Type == STT_TLS, s.Name);
            if (scriptNames.Contains(s.Name))
                return new RelocationTarget(0, 0, TargetKind.Section, false, s.Name);
            if (resolution.Definitions.TryGetValue(s.Name, out var d))
                return new RelocationTarget(d.Value, d.Size, d.IsAbsolute ? TargetKind.Absolute : TargetKind.Section, d.Type == STT_TLS, s.Name);
            if (kernel.GlobalSymbols.TryGetValue(s.Name, out var k))
                return new RelocationTarget(k.Value, k.Size, TargetKind.Absolute, k.Type == STT_TLS, s.Name);
            return new RelocationTarget(0, 0, TargetKind.UndefinedWeak, false, s.Name);
        }
    }
}
