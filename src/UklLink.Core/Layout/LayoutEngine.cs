using UklLink.Inputs;
using UklLink.LinkerScript;
using static UklLink.Inputs.ElfConstants;

namespace UklLink.Layout;

/// <summary>
/// Evaluates a linker script the way GNU ld does for the subset ukl-link accepts, in two passes: <see cref="Assign"/>
/// gives every input section to the first rule (in script order) that matches it; <see cref="Place"/> then runs the
/// SECTIONS commands in order with the location counter, placing each output section at its address (or at the counter
/// aligned to its alignment) and its pieces at their alignments, with the sizes content transforms decided in between.
/// A TLS NOBITS section (.tbss) is sized but does not advance the counter, as in ld.
/// </summary>
public sealed class LayoutEngine
{
    private const string DiscardName = "/DISCARD/";

    private readonly LayoutRequest _request;
    private readonly Dictionary<InputSectionDescription, List<Piece>> _matches = new(ReferenceEqualityComparer.Instance);
    private readonly Dictionary<InputSection, InputPiece> _placed = new();
    private readonly Dictionary<string, ScriptSymbol> _symbols = new(StringComparer.Ordinal);
    private readonly Dictionary<string, OutputSection> _outputsByName = new(StringComparer.Ordinal);
    private readonly List<OutputSection> _outputs = new();
    private ulong _dot;
    private OutputSection? _current;

    private LayoutEngine(LayoutRequest request) => _request = request;

    /// <summary>
    /// The assign pass: which rule takes each live input section and linker-made piece (the first in script order that
    /// matches, sorted as the rule says), which go to /DISCARD/, and which no rule matches.
    /// </summary>
    public static SectionAssignment Assign(Script script, IReadOnlyList<InputSection> sections, IReadOnlyList<SyntheticPiece> synthetic)
    {
        var matches = new Dictionary<InputSectionDescription, IReadOnlyList<Claim>>(ReferenceEqualityComparer.Instance);
        var claims = new List<(InputSection Section, string Output)>();
        var claimed = new HashSet<object>(ReferenceEqualityComparer.Instance);
        var discarded = new HashSet<InputSection>();
        foreach (var sc in script.Commands.OfType<SectionsCommand>())
            foreach (var os in sc.Items.OfType<OutputSectionStatement>())
                foreach (var d in os.Items.OfType<InputSectionDescription>())
                {
                    var taken = Claim(d, sections, synthetic, claimed);
                    if (os.Name == DiscardName)
                    {
                        discarded.UnionWith(taken.Select(c => c.Section).OfType<InputSection>());
                        taken = [];
                    }
                    matches[d] = taken;
                    claims.AddRange(taken.Where(c => c.Section is not null).Select(c => (c.Section!, os.Name)));
                }
        var orphans = sections.Where(s => !claimed.Contains(s)).ToList();
        return new SectionAssignment(matches, claims, orphans, discarded);
    }

    /// <summary>
    /// The layout pass: addresses for every output section and piece, the script's symbols, and the slot each output
    /// section lies in. Input sections get the sizes <see cref="LayoutRequest.Sizes"/> gives (a section a content
    /// transform empties entirely is excluded: no space, no padding, no alignment).
    /// </summary>
    public static LayoutResult Place(LayoutRequest request) => new LayoutEngine(request).Execute();

