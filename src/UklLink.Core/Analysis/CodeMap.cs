using Iced.Intel;
using UklLink.Inputs;
using UklLink.X86_64;
using static UklLink.Inputs.ElfConstants;

namespace UklLink.Analysis;

/// <summary>One instruction found by <see cref="CodeMap"/>, at a section offset.</summary>
internal sealed class DecodedInstruction
{
    public DecodedInstruction(Instruction instruction, ConstantOffsets constants, IReadOnlyList<InputRelocation> relocations, bool doubtful)
    {
        Instruction = instruction;
        Constants = constants;
        Relocations = relocations;
        Doubtful = doubtful;
    }

    public Instruction Instruction { get; }
    public ConstantOffsets Constants { get; }

    /// <summary>The section's relocations whose fields lie in this instruction (each at its displacement or immediate).</summary>
    public IReadOnlyList<InputRelocation> Relocations { get; }

    /// <summary>Decoded only on a path that also ran into undecodable bytes, data or another instruction's bytes.</summary>
    public bool Doubtful { get; }

    public ulong Offset => Instruction.IP;
    public int Length => Instruction.Length;
    public ulong End => Instruction.NextIP;

    /// <summary>The relocation at the instruction's displacement or immediate field, if any.</summary>
    public InputRelocation? RelocationAt(uint fieldOffset, int fieldSize) => RelocationAt(Relocations, Offset, fieldOffset, fieldSize);

    public InputRelocation? BranchRelocation => RelocationAt(Constants.ImmediateOffset, Constants.ImmediateSize);
    public InputRelocation? DisplacementRelocation => RelocationAt(Constants.DisplacementOffset, Constants.DisplacementSize);

    /// <summary>Ends the straight-line path: nothing falls through to the next byte.</summary>
    public bool IsTerminator => Terminates(Instruction);

    /// <summary>jmp/jcc/call/loop/jrcxz/xbegin with a relative target.</summary>
    public bool IsDirectBranch => IsDirectBranchInstruction(Instruction);

    /// <summary>A call may not return (a noreturn callee): what follows starts a new path. A syscall does not end
    /// the path, so bytes that decode as a syscall followed by garbage stay doubtful.</summary>
    public bool EndsPath => EndsPathAfter(Instruction);

    // The same facts for an instruction not (yet) wrapped in this class: CodeMap's decoding makes no object per instruction.
    internal static InputRelocation? RelocationAt(IReadOnlyList<InputRelocation> relocations, ulong offset, uint fieldOffset, int fieldSize)
    {
        if (fieldSize == 0)
            return null;
        for (int i = 0; i < relocations.Count; i++)
        {
            if (relocations[i].Offset == offset + fieldOffset)
                return relocations[i];
        }
        return null;
    }

    internal static bool Terminates(in Instruction i) => i.FlowControl is FlowControl.UnconditionalBranch or FlowControl.IndirectBranch
        or FlowControl.Return or FlowControl.Exception || i.Code is Code.Int3 or Code.Hlt;

    internal static bool IsDirectBranchInstruction(in Instruction i) => i.Op0Kind is OpKind.NearBranch64 or OpKind.NearBranch32 or OpKind.NearBranch16;

    internal static bool EndsPathAfter(in Instruction i) => i.FlowControl is FlowControl.Call or FlowControl.IndirectCall && i.Code != Code.Syscall;

    public override string ToString() => $"0x{Offset:x}: {Instruction}";
}

