using Iced.Intel;
using UklLink.Analysis;
using UklLink.Diagnostics;
using UklLink.Inputs;
using UklLink.X86_64;
using static UklLink.X86_64.RelocationTypes;

namespace UklLink.Rewrite;

/// <summary>
/// Rewrites the <c>syscall</c> instructions of executable input sections into calls to the alternate entry
/// (docs/slot-abi.md §4), before layout and relocation. For each site it looks for a window of whole instructions
/// around the <c>syscall</c>, at least 5 bytes long, that nothing jumps into or refers to except at its start;
/// the window becomes <c>jmp trampoline</c> (E9 rel32, the rest int3) and the trampoline runs the moved
/// instructions around the kernel entry in the <see cref="RewriteOptions.EntryForm"/> the kernel expects (v2:
/// <c>lea resume(%rip), %r11; mov $ukl_entry_SYSCALL_64, %rcx; jmp *%rcx</c>, v1: <c>mov ...; call *%rcx</c>),
/// then jumps back to the window's end.
/// A site without such a window becomes <c>int $SyscallTrapVector</c> in place; bytes not proven to be code are
/// left alone. Either is reported.
/// One instance can rewrite any number of sections (of any objects); it keeps their code maps. Not thread-safe.
/// </summary>
public sealed class SyscallRewriter
{
    /// <summary>Instructions considered on each side of the syscall: more than enough to collect 3 bytes.</summary>
    private const int MaxInstructionsPerSide = 4;
    private const int JumpLength = 5;
    private const byte Int3 = 0xCC;

    /// <summary>Where trampolines are assembled: far enough from the section's own offsets (0..size) that every
    /// branch back stays rel32 and every RIP-relative operand keeps a disp32; the linker's relocations replace
    /// those fields, so the trampoline does not depend on this address.</summary>
    private const ulong AssemblyBase = 0x4000_0000;

    /// <summary>IPs given to the instructions handed to the block encoder, so that no branch or RIP-relative target
    /// of a moved instruction (a section offset) is mistaken for an instruction of the trampoline.</summary>
    private const ulong ScratchIp = 0x7000_0000_0000_0000;

    private readonly CodeMaps _maps;

    /// <summary>A rewriter that reads the code model from <paramref name="maps"/> (shared with the red-zone analysis in validate).</summary>
    public SyscallRewriter(RewriteOptions? options = null, CodeMaps? maps = null)
    {
        Options = options ?? new RewriteOptions();
        _maps = maps ?? new CodeMaps();
    }

    public RewriteOptions Options { get; }

    /// <summary>Rewrites one section. Sections that are not executable, or contain no 0F 05 byte pair, come back
    /// unchanged without being decoded.</summary>
    public SectionRewrite Rewrite(InputSection section)
    {
        var data = section.Data;
        if (!MayContainSyscall(section))
            return Unchanged(section);

        var map = _maps.For(section);
        if (map.SyscallSites.Count == 0)
            return Unchanged(section);

        var state = new State(section, map, (byte[])data.Clone());
        foreach (ulong offset in map.SyscallSites)
            RewriteSite(state, offset);

        var relocations = new List<RewriteRelocation>(state.NewRelocations);
        foreach (var r in section.Relocations)
        {
            if (!state.InTakenWindow(r.Offset))
                relocations.Add(new RewriteRelocation(r.Offset, r.Type, new SymbolTarget(r.Symbol), r.Addend) { Original = r });
        }
        relocations.Sort((a, b) => a.Offset.CompareTo(b.Offset));
        bool changed = !state.Data.AsSpan().SequenceEqual(data);
        return new SectionRewrite(section, changed ? state.Data : data, relocations, state.Trampolines, state.Sites,
            state.Findings, changed);
    }

    /// <summary>Cheap test before any decoding: an executable section with file bytes that contain the pair 0F 05.</summary>
    public static bool MayContainSyscall(InputSection section) =>
        section.IsExecutable && !section.IsNoBits && section.Content.IndexOf((ReadOnlySpan<byte>)[0x0F, 0x05]) >= 0;