    private LayoutResult Execute()
    {
        var sizes = _request.Sizes;
        foreach (var (d, taken) in _request.Assignment.Matches)
        {
            var pieces = new List<Piece>(taken.Count);
            foreach (var c in taken)
            {
                if (c.Synthetic is { } sp)
                {
                    sp.SizeValue = sizes.SizeOf(sp);
                    pieces.Add(sp);
                }
                else if (!sizes.IsExcluded(c.Section!))
                    pieces.Add(_placed[c.Section!] = new InputPiece(c.Section!, sizes.SizeOf(c.Section!)));
            }
            _matches[d] = pieces;
        }

        string? entry = null;
        foreach (var command in _request.Script.Commands)
        {
            switch (command)
            {
                case EntryCommand e:
                    entry = e.Symbol;
                    break;
                case TopLevelAssignment a:
                    Assign(a.Assignment);
                    break;
                case TopLevelAssert a:
                    CheckAssert(a.Assert);
                    break;
                case SectionsCommand s:
                    foreach (var item in s.Items)
                        RunItem(item);
                    break;
            }
        }

        // A section belongs to the slot its start lies in (an empty one may sit exactly at a slot's end).
        var slots = _request.Slots;
        foreach (var os in _outputs)
            os.Slot = slots.FirstOrDefault(s => os.Address >= s.Start && os.Address < s.End)
                ?? slots.FirstOrDefault(s => os.Address == s.End && os.Size == 0);
        return new LayoutResult(_outputs, _placed, _symbols, entry, _request.Assignment.Orphans, _request.Assignment.Discarded, _failedAsserts);
    }

    /// <summary>The input sections (and linker-made pieces) a rule takes: those not taken by an earlier rule.</summary>
    private static IReadOnlyList<Claim> Claim(InputSectionDescription d, IReadOnlyList<InputSection> sections, IReadOnlyList<SyntheticPiece> synthetic,
        HashSet<object> claimed)
    {
        var result = new List<(Claim Claim, SectionPattern Pattern)>();
        foreach (var section in sections)
        {
            if (claimed.Contains(section) || !FileMatches(d.FileGlob, d.ExcludeFiles, section.File))
                continue;
            if (PatternFor(d, section) is not { } pattern)
                continue;
            claimed.Add(section);
            result.Add((new Claim(section, null), pattern));
        }
        foreach (var piece in synthetic)
        {
            if (claimed.Contains(piece) || !Glob.Matches(d.FileGlob, "*") && d.FileGlob != "*")
                continue;
            var pattern = d.Sections.FirstOrDefault(p => Glob.Matches(p.Glob, piece.Name));
            if (pattern is null)
                continue;
            claimed.Add(piece);
            result.Add((new Claim(null, piece), pattern));
        }

        var sort = d.Sections.Select(p => p.Sort).FirstOrDefault(s => s != SortKind.None);
        if (sort == SortKind.None)
            return result.Select(r => r.Claim).ToList();
        // Stable sort: equal keys keep link order, as ld's sorted insertion does.
        return result
            .Select((r, i) => (r.Claim, r.Pattern, Index: i))
            .OrderBy(r => r.Pattern.Sort == SortKind.None ? 0 : 1)
            .ThenBy(r => r, Comparer<(Claim Claim, SectionPattern Pattern, int Index)>.Create((a, b) => CompareSorted(a.Claim, b.Claim, sort)))
            .ThenBy(r => r.Index)
            .Select(r => r.Claim)
            .ToList();
    }

    /// <summary>The rule's first pattern that takes <paramref name="section"/> (a loop, not a closure: it runs per rule and per section).</summary>
    private static SectionPattern? PatternFor(InputSectionDescription d, InputSection section)
    {
        for (int i = 0; i < d.Sections.Count; i++)
        {
            var p = d.Sections[i];
            if (Glob.Matches(p.Glob, section.Name) && !Excluded(p.ExcludeFiles, section.File))
                return p;
        }
        return null;
    }

    private static int CompareSorted(Claim a, Claim b, SortKind sort)
    {
        string an = a.Name, bn = b.Name;
        return sort switch
        {
            SortKind.ByName => string.CompareOrdinal(an, bn),
            SortKind.ByAlignment => b.Alignment.CompareTo(a.Alignment),
            SortKind.ByInitPriority => InitPriority(an) != InitPriority(bn) ? InitPriority(an).CompareTo(InitPriority(bn)) : string.CompareOrdinal(an, bn),
            _ => 0,
        };
    }

    /// <summary>The priority in <c>.init_array.N</c> (or <c>.ctors.N</c>, which runs in reverse: 65535 - N).</summary>
    private static ulong InitPriority(string name)
    {
        int dot = name.LastIndexOf('.');
        if (dot < 0 || !ulong.TryParse(name.AsSpan(dot + 1), out ulong n))
            return ulong.MaxValue;
        bool reversed = name.StartsWith(".ctors", StringComparison.Ordinal) || name.StartsWith(".dtors", StringComparison.Ordinal);
        return reversed ? 65535 - Math.Min(n, 65535) : n;
    }