/// <summary>
/// The one model of what is code in an executable section, which validate's syscall count, the syscall rewriter and
/// the red-zone analysis all read (built once per section by <see cref="CodeMaps"/>). Which bytes are instructions,
/// found by following control flow (recursive descent) from
/// the places code is known to start: the section start, function symbols, unwind-table entries, then branch
/// targets, then other labels and code pointers. A path that reaches undecodable bytes, a relocation that is not an
/// instruction's displacement or immediate, a sized data object, or the middle of an already decoded instruction
/// is marked doubtful: its instructions are never patched or moved.
/// Also collects the section's boundaries: offsets that something may jump to or refer to (symbols, branch targets,
/// relocation targets, unwind entries, RIP-relative operands), which a rewrite window may only start at; and the syscall
/// sites: every syscall this decoding reaches plus every one a linear disassembly of each symbol's region shows (as
/// objdump would), so bytes 0F 05 that only look like a syscall are still reported, never silently skipped.
/// </summary>
internal sealed class CodeMap
{
    private readonly InputSection _section;
    private readonly byte[] _data;
    private readonly InputRelocation[] _relocations; // sorted by offset
    // Per byte of the section, so that a large section costs 5 bytes per byte rather than an object per instruction;
    // instructions are decoded again when asked for.
    private readonly int[] _owner; // 1 + start offset of the instruction covering each byte, 0 for none
    private readonly byte[] _flags; // Start | Doubtful, at instruction starts
    private const byte Start = 1, DoubtfulFlag = 2;
    private readonly List<ulong> _syscalls = new();
    private readonly Dictionary<ulong, BoundaryReason> _boundaries = new(); // the first reason found for each offset
    private readonly Dictionary<ulong, List<ulong>> _branchSources = new(); // target -> direct branches of this section to it
    private readonly HashSet<ulong> _entries = new(); // boundaries other than direct branch targets
    private readonly List<(ulong Start, ulong End, string Name)> _dataObjects = new();
    private readonly Queue<ulong>[] _work = { new(), new(), new() };
    private readonly Decoder _decoder;
    private readonly ByteArrayCodeReader _reader;
    private ulong[]? _sortedBoundaries;

    internal CodeMap(InputSection section, ObjectReferences references)
    {
        _section = section;
        _data = section.Data;
        _relocations = section.Relocations.OrderBy(r => r.Offset).ToArray();
        // From the shared pool, cleared: validate and link's red-zone check decode object after object and give the
        // buffers back (CodeMaps.Release), so a large application reuses the same memory instead of fresh pages.
        _flags = System.Buffers.ArrayPool<byte>.Shared.Rent(_data.Length);
        _owner = System.Buffers.ArrayPool<int>.Shared.Rent(_data.Length);
        Array.Clear(_flags, 0, _data.Length);
        Array.Clear(_owner, 0, _data.Length);
        _reader = new ByteArrayCodeReader(_data);
        _decoder = Decoder.Create(64, _reader);

        Enqueue(0, 0);
        foreach (var sym in references.SymbolsIn(section))
        {
            AddBoundary(sym.Value, new BoundaryReason(BoundaryKind.Symbol, sym.Value, Name: sym.Name));
            if (sym.Type == STT_OBJECT && sym.Size > 0)
                _dataObjects.Add((sym.Value, sym.Value + sym.Size, sym.Name));
            else if (sym.Type == STT_FUNC)
                Enqueue(sym.Value, 0);
            else if (sym.Type is STT_NOTYPE or STT_GNU_IFUNC)
                Enqueue(sym.Value, 2);
        }
        foreach (var r in references.ReferencesInto(section))
        {
            AddBoundary(r.Offset, r.Why);
            if (r.Kind == ReferenceKind.CodeStart)
                Enqueue(r.Offset, 0);
            else if (r.Kind == ReferenceKind.CodePointer)
                Enqueue(r.Offset, 2);
        }

        Run();
        // Relocations of the section onto itself that no instruction owns are data in the code (a jump table in
        // .text): what they point at is a code pointer.
        foreach (var r in _relocations)
        {
            if (r.Offset < (ulong)_data.Length && _owner[r.Offset] != 0)
                continue;
            if (r.Symbol.Section == section && RelocationTypes.Get(r.Type).AbsoluteAddress)
            {
                ulong target = (ulong)((long)r.Symbol.Value + r.Addend);
                AddBoundary(target, new BoundaryReason(BoundaryKind.CodePointer, r.Offset, section));
                Enqueue(target, 2);
            }
        }
        Run();

        Regions = CodeRegion.Find(section);
    }

    public InputSection Section => _section;

    /// <summary>Gives the per-byte buffers back to the pool; the map must not be used afterwards (<see cref="CodeMaps.Release"/>).</summary>
    internal void ReturnBuffers()
    {
        if (_flags.Length > 0)
            System.Buffers.ArrayPool<byte>.Shared.Return(_flags);
        if (_owner.Length > 0)
            System.Buffers.ArrayPool<int>.Shared.Return(_owner);
    }