    private static SectionRewrite Unchanged(InputSection section) => new(section, section.Data,
        section.Relocations.Select(r => new RewriteRelocation(r.Offset, r.Type, new SymbolTarget(r.Symbol), r.Addend) { Original = r })
            .OrderBy(r => r.Offset).ToList(),
        Array.Empty<Trampoline>(), Array.Empty<SyscallSite>(), Array.Empty<Finding>(), false);

    private sealed class State(InputSection section, CodeMap map, byte[] data)
    {
        public InputSection Section { get; } = section;
        public CodeMap Map { get; } = map;
        public byte[] Data { get; } = data;
        public List<RewriteRelocation> NewRelocations { get; } = new();
        public List<Trampoline> Trampolines { get; } = new();
        public List<SyscallSite> Sites { get; } = new();
        public List<Finding> Findings { get; } = new();

        /// <summary>Windows already rewritten: later windows may not overlap them, and their ends (where a trampoline
        /// jumps back) are boundaries.</summary>
        public List<(ulong Start, ulong End)> Taken { get; } = new();

        public bool InTakenWindow(ulong offset) => Taken.Any(w => offset >= w.Start && offset < w.End);

        /// <summary>Why [from, to) may not be the inside of a window (null if it may).</summary>
        public string? Blocker(ulong from, ulong to)
        {
            if (Map.FirstBoundaryIn(from, to) is { } b)
                return $"{b.Why} at 0x{b.Offset:x}";
            foreach (var (start, end) in Taken)
            {
                if (from < end && start < to)
                    return $"the window of another syscall site (0x{start:x}-0x{end:x})";
                if (end >= from && end < to)
                    return $"the return point of another syscall site's trampoline at 0x{end:x}";
            }
            return null;
        }
    }

    private sealed record Window(List<DecodedInstruction> Before, List<DecodedInstruction> After, ulong Start, ulong End, bool JumpBack);

    private void RewriteSite(State st, ulong offset)
    {
        var map = st.Map;
        var function = CodeRegion.EnclosingSymbol(st.Section, offset);
        var d = map.At(offset);
        string? untouched = null;
        if (d is null || d.Instruction.Code != Code.Syscall)
        {
            untouched = map.Covering(offset) is { } cover
                ? $"the bytes lie inside the instruction `{cover.Instruction}` at 0x{cover.Offset:x}"
                : "not reached from any symbol, branch target or code pointer (may be data in the code section)";
        }
        else if (d.Doubtful)
        {
            untouched = "decoded only on a path that runs into undecodable bytes, data or the middle of another instruction";
        }
        if (untouched is not null)
        {
            AddSite(st, new SyscallSite(st.Section, offset, function, SiteStrategy.Untouched, offset, offset + 2, null, 0, 0, untouched));
            return;
        }

        string? reason = FindWindow(st, d!, out var window);
        if (window is not null)
        {
            int? number = SyscallNumber.Find(map, d!);
            string entry = number is { } nr && Options.BypassEntries.TryGetValue(nr, out var bypass) ? bypass : Options.EntrySymbol;
            reason = EmitTrampoline(st, d!, window, function, number, entry);
            if (reason is null)
                return;
            reason = $"the trampoline could not be encoded: {reason}";
        }
        st.Data[offset] = 0xCD;
        st.Data[offset + 1] = Options.TrapVector;
        AddSite(st, new SyscallSite(st.Section, offset, function, SiteStrategy.IntFallback, offset, offset + 2, null, 0, 0, reason));
    }