    private static bool FileMatches(string glob, IReadOnlyList<string> excludes, ObjectFile file) =>
        FileGlobMatches(glob, file) && !Excluded(excludes, file);

    private static bool Excluded(IReadOnlyList<string> excludes, ObjectFile file)
    {
        for (int i = 0; i < excludes.Count; i++)
        {
            if (FileGlobMatches(excludes[i], file))
                return true;
        }
        return false;
    }

    /// <summary>ld matches a file pattern against the name as given; archive members also as <c>archive:member</c>.</summary>
    private static bool FileGlobMatches(string glob, ObjectFile file)
    {
        if (glob == "*")
            return true;
        if (file.Member is null)
            return Glob.Matches(glob, file.Path) || Glob.Matches(glob, Path.GetFileName(file.Path));
        int colon = glob.IndexOf(':');
        if (colon >= 0)
        {
            string archive = glob[..colon], member = glob[(colon + 1)..];
            return (archive.Length == 0 || Glob.Matches(archive, file.Path) || Glob.Matches(archive, Path.GetFileName(file.Path)))
                && (member.Length == 0 || Glob.Matches(member, file.Member));
        }
        return Glob.Matches(glob, file.Member);
    }

    private void RunItem(SectionsItem item)
    {
        switch (item)
        {
            case AssignmentItem a:
                Assign(a.Assignment);
                break;
            case AssertItem a:
                CheckAssert(a.Assert);
                break;
            case OutputSectionStatement os:
                if (os.Name != DiscardName)
                    PlaceOutputSection(os);
                break;
        }
    }

    private void PlaceOutputSection(OutputSectionStatement os)
    {
        var pieces = new List<Piece>();
        var output = new OutputSection(os.Name);
        foreach (var d in os.Items.OfType<InputSectionDescription>())
            pieces.AddRange(_matches[d]);
        // ld drops an output section with no input section and no data statement (its symbol assignments still run).
        bool empty = pieces.Count == 0 && !os.Items.Any(i => i is DataStatement);

        ulong alignment = 1;
        foreach (var p in pieces)
            alignment = Math.Max(alignment, p.Alignment);
        if (os.Align is { } alignExpr)
            alignment = Math.Max(alignment, Evaluate(alignExpr));
        ulong start = os.Address is { } addr ? Evaluate(addr) : AlignUp(_dot, alignment, os.Position);

        output.Address = start;
        output.Alignment = alignment;
        if (os.Fill is { } fill)
        {
            output.Fill = FillPattern(Evaluate(fill));
            output.HasExplicitFill = true;
        }
        _current = output;
        _dot = start;

        foreach (var item in os.Items)
        {
            switch (item)
            {
                case AssignmentInSection a:
                    Assign(a.Assignment);
                    break;
                case AssertInSection a:
                    CheckAssert(a.Assert);
                    break;
                case DataStatement data:
                {
                    var piece = new SyntheticPiece($"{DataName(data.Size)}({data.Value.Position})", (ulong)data.Size, 1, SHF_ALLOC, noBits: false);
                    ulong value = Evaluate(data.Value);
                    piece.Data = BitConverter.GetBytes(value)[..data.Size];
                    PlacePiece(output, piece);
                    break;
                }
                case InputSectionDescription d:
                    foreach (var p in _matches[d])
                        PlacePiece(output, p);
                    break;
            }
        }

        output.Size = _dot - start;
        _current = null;
        if (!empty)
        {
            if (_outputsByName.ContainsKey(output.Name))
                throw new LayoutException(os.Position, $"output section '{output.Name}' is defined twice");
            _outputsByName[output.Name] = output;
            _outputs.Add(output);
        }
        // .tbss takes no address space outside the TLS template: the next section starts where it started.
        if (output.IsTls && output.IsNoBits)
            _dot = start;
    }