    /// <summary>The section's regions: from each symbol (or the section start) to the next.</summary>
    public IReadOnlyList<CodeRegion> Regions { get; }

    /// <summary>
    /// Offsets of the syscall sites, ascending: those decoded by following control flow (doubtful ones included) and
    /// those a linear sweep of each region finds. validate counts exactly these; the rewriter patches or reports each.
    /// </summary>
    public IReadOnlyList<ulong> SyscallSites => _sites ??= FindSyscallSites();

    private ulong[]? _sites; // only the rewriter asks: the red-zone analysis of a section never sweeps it

    private ulong[] FindSyscallSites()
    {
        var sites = new SortedSet<ulong>(_syscalls);
        LinearSyscalls(sites);
        return sites.ToArray();
    }

    public ulong Size => (ulong)_data.LongLength;

    /// <summary>The instruction decoded at <paramref name="offset"/>, if any.</summary>
    public DecodedInstruction? At(ulong offset)
    {
        if (offset >= Size || (_flags[offset] & Start) == 0)
            return null;
        _reader.Position = (int)offset;
        _decoder.IP = offset;
        _decoder.Decode(out var instr);
        return new DecodedInstruction(instr, _decoder.GetConstantOffsets(instr), RelocationsIn(offset, instr.NextIP),
            (_flags[offset] & DoubtfulFlag) != 0);
    }

    /// <summary>
    /// Just the instruction decoded at <paramref name="offset"/>, if any: for walks over every instruction (the red-zone
    /// analysis) that need neither its relocations nor its constant offsets, without an object per instruction.
    /// </summary>
    public bool TryDecode(ulong offset, out Instruction instruction)
    {
        if (offset >= Size || (_flags[offset] & Start) == 0)
        {
            instruction = default;
            return false;
        }
        _reader.Position = (int)offset;
        _decoder.IP = offset;
        _decoder.Decode(out instruction);
        return true;
    }

    /// <summary>The decoded instruction that ends exactly at <paramref name="offset"/>, if any.</summary>
    public DecodedInstruction? EndingAt(ulong offset)
    {
        if (offset == 0 || offset > Size || _owner[offset - 1] == 0)
            return null;
        ulong start = (ulong)(_owner[offset - 1] - 1);
        return offset == Size || _owner[offset] != _owner[offset - 1] ? At(start) : null;
    }

    /// <summary>Whether any decoded instruction covers the byte at <paramref name="offset"/>.</summary>
    public bool IsClaimed(ulong offset) => offset < Size && _owner[offset] != 0;

    /// <summary>The instruction covering <paramref name="offset"/>, if any.</summary>
    public DecodedInstruction? Covering(ulong offset) => IsClaimed(offset) ? At((ulong)(_owner[offset] - 1)) : null;

    /// <summary>The first boundary in [<paramref name="from"/>, <paramref name="to"/>), with what makes it one.</summary>
    public (ulong Offset, string Why)? FirstBoundaryIn(ulong from, ulong to)
    {
        if (from >= to)
            return null;
        if (_sortedBoundaries is null)
        {
            _sortedBoundaries = _boundaries.Keys.ToArray();
            Array.Sort(_sortedBoundaries);
        }
        var sorted = _sortedBoundaries;
        int i = Array.BinarySearch(sorted, from);
        if (i < 0)
            i = ~i;
        return i < sorted.Length && sorted[i] < to ? (sorted[i], _boundaries[sorted[i]].ToString()) : null;
    }

    /// <summary>A relocation of the section whose field overlaps [from, to).</summary>
    public bool HasRelocationIn(ulong from, ulong to) => RelocationsIn(from, to).Count > 0;

    /// <summary>
    /// The direct branches of this section to <paramref name="offset"/>, and whether anything else may enter there (a
    /// symbol, a code pointer, an address taken or a RIP-relative operand): what a backward walk over the code must
    /// follow besides the fall-through (<see cref="UklLink.Rewrite.SyscallNumber"/>).
    /// </summary>
    public (IReadOnlyList<ulong> Branches, bool OtherEntry) WaysInto(ulong offset) =>
        (_branchSources.TryGetValue(offset, out var list) ? list : Array.Empty<ulong>(), _entries.Contains(offset));