    private void AddSite(State st, SyscallSite site)
    {
        st.Sites.Add(site);
        if (site.Strategy == SiteStrategy.JumpToTrampoline)
            return;
        var rule = site.Strategy == SiteStrategy.IntFallback ? Rules.SyscallIntFallback : Rules.SyscallNotRewritten;
        var severity = Options.StrictRewrite ? Severity.Error : rule.DefaultSeverity;
        var obj = st.Section.File;
        var location = new Location(obj.Path, obj.Member, st.Section.Name, site.Offset, site.Function?.Name,
            site.Function is { } f ? site.Offset - f.Value : null);
        string message = site.Strategy == SiteStrategy.IntFallback
            ? $"syscall rewritten in place to `int $0x{Options.TrapVector:x}`: no 5-byte window ({site.Reason})"
            : $"bytes 0f 05 left unchanged: {site.Reason}";
        st.Findings.Add(new Finding(rule, severity, location, message, rule.Hint));
    }

    /// <summary>
    /// Finds the cheapest window: fewest moved instructions, then fewest moved bytes, then instructions before the
    /// syscall rather than after it. Returns why there is none when <paramref name="window"/> is null.
    /// </summary>
    private static string? FindWindow(State st, DecodedInstruction site, out Window? window)
    {
        window = null;
        var map = st.Map;
        ulong s = site.Offset, e = site.End;
        if (st.Blocker(s + 1, e) is { } inside)
            return $"{inside} lies inside the syscall";

        // Instructions before the syscall, nearest first, while each may join the window.
        var before = new List<DecodedInstruction>();
        string stopBefore;
        for (ulong cur = s; ; )
        {
            if (before.Count == MaxInstructionsPerSide)
            {
                stopBefore = "enough instructions";
                break;
            }
            var prev = map.EndingAt(cur);
            if (prev is null)
            {
                stopBefore = cur == 0 ? "the section starts there" : $"no instruction is known to end at 0x{cur:x}";
                break;
            }
            if (st.Blocker(prev.Offset + 1, cur + 1) is { } b)
            {
                stopBefore = b;
                break;
            }
            if (WhyNotMovable(prev, map) is { } why)
            {
                stopBefore = why;
                break;
            }
            if (prev.IsTerminator)
            {
                stopBefore = $"`{prev.Instruction}` at 0x{prev.Offset:x} does not fall through";
                break;
            }
            before.Add(prev);
            cur = prev.Offset;
        }

        // Instructions after it, then (after a ret or jmp) unreachable padding that may be overwritten.
        var after = new List<DecodedInstruction>();
        ulong padding = 0;
        string stopAfter;
        for (ulong cur = e; ; )
        {
            if (after.Count == MaxInstructionsPerSide)
            {
                stopAfter = "enough instructions";
                break;
            }
            if (cur >= map.Size)
            {
                stopAfter = "the section ends there";
                break;
            }
            var next = map.At(cur);
            if (next is null)
            {
                stopAfter = $"no instruction is known to start at 0x{cur:x}";
                break;
            }
            if (st.Blocker(cur, next.End) is { } b)
            {
                stopAfter = b;
                break;
            }
            if (WhyNotMovable(next, map) is { } why)
            {
                stopAfter = why;
                break;
            }
            after.Add(next);
            cur = next.End;
            if (next.IsTerminator)
            {
                padding = PaddingAfter(st, cur);
                stopAfter = padding > 0 ? "" : $"`{next.Instruction}` at 0x{next.Offset:x} does not fall through and no padding follows";
                break;
            }
        }

        Window? best = null;
        (int Count, ulong Bytes, int After) bestCost = (int.MaxValue, 0, 0);
        for (int nb = 0; nb <= before.Count; nb++)
        {
            ulong start = nb == 0 ? s : before[nb - 1].Offset;
            for (int na = 0; na <= after.Count; na++)
            {
                ulong end = na == 0 ? e : after[na - 1].End;
                ulong length = end - start;
                bool endsInTerminator = na > 0 && after[na - 1].IsTerminator;
                if (length < JumpLength && endsInTerminator && length + padding >= JumpLength)
                    end = start + JumpLength; // padding is never executed: overwrite just what is needed
                if (end - start < JumpLength)
                    continue;
                ulong moved = (s - start) + (na == 0 ? 0 : after[na - 1].End - e);
                var cost = (nb + na, moved, na);
                if (cost.CompareTo(bestCost) < 0)
                {
                    bestCost = cost;
                    best = new Window(before.Take(nb).Reverse().ToList(), after.Take(na).ToList(), start, end, !endsInTerminator);
                }
            }
        }
        if (best is not null)
        {
            window = best;
            return null;
        }
        ulong room = (before.Count == 0 ? 0 : s - before[^1].Offset) + 2 + (after.Count == 0 ? 0 : after[^1].End - e) + padding;
        return $"only {room} bytes; before: {stopBefore}; after: {(stopAfter.Length > 0 ? stopAfter : "padding too short")}";
    }