    private void PlacePiece(OutputSection output, Piece piece)
    {
        _dot = AlignUp(_dot, piece.Alignment, default);
        piece.Address = _dot;
        piece.Output = output;
        output.Pieces.Add(piece);
        output.Flags |= piece.Flags & (SHF_ALLOC | SHF_WRITE | SHF_EXECINSTR | SHF_TLS);
        _dot += piece.Size;
    }

    private static string DataName(int size) => size switch { 1 => "BYTE", 2 => "SHORT", 4 => "LONG", _ => "QUAD" };

    /// <summary>ld repeats a fill value as big-endian bytes of its minimal width (1, 2 or 4 bytes).</summary>
    private static byte[] FillPattern(ulong value)
    {
        if (value <= 0xff)
            return new[] { (byte)value };
        if (value <= 0xffff)
            return new[] { (byte)(value >> 8), (byte)value };
        return new[] { (byte)(value >> 24), (byte)(value >> 16), (byte)(value >> 8), (byte)value };
    }

    private void Assign(Assignment a)
    {
        if (a.Symbol == ".")
        {
            ulong value = Compound(a, _dot);
            if (_current is not null && value < _dot)
                throw new LayoutException(a.Position, $"cannot move the location counter backwards (from 0x{_dot:x} to 0x{value:x}) inside {_current.Name}");
            _dot = value;
            return;
        }
        if (a.Kind is AssignmentKind.Provide or AssignmentKind.ProvideHidden
            && (_request.DefinedByApplication(a.Symbol) || !_request.ReferencedByApplication(a.Symbol)))
            return;
        ulong old = _symbols.TryGetValue(a.Symbol, out var existing) ? existing.Value : 0;
        if (a.Operator != AssignmentOperator.Assign && existing is null)
            old = LookUp(a.Symbol, a.Position);
        ulong v = Compound(a, old);
        bool hidden = a.Kind is AssignmentKind.Hidden or AssignmentKind.ProvideHidden;
        _symbols[a.Symbol] = new ScriptSymbol(a.Symbol, v, _current, hidden);
    }

    private ulong Compound(Assignment a, ulong old)
    {
        ulong value = Evaluate(a.Value);
        return a.Operator switch
        {
            AssignmentOperator.Assign => value,
            AssignmentOperator.Add => old + value,
            AssignmentOperator.Subtract => old - value,
            AssignmentOperator.Multiply => old * value,
            AssignmentOperator.Divide => value == 0 ? throw new LayoutException(a.Position, "division by zero") : old / value,
            AssignmentOperator.ShiftLeft => old << (int)value,
            AssignmentOperator.ShiftRight => old >> (int)value,
            AssignmentOperator.And => old & value,
            AssignmentOperator.Or => old | value,
            _ => value,
        };
    }

    private readonly List<LayoutException> _failedAsserts = new();

    /// <summary>Failed ASSERTs are collected, not thrown, so the linker can first explain a full slot in its own words.</summary>
    private void CheckAssert(AssertStatement a)
    {
        if (Evaluate(a.Condition) == 0)
            _failedAsserts.Add(new LayoutException(a.Position, $"ASSERT failed: {a.Message}"));
    }

    private ulong LookUp(string name, ScriptPosition at)
    {
        if (_symbols.TryGetValue(name, out var s))
            return s.Value;
        if (_request.ExternalSymbol(name) is { } v)
            return v;
        throw new LayoutException(at, $"undefined symbol '{name}' in expression (the script may use the kernel's symbols and symbols it defined earlier)");
    }

    private OutputSection SectionNamed(Expr e, string function)
    {
        if (e is SymbolExpr s && _outputsByName.TryGetValue(s.Name, out var os))
            return os;
        if (e is SymbolExpr s2 && _current?.Name == s2.Name)
            return _current;
        throw new LayoutException(e.Position, $"{function}() needs the name of an output section placed earlier");
    }