    private void AddBoundary(ulong offset, BoundaryReason why)
    {
        if (offset > Size)
            return;
        _boundaries.TryAdd(offset, why);
        _sortedBoundaries = null;
        if (why.Kind == BoundaryKind.BranchTarget)
        {
            ulong from = why.At;
            if (!_branchSources.TryGetValue(offset, out var list))
                _branchSources[offset] = list = new List<ulong>();
            list.Add(from);
        }
        else
        {
            _entries.Add(offset);
        }
    }

    private void Enqueue(ulong offset, int tier)
    {
        if (offset < Size)
            _work[tier].Enqueue(offset);
    }

    private void Run()
    {
        while (true)
        {
            var queue = _work.FirstOrDefault(q => q.Count > 0);
            if (queue is null)
                return;
            Trace(queue.Dequeue());
        }
    }

    /// <summary>Decodes the straight-line path from <paramref name="entry"/> until it ends or joins decoded code.</summary>
    private void Trace(ulong entry)
    {
        var path = new List<ulong>();
        bool doubtful = false;
        ulong o = entry;
        while (o < Size && (_flags[o] & Start) == 0)
        {
            if (_owner[o] != 0 || InDataObject(o) is not null)
            {
                doubtful = true; // the middle of another instruction, or a data object
                break;
            }
            _reader.Position = (int)o;
            _decoder.IP = o;
            _decoder.Decode(out var instr);
            if (instr.IsInvalid || instr.NextIP > Size)
            {
                doubtful = true;
                break;
            }
            ulong end = instr.NextIP;
            bool overlaps = false;
            for (ulong b = o + 1; b < end; b++)
                overlaps |= _owner[b] != 0;
            var constants = _decoder.GetConstantOffsets(instr);
            var relocs = RelocationsIn(o, end);
            if (overlaps || InDataObject(end - 1) is not null || !RelocationsFit(instr, constants, relocs))
            {
                doubtful = true;
                break;
            }
            _flags[o] = Start;
            for (ulong b = o; b < end; b++)
                _owner[b] = (int)o + 1;
            path.Add(o);
            if (instr.Code == Code.Syscall)
                _syscalls.Add(o);
            NoteTargets(instr, constants, relocs);
            if (DecodedInstruction.Terminates(instr))
                break;
            if (DecodedInstruction.EndsPathAfter(instr))
            {
                // What follows a call is code unless the callee never returns; decode it as a path of its own so
                // that data after a noreturn call does not cast doubt on this one.
                Enqueue(end, 1);
                break;
            }
            o = end;
        }
        if (doubtful)
        {
            foreach (ulong start in path)
                _flags[start] |= DoubtfulFlag;
        }
    }

    /// <summary>
    /// A linear sweep of each region from its start (resynchronising at every symbol), as a disassembler lists code:
    /// finds syscalls in bytes control flow does not reach (data in code, unreferenced code), which the rewriter then
    /// reports instead of patching.
    /// </summary>
    private void LinearSyscalls(SortedSet<ulong> sites)
    {
        foreach (var region in Regions)
        {
            var reader = new ByteArrayCodeReader(_data, (int)region.Start, (int)(region.End - region.Start));
            var decoder = Decoder.Create(64, reader, region.Start);
            while (decoder.IP < region.End)
            {
                decoder.Decode(out var instr);
                if (!instr.IsInvalid && instr.Code == Code.Syscall)
                    sites.Add(instr.IP); // an undecodable byte is consumed; the sweep carries on after it
            }
        }
    }