    /// <summary>Bytes after a ret/jmp at <paramref name="from"/> that no path reaches, no one refers to and that
    /// decode as nop or int3 (alignment padding): they can be overwritten.</summary>
    private static ulong PaddingAfter(State st, ulong from)
    {
        var map = st.Map;
        var data = st.Data;
        ulong cur = from;
        while (cur < map.Size && cur - from < JumpLength)
        {
            if (map.IsClaimed(cur) || st.Blocker(cur, cur + 1) is not null)
                break;
            var dec = Decoder.Create(64, new ByteArrayCodeReader(data, (int)cur, (int)(map.Size - cur)), cur);
            dec.Decode(out var instr);
            if (instr.IsInvalid || instr.Code is not (Code.Nopd or Code.Nopw or Code.Nopq or Code.Nop_rm16 or Code.Nop_rm32
                or Code.Nop_rm64 or Code.Int3))
                break;
            ulong end = instr.NextIP;
            bool clean = true;
            for (ulong b = cur; b < end; b++)
                clean &= !map.IsClaimed(b) && (b == cur || st.Blocker(b, b + 1) is null);
            if (!clean || map.HasRelocationIn(cur, end))
                break;
            cur = end;
        }
        return cur - from;
    }

    /// <summary>Why <paramref name="d"/> cannot be moved into a trampoline (null when it can).</summary>
    private static string? WhyNotMovable(DecodedInstruction d, CodeMap map)
    {
        var i = d.Instruction;
        string what = $"`{i}` at 0x{d.Offset:x}";
        if (d.Doubtful)
            return $"{what} is not certainly code";
        if (i.Code == Code.Syscall)
            return $"{what} is another syscall site";
        switch (i.FlowControl)
        {
            case FlowControl.Next or FlowControl.IndirectBranch or FlowControl.Return:
                break;
            case FlowControl.ConditionalBranch when i.IsJccShortOrNear:
                break;
            case FlowControl.UnconditionalBranch when i.IsJmpShortOrNear:
                break;
            case FlowControl.Call or FlowControl.IndirectCall:
                return $"{what} is a call";
            default:
                return $"{what} cannot move ({i.FlowControl})";
        }
        var c = d.Constants;
        foreach (var r in d.Relocations)
        {
            bool atDisp = c.HasDisplacement && r.Offset == d.Offset + c.DisplacementOffset;
            bool atImm = c.HasImmediate && r.Offset == d.Offset + c.ImmediateOffset;
            bool ok = Get(r.Type).Move switch
            {
                WindowMove.UnlessBranchTarget => !(atImm && d.IsDirectBranch),
                WindowMove.RipDisplacementOrBranch => atDisp && i.IsIPRelativeMemoryOperand || atImm && d.IsDirectBranch,
                WindowMove.RipDisplacement => atDisp && i.IsIPRelativeMemoryOperand,
                _ => false,
            };
            if (!ok)
                return $"{what} has a {Get(r.Type).Name} relocation that cannot move";
        }
        if (i.IsIPRelativeMemoryOperand && d.DisplacementRelocation is null && i.IPRelativeMemoryAddress > map.Size)
            return $"{what} refers outside its section without a relocation";
        if (d.IsDirectBranch && d.BranchRelocation is null && i.NearBranchTarget > map.Size)
            return $"{what} branches outside its section without a relocation";
        return null;
    }