    private ulong Evaluate(Expr e)
    {
        switch (e)
        {
            case NumberExpr n:
                return n.Value;
            case DotExpr:
                return _dot;
            case SymbolExpr s:
                return LookUp(s.Name, s.Position);
            case UnaryExpr u:
            {
                ulong v = Evaluate(u.Operand);
                return u.Operator switch { "-" => (ulong)-(long)v, "~" => ~v, "!" => v == 0 ? 1UL : 0UL, _ => v };
            }
            case ConditionalExpr c:
                return Evaluate(c.Condition) != 0 ? Evaluate(c.IfTrue) : Evaluate(c.IfFalse);
            case BinaryExpr b:
                return Binary(b);
            case CallExpr c:
                return Call(c);
            default:
                throw new LayoutException(e.Position, "unsupported expression");
        }
    }

    private ulong Binary(BinaryExpr b)
    {
        if (b.Operator == "&&")
            return Evaluate(b.Left) != 0 && Evaluate(b.Right) != 0 ? 1UL : 0UL;
        if (b.Operator == "||")
            return Evaluate(b.Left) != 0 || Evaluate(b.Right) != 0 ? 1UL : 0UL;
        ulong l = Evaluate(b.Left), r = Evaluate(b.Right);
        return b.Operator switch
        {
            "*" => l * r,
            "/" => r == 0 ? throw new LayoutException(b.Position, "division by zero") : l / r,
            "%" => r == 0 ? throw new LayoutException(b.Position, "division by zero") : l % r,
            "+" => l + r,
            "-" => l - r,
            "<<" => l << (int)r,
            ">>" => l >> (int)r,
            "<" => l < r ? 1UL : 0UL,
            "<=" => l <= r ? 1UL : 0UL,
            ">" => l > r ? 1UL : 0UL,
            ">=" => l >= r ? 1UL : 0UL,
            "==" => l == r ? 1UL : 0UL,
            "!=" => l != r ? 1UL : 0UL,
            "&" => l & r,
            "^" => l ^ r,
            "|" => l | r,
            _ => throw new LayoutException(b.Position, $"unsupported operator '{b.Operator}'"),
        };
    }

    private ulong Call(CallExpr c)
    {
        var args = c.Arguments;
        string f = c.Function.ToUpperInvariant();
        switch (f)
        {
            case "ALIGN" when args.Count == 1:
                return AlignUp(_dot, Evaluate(args[0]), c.Position);
            case "ALIGN" when args.Count == 2:
                return AlignUp(Evaluate(args[0]), Evaluate(args[1]), c.Position);
            case "DEFINED":
                return args[0] is SymbolExpr d && (_symbols.ContainsKey(d.Name) || _request.DefinedByApplication(d.Name) || _request.ExternalSymbol(d.Name) is not null) ? 1UL : 0UL;
            case "ADDR":
            case "LOADADDR":
                return SectionNamed(args[0], f).Address;
            case "SIZEOF":
            {
                var os = SectionNamed(args[0], f);
                return ReferenceEquals(os, _current) ? _dot - os.Address : os.Size;
            }
            case "ALIGNOF":
                return SectionNamed(args[0], f).Alignment;
            case "MAX":
                return Math.Max(Evaluate(args[0]), Evaluate(args[1]));
            case "MIN":
                return Math.Min(Evaluate(args[0]), Evaluate(args[1]));
            case "ABSOLUTE":
                return Evaluate(args[0]);
            case "CONSTANT":
                return args[0] is SymbolExpr k && k.Name is "MAXPAGESIZE" or "COMMONPAGESIZE"
                    ? 4096UL
                    : throw new LayoutException(c.Position, "CONSTANT() knows MAXPAGESIZE and COMMONPAGESIZE");
            default:
                throw new LayoutException(c.Position, $"unsupported function {c.Function}() with {args.Count} argument(s)");
        }
    }

    private static ulong AlignUp(ulong value, ulong alignment, ScriptPosition at)
    {
        if (alignment <= 1)
            return value;
        if ((alignment & (alignment - 1)) != 0)
            throw new LayoutException(at, $"alignment 0x{alignment:x} is not a power of two");
        return (value + alignment - 1) & ~(alignment - 1);
    }
}