    /// <summary>Each relocation in the instruction must be exactly its displacement or immediate field.</summary>
    private static bool RelocationsFit(in Instruction instr, in ConstantOffsets c, IReadOnlyList<InputRelocation> relocs)
    {
        foreach (var r in relocs)
        {
            uint at = (uint)(r.Offset - instr.IP);
            int size = RelocationTypes.Get(r.Type).FieldSize;
            if (size == 0)
                continue; // R_X86_64_NONE, TLSDESC_CALL: mark an instruction, patch nothing
            bool disp = c.HasDisplacement && at == c.DisplacementOffset && size == c.DisplacementSize;
            bool imm = c.HasImmediate && at == c.ImmediateOffset && size == c.ImmediateSize;
            if (!disp && !imm)
                return false;
        }
        return true;
    }

    /// <summary>Branch targets become entries; every target in the section becomes a boundary.</summary>
    private void NoteTargets(in Instruction instr, in ConstantOffsets c, IReadOnlyList<InputRelocation> relocations)
    {
        ulong offset = instr.IP, end = instr.NextIP;
        if (DecodedInstruction.IsDirectBranchInstruction(instr))
        {
            if (DecodedInstruction.RelocationAt(relocations, offset, c.ImmediateOffset, c.ImmediateSize) is { } r)
            {
                if (r.Symbol.Section == _section && IsPcRelative(r.Type))
                {
                    ulong target = (ulong)((long)r.Symbol.Value + r.Addend + (long)(end - r.Offset));
                    AddBoundary(target, new BoundaryReason(BoundaryKind.BranchTarget, offset));
                    Enqueue(target, 1);
                }
            }
            else
            {
                ulong target = instr.NearBranchTarget;
                AddBoundary(target, new BoundaryReason(BoundaryKind.BranchTarget, offset));
                Enqueue(target, 1);
            }
        }
        if (instr.IsIPRelativeMemoryOperand)
        {
            if (DecodedInstruction.RelocationAt(relocations, offset, c.DisplacementOffset, c.DisplacementSize) is { } r)
            {
                if (r.Symbol.Section == _section && IsPcRelative(r.Type))
                    AddBoundary((ulong)((long)r.Symbol.Value + r.Addend + (long)(end - r.Offset)), new BoundaryReason(BoundaryKind.RipTarget, offset));
            }
            else
            {
                AddBoundary(instr.IPRelativeMemoryAddress, new BoundaryReason(BoundaryKind.RipTarget, offset));
            }
        }
        for (int i = 0; i < relocations.Count; i++)
        {
            var r = relocations[i];
            if (r.Symbol.Section != _section || IsPcRelative(r.Type))
                continue;
            ulong target = (ulong)((long)r.Symbol.Value + r.Addend);
            AddBoundary(target, new BoundaryReason(BoundaryKind.AddressTaken, offset));
            // An absolute address in an immediate (mov $label, push $label) is probably a code pointer; in a
            // displacement it addresses data.
            if (r.Offset == offset + c.ImmediateOffset)
                Enqueue(target, 2);
        }
    }

    private static bool IsPcRelative(uint type) => RelocationTypes.Get(type).PcRelative;

    private string? InDataObject(ulong offset)
    {
        foreach (var (start, end, name) in _dataObjects)
        {
            if (offset >= start && offset < end)
                return name;
        }
        return null;
    }

    /// <summary>The relocations whose fields overlap [from, to); most instructions have none, which allocates nothing.</summary>
    private IReadOnlyList<InputRelocation> RelocationsIn(ulong from, ulong to)
    {
        // Fields are at most 8 bytes (16 for TLSDESC), so start the search a little before `from`.
        ulong lo = from >= 16 ? from - 16 : 0;
        List<InputRelocation>? found = null;
        for (int i = LowerBound(lo); i < _relocations.Length && _relocations[i].Offset < to; i++)
        {
            var r = _relocations[i];
            ulong size = (ulong)Math.Max(1, RelocationTypes.Get(r.Type).FieldSize);
            if (r.Offset + size > from)
                (found ??= new List<InputRelocation>(2)).Add(r);
        }
        return found ?? (IReadOnlyList<InputRelocation>)Array.Empty<InputRelocation>();
    }

    private int LowerBound(ulong offset)
    {
        int lo = 0, hi = _relocations.Length;
        while (lo < hi)
        {
            int mid = (lo + hi) / 2;
            if (_relocations[mid].Offset < offset)
                lo = mid + 1;
            else
                hi = mid;
        }
        return lo;
    }
}