    /// <summary>Assembles the trampoline and patches the window; returns why not if the encoder refuses.</summary>
    private string? EmitTrampoline(State st, DecodedInstruction site, Window w, InputSymbol? function, int? number, string entry)
    {
        // The block: moved-before, [lea resume(%rip),%r11,] mov $entry,%rcx, call/jmp *%rcx, [resume:] moved-after,
        // jmp back.
        var moved = new List<DecodedInstruction?>();
        var block = new List<Instruction>();
        void Add(Instruction instr, DecodedInstruction? from)
        {
            instr.IP = ScratchIp + (ulong)block.Count * 16;
            block.Add(instr);
            moved.Add(from);
        }
        foreach (var d in w.Before)
            Add(d.Instruction, d);
        bool jump = Options.EntryForm == SyscallEntryForm.JumpRcx;
        int leaIndex = -1;
        if (jump)
        {
            // lea resume(%rip), %r11: the displacement is fixed below, once the encoder has placed the instructions.
            leaIndex = block.Count;
            Add(Instruction.Create(Code.Lea_r64_m, Register.R11, new MemoryOperand(Register.RIP, (long)AssemblyBase)), null);
        }
        int movIndex = block.Count;
        Add(Instruction.Create(Code.Mov_rm64_imm32, Register.RCX, 0), null);
        int enterIndex = block.Count;
        Add(Instruction.Create(jump ? Code.Jmp_rm64 : Code.Call_rm64, Register.RCX), null);
        foreach (var d in w.After)
            Add(d.Instruction, d);
        int jumpIndex = -1;
        if (w.JumpBack)
        {
            jumpIndex = block.Count;
            Add(Instruction.CreateBranch(Code.Jmp_rel32_64, w.End), null);
        }

        var writer = new BufferWriter();
        if (!BlockEncoder.TryEncode(64, new InstructionBlock(writer, block, AssemblyBase), out string? error, out var result,
                BlockEncoderOptions.ReturnNewInstructionOffsets | BlockEncoderOptions.ReturnConstantOffsets))
            return error ?? "unknown encoder error";
        byte[] code = writer.ToArray();
        int index = st.Trampolines.Count;
        var relocs = new List<RewriteRelocation>();
        for (int k = 0; k < block.Count; k++)
        {
            ulong start = result.NewInstructionOffsets[k];
            ulong end = k + 1 < block.Count ? result.NewInstructionOffsets[k + 1] : (ulong)code.Length;
            var co = result.ConstantOffsets[k];
            var instr = block[k];
            if (k == leaIndex)
            {
                // The resume address is the instruction after the jmp *%rcx, in the trampoline itself.
                if (co.DisplacementSize != 4)
                    return "the resume address is not a rel32 displacement";
                ulong resume = result.NewInstructionOffsets[enterIndex] + 2;
                BitConverter.TryWriteBytes(code.AsSpan((int)(start + co.DisplacementOffset), 4), (int)(resume - end));
                continue;
            }
            if (k == movIndex)
            {
                relocs.Add(new RewriteRelocation(start + co.ImmediateOffset, R_X86_64_32S, new NamedSymbolTarget(entry), 0));
                continue;
            }
            if (k == jumpIndex)
            {
                if (co.ImmediateSize != 4)
                    return "the jump back is not rel32";
                ulong field = start + co.ImmediateOffset;
                relocs.Add(new RewriteRelocation(field, R_X86_64_PC32, new SectionOffsetTarget(w.End), (long)field - (long)end));
                continue;
            }
            if (moved[k] is not { } d)
                continue;
            var oc = d.Constants;
            var original = code.AsSpan((int)start, (int)(end - start));
            foreach (var r in d.Relocations)
            {
                ulong at = r.Offset - d.Offset;
                ulong field;
                if (oc.HasDisplacement && at == oc.DisplacementOffset && co.HasDisplacement)
                    field = start + co.DisplacementOffset;
                else if (oc.HasImmediate && at == oc.ImmediateOffset && co.HasImmediate && co.ImmediateSize == oc.ImmediateSize)
                    field = start + co.ImmediateOffset;
                else if (Get(r.Type).FieldSize == 0)
                    continue; // marks the instruction only; nothing to patch
                else
                    return $"cannot place the {Get(r.Type).Name} relocation of `{d.Instruction}` in the re-encoded instruction";
                if (Get(r.Type).RewritesInstruction
                    && !SameBytesBefore(st.Map.Section.Data, d, at, original, field - start))
                    return $"`{d.Instruction}` changed encoding, which the linker's {Get(r.Type).Name} relaxation depends on";
                long addend = r.Addend;
                if (Get(r.Type).PcRelative)
                    addend += (long)(d.End - r.Offset) - (long)(end - field); // keep S + A + (end - P)
                relocs.Add(new RewriteRelocation(field, r.Type, new SymbolTarget(r.Symbol), addend) { Original = r });
            }
            if (instr.IsIPRelativeMemoryOperand && d.DisplacementRelocation is null)
            {
                ulong field = start + co.DisplacementOffset;
                relocs.Add(new RewriteRelocation(field, R_X86_64_PC32, new SectionOffsetTarget(instr.IPRelativeMemoryAddress), (long)field - (long)end));
            }
            if (d.IsDirectBranch && d.BranchRelocation is null)
            {
                if (co.ImmediateSize != 4)
                    return $"`{d.Instruction}` was not re-encoded with a rel32 target";
                ulong field = start + co.ImmediateOffset;
                relocs.Add(new RewriteRelocation(field, R_X86_64_PC32, new SectionOffsetTarget(instr.NearBranchTarget), (long)field - (long)end));
            }
        }
        relocs.Sort((a, b) => a.Offset.CompareTo(b.Offset));
        // Relocated fields hold the assembly-time values; RELA ignores them, so make them zero as an assembler would.
        foreach (var r in relocs)
            code.AsSpan((int)r.Offset, Get(r.Type).FieldSize).Clear();

        st.Trampolines.Add(new Trampoline(index, site.Offset, code, relocs)
        {
            EntryOffset = (int)result.NewInstructionOffsets[enterIndex],
            EntrySymbol = entry,
            SyscallNumber = number,
        });
        var data = st.Data;
        data[w.Start] = 0xE9;
        data.AsSpan((int)w.Start + 1, 4).Clear();
        data.AsSpan((int)w.Start + JumpLength, (int)(w.End - w.Start) - JumpLength).Fill(Int3);
        st.NewRelocations.Add(new RewriteRelocation(w.Start + 1, R_X86_64_PC32, new TrampolineTarget(index), -4));
        st.Taken.Add((w.Start, w.End));
        st.Sites.Add(new SyscallSite(st.Section, site.Offset, function, SiteStrategy.JumpToTrampoline, w.Start, w.End, index,
            w.Before.Count, w.After.Count, null) { Number = number, Entry = entry });
        return null;
    }

    /// <summary>Whether the re-encoded instruction has the original's bytes before the relocated field.</summary>
    private static bool SameBytesBefore(byte[] section, DecodedInstruction d, ulong oldField, ReadOnlySpan<byte> encoded, ulong newField) =>
        oldField == newField && encoded.Length == d.Length
        && section.AsSpan((int)d.Offset, (int)oldField).SequenceEqual(encoded[..(int)newField]);

    private sealed class BufferWriter : CodeWriter
    {
        private readonly List<byte> _bytes = new();
        public override void WriteByte(byte value) => _bytes.Add(value);
        public byte[] ToArray() => _bytes.ToArray();
    }
}
