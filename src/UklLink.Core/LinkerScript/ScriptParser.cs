namespace UklLink.LinkerScript;

/// <summary>
/// Parses the GNU ld script subset described in docs/linker-scripts.md into a <see cref="Script"/>. Anything outside
/// the subset is a <see cref="ScriptException"/> naming <c>file:line:col</c>, never silently ignored (except the few
/// commands the document lists as accepted and ignored).
/// </summary>
public sealed class ScriptParser
{
    // ld commands ukl-link knows but does not implement: named as unsupported rather than unknown.
    private static readonly HashSet<string> UnsupportedCommands = new(StringComparer.Ordinal)
    {
        "MEMORY", "PHDRS", "INSERT", "OVERLAY", "INCLUDE", "INPUT", "GROUP", "OUTPUT", "SEARCH_DIR", "STARTUP",
        "TARGET", "REGION_ALIAS", "NOCROSSREFS", "NOCROSSREFS_TO", "EXTERN", "FORCE_COMMON_ALLOCATION",
        "INHIBIT_COMMON_ALLOCATION", "FORCE_GROUP_ALLOCATION", "VERSION", "AS_NEEDED", "LD_FEATURE", "SECTIONS_END",
        "NOLOAD", "FILL", "SQUAD", "CREATE_OBJECT_SYMBOLS", "SORT_NONE_ALL", "INPUT_SECTION_FLAGS", "ALIGN_WITH_INPUT",
        "ONLY_IF_RO", "ONLY_IF_RW", "AT", "ASCIZ", "LINKER_VERSION",
    };

    private static readonly Dictionary<string, SortKind> SortKeywords = new(StringComparer.Ordinal)
    {
        ["SORT"] = SortKind.ByName,
        ["SORT_BY_NAME"] = SortKind.ByName,
        ["SORT_BY_ALIGNMENT"] = SortKind.ByAlignment,
        ["SORT_BY_INIT_PRIORITY"] = SortKind.ByInitPriority,
        ["SORT_NONE"] = SortKind.None,
    };

    private static readonly Dictionary<string, int> DataSizes = new(StringComparer.Ordinal)
    {
        ["BYTE"] = 1, ["SHORT"] = 2, ["LONG"] = 4, ["QUAD"] = 8,
    };

    private static readonly Dictionary<string, AssignmentOperator> AssignmentOperators = new(StringComparer.Ordinal)
    {
        ["="] = AssignmentOperator.Assign, ["+="] = AssignmentOperator.Add, ["-="] = AssignmentOperator.Subtract,
        ["*="] = AssignmentOperator.Multiply, ["/="] = AssignmentOperator.Divide, ["<<="] = AssignmentOperator.ShiftLeft,
        [">>="] = AssignmentOperator.ShiftRight, ["&="] = AssignmentOperator.And, ["|="] = AssignmentOperator.Or,
    };

    private static readonly Dictionary<string, AssignmentKind> AssignmentWrappers = new(StringComparer.Ordinal)
    {
        ["PROVIDE"] = AssignmentKind.Provide, ["PROVIDE_HIDDEN"] = AssignmentKind.ProvideHidden, ["HIDDEN"] = AssignmentKind.Hidden,
    };

    // Binary operators by precedence level, loosest first (C precedence; ?: is above these).
    private static readonly string[][] BinaryLevels =
    [
        ["||"], ["&&"], ["|"], ["^"], ["&"], ["==", "!="], ["<", "<=", ">", ">="], ["<<", ">>"], ["+", "-"], ["*", "/", "%"],
    ];

    private enum ArgumentKind { Expression, Symbol, Section, PageSizeName }

    // Built-in functions: name → argument kinds per accepted arity.
    private static readonly Dictionary<string, ArgumentKind[][]> Functions = new(StringComparer.Ordinal)
    {
        ["ALIGN"] = [[ArgumentKind.Expression], [ArgumentKind.Expression, ArgumentKind.Expression]],
        ["DEFINED"] = [[ArgumentKind.Symbol]],
        ["ADDR"] = [[ArgumentKind.Section]],
        ["SIZEOF"] = [[ArgumentKind.Section]],
        ["ALIGNOF"] = [[ArgumentKind.Section]],
        ["LOADADDR"] = [[ArgumentKind.Section]],
        ["MAX"] = [[ArgumentKind.Expression, ArgumentKind.Expression]],
        ["MIN"] = [[ArgumentKind.Expression, ArgumentKind.Expression]],
        ["ABSOLUTE"] = [[ArgumentKind.Expression]],
        ["CONSTANT"] = [[ArgumentKind.PageSizeName]],
    };

    private static readonly HashSet<string> UnsupportedFunctions = new(StringComparer.Ordinal)
    {
        "NEXT", "BLOCK", "DATA_SEGMENT_ALIGN", "DATA_SEGMENT_END", "DATA_SEGMENT_RELRO_END", "ORIGIN", "LENGTH",
        "SEGMENT_START", "LOG2CEIL", "SIZEOF_HEADERS", "ASSERT",
    };

    private readonly ScriptLexer _lexer;

    private ScriptParser(string text, string fileName) => _lexer = new ScriptLexer(text, fileName);

    /// <summary>Parses a whole script. Throws <see cref="ScriptException"/> on the first error.</summary>
    public static Script Parse(string text, string fileName)
    {
        var parser = new ScriptParser(text, fileName);
        return new Script(fileName, parser.ParseCommands());
    }

    /// <summary>Parses one expression (for tests and for command-line expressions such as <c>--defsym</c>).</summary>
    public static Expr ParseExpression(string text, string fileName)
    {
        var parser = new ScriptParser(text, fileName);
        var expr = parser.Expression();
        parser.ExpectEnd();
        return expr;
    }

    private List<ScriptCommand> ParseCommands()
    {
        var commands = new List<ScriptCommand>();
        while (true)
        {
            var t = Peek();
            if (t.Kind == TokenKind.End)
                return commands;
            if (t.Is(";"))
            {
                Next();
                continue;
            }
            if (t.Kind != TokenKind.Name)
                throw Error(t, $"expected a linker script command, found {Describe(t)}");

            switch (t.Text)
            {
                case "ENTRY":
                    Next();
                    Expect("(");
                    var symbol = ExpectSymbolName("ENTRY");
                    Expect(")");
                    commands.Add(new EntryCommand(symbol, Pos(t)));
                    break;
                case "SECTIONS":
                    commands.Add(ParseSections());
                    break;
                case "ASSERT":
                    commands.Add(new TopLevelAssert(ParseAssert()));
                    break;
                case "OUTPUT_FORMAT":
                    ParseOutputFormat();
                    break;
                case "OUTPUT_ARCH":
                    ParseOutputArch();
                    break;
                default:
                    if (TryParseAssignment() is { } assignment)
                    {
                        if (assignment.Symbol == ".")
                            throw Error(t, "assignment to the location counter '.' outside SECTIONS");
                        commands.Add(new TopLevelAssignment(assignment));
                        break;
                    }
                    if (UnsupportedCommands.Contains(t.Text))
                        throw Error(t, $"unsupported linker script command '{t.Text}'");
                    throw Error(t, $"unknown linker script command '{t.Text}'");
            }
        }
    }

    // OUTPUT_FORMAT(bfdname) or OUTPUT_FORMAT(default, big, little): accepted when every name is elf64-x86-64.
    private void ParseOutputFormat()
    {
        Next();
        Expect("(");
        do
        {
            var name = Next(LexMode.Wildcard);
            if (name.Kind is not (TokenKind.Name or TokenKind.String))
                throw Error(name, $"expected an output format name, found {Describe(name)}");
            if (name.Text != "elf64-x86-64")
                throw Error(name, $"unsupported output format '{name.Text}' (ukl-link writes elf64-x86-64)");
        }
        while (Accept(",", LexMode.Wildcard));
        Expect(")", LexMode.Wildcard);
    }

    private void ParseOutputArch()
    {
        Next();
        Expect("(");
        var name = Next(LexMode.Wildcard);
        if (name.Kind is not (TokenKind.Name or TokenKind.String))
            throw Error(name, $"expected an architecture name, found {Describe(name)}");
        if (name.Text is not ("i386:x86-64" or "x86-64"))
            throw Error(name, $"unsupported output architecture '{name.Text}' (ukl-link links i386:x86-64)");
        Expect(")", LexMode.Wildcard);
    }

    private SectionsCommand ParseSections()
    {
        var keyword = Next();
        var open = Expect("{");
        var items = new List<SectionsItem>();
        while (true)
        {
            var t = Peek();
            if (t.Is("}"))
            {
                Next();
                return new SectionsCommand(items, Pos(keyword));
            }
            if (t.Is(";"))
            {
                Next();
                continue;
            }
            if (t.Kind == TokenKind.End)
                throw Error(t, $"expected '}}' to close SECTIONS (opened at {Pos(open)}), found end of file");
            items.Add(ParseSectionsItem(t));
        }
    }

    private SectionsItem ParseSectionsItem(Token t)
    {
        if (t.Kind == TokenKind.Name)
        {
            if (t.Text == "ASSERT")
                return new AssertItem(ParseAssert());
            if (t.Text == "ENTRY")
                throw Error(t, "ENTRY inside SECTIONS is not supported; put it at top level");
            if (TryParseAssignment() is { } assignment)
                return new AssignmentItem(assignment);
            if (UnsupportedCommands.Contains(t.Text))
                throw Error(t, $"unsupported linker script command '{t.Text}'");
        }
        return ParseOutputSection();
    }

    // NAME [address] : [ALIGN(e)] [SUBALIGN(e)] { items } [=fill] [,]
    private OutputSectionStatement ParseOutputSection()
    {
        var nameToken = Next(LexMode.SectionName);
        if (nameToken.Kind != TokenKind.Name)
            throw Error(nameToken, $"expected an output section name, an assignment or '}}', found {Describe(nameToken)}");
        string name = nameToken.Text;

        Expr? address = null;
        if (!Peek().Is(":"))
        {
            if (Peek().Is("{"))
                throw Error(Peek(), $"expected ':' after output section name '{name}', found '{{'");
            if (TryPeekOutputSectionType() is { } type)
                throw Error(type, $"output section type '({type.Text})' is not supported");
            address = Expression();
            if (!Peek().Is(":"))
                throw Error(Peek(), $"expected ':' after output section '{name}', found {Describe(Peek())}");
        }
        Next(); // ':'

        Expr? align = null, subAlign = null;
        while (true)
        {
            var t = Peek();
            if (t.IsName("ALIGN") && align is null)
            {
                Next();
                align = ParenthesizedExpression();
            }
            else if (t.IsName("SUBALIGN") && subAlign is null)
            {
                Next();
                subAlign = ParenthesizedExpression();
            }
            else if (t.Kind == TokenKind.Name && t.Text is "AT" or "ALIGN_WITH_INPUT" or "ONLY_IF_RO" or "ONLY_IF_RW" or "SORT_NONE")
            {
                throw Error(t, $"output section attribute '{t.Text}' is not supported");
            }
            else
            {
                break;
            }
        }

        var open = Expect("{");
        var items = new List<OutputItem>();
        while (true)
        {
            var t = Peek();
            if (t.Is("}"))
                break;
            if (t.Is(";"))
            {
                Next();
                continue;
            }
            if (t.Kind == TokenKind.End)
                throw Error(t, $"expected '}}' to close output section '{name}' (opened at {Pos(open)}), found end of file");
            if (ParseOutputItem(t) is { } item)
                items.Add(item);
        }
        Next(); // '}'

        var after = Peek();
        if (after.Is(">") || (after.IsName("AT") && PeekSecond().Is(">")))
            throw Error(after, "memory regions ('>region', 'AT>region') are not supported");
        if (after.Is(":"))
            throw Error(after, "program headers (':phdr') are not supported");
        Expr? fill = null;
        if (Accept("="))
            fill = Expression();
        Accept(",");
        return new OutputSectionStatement(name, address, align, subAlign, items, fill, Pos(nameToken));
    }

    // '(' NAME ')' right after an output section name is a type such as (NOLOAD), not an address expression.
    private Token? TryPeekOutputSectionType()
    {
        int saved = _lexer.Offset;
        try
        {
            if (!Next().Is("("))
                return null;
            var name = Next();
            return name.Kind == TokenKind.Name && name.Text is "NOLOAD" or "DSECT" or "COPY" or "INFO" or "OVERLAY" or "READONLY" or "TYPE"
                ? name
                : null;
        }
        finally
        {
            _lexer.Offset = saved;
        }
    }

    private OutputItem? ParseOutputItem(Token t)
    {
        if (t.Kind == TokenKind.Name)
        {
            if (t.Text == "ASSERT")
                return new AssertInSection(ParseAssert());
            if (DataSizes.TryGetValue(t.Text, out int size) && PeekSecond().Is("("))
            {
                Next();
                var value = ParenthesizedExpression();
                return new DataStatement(size, value, Pos(t));
            }
            if (t.Text == "CONSTRUCTORS")
            {
                Next(); // ld ignores it for ELF output; so does ukl-link
                return null;
            }
            if (TryParseAssignment() is { } assignment)
                return new AssignmentInSection(assignment);
            if (t.Text is "ENTRY" or "INCLUDE" or "FILL" or "SQUAD" or "CREATE_OBJECT_SYMBOLS" or "INPUT_SECTION_FLAGS" or "ASCIZ"
                || (UnsupportedCommands.Contains(t.Text) && PeekSecond().Is("(")))
                throw Error(t, $"'{t.Text}' inside an output section is not supported");
        }
        return ParseInputSectionDescription();
    }

    // [KEEP(] [EXCLUDE_FILE(globs)] fileGlob ( patterns ) [)]
    private InputSectionDescription ParseInputSectionDescription()
    {
        var first = Peek(LexMode.Wildcard);
        bool keep = first.IsName("KEEP");
        if (keep)
        {
            Next(LexMode.Wildcard);
            Expect("(", LexMode.Wildcard);
        }

        var excludes = TryParseExcludeFile() ?? [];
        var file = Next(LexMode.Wildcard);
        if (file.Kind != TokenKind.Name)
            throw Error(file, $"expected a file pattern such as '*', found {Describe(file)}");
        if (SortKeywords.ContainsKey(file.Text) && Peek(LexMode.Wildcard).Is("("))
            throw Error(file, $"sorting input files ('{file.Text}(...)' as the file pattern) is not supported");
        if (file.Text is "KEEP" or "EXCLUDE_FILE")
            throw Error(file, $"'{file.Text}' is not allowed here");
        if (!Peek(LexMode.Wildcard).Is("("))
            throw Error(Peek(LexMode.Wildcard), $"expected '(' and section patterns after file pattern '{file.Text}', found {Describe(Peek(LexMode.Wildcard))}");
        Next(LexMode.Wildcard);

        var patterns = new List<SectionPattern>();
        while (true)
        {
            var t = Peek(LexMode.Wildcard);
            if (t.Is(")"))
                break;
            if (t.Is(",") && patterns.Count > 0)
            {
                Next(LexMode.Wildcard);
                continue;
            }
            patterns.Add(ParseSectionPattern());
        }
        var close = Next(LexMode.Wildcard);
        if (patterns.Count == 0)
            throw Error(close, $"no section patterns for file pattern '{file.Text}'");
        if (keep)
            Expect(")", LexMode.Wildcard);
        return new InputSectionDescription(file.Text, excludes, patterns, keep, Pos(first));
    }

    private SectionPattern ParseSectionPattern()
    {
        var excludes = TryParseExcludeFile() ?? [];
        var t = Next(LexMode.Wildcard);
        if (t.Kind != TokenKind.Name)
            throw Error(t, $"expected a section pattern, found {Describe(t)}");
        if (SortKeywords.TryGetValue(t.Text, out var sort) && Peek(LexMode.Wildcard).Is("("))
        {
            Next(LexMode.Wildcard);
            var inner = TryParseExcludeFile();
            if (inner is not null)
                excludes = [.. excludes, .. inner];
            var glob = Next(LexMode.Wildcard);
            if (glob.Kind != TokenKind.Name)
                throw Error(glob, $"expected a section pattern inside {t.Text}(...), found {Describe(glob)}");
            if (SortKeywords.ContainsKey(glob.Text) && Peek(LexMode.Wildcard).Is("("))
                throw Error(glob, $"nested sorting ('{t.Text}({glob.Text}(...))') is not supported");
            CheckGlob(glob);
            var close = Next(LexMode.Wildcard);
            if (!close.Is(")"))
                throw Error(close, $"expected ')' to close {t.Text}( (one pattern per {t.Text}), found {Describe(close)}");
            return new SectionPattern(glob.Text, sort, excludes);
        }
        CheckGlob(t);
        return new SectionPattern(t.Text, SortKind.None, excludes);
    }

    private void CheckGlob(Token t)
    {
        if (t.Text is "KEEP" or "EXCLUDE_FILE" or "INPUT_SECTION_FLAGS" && Peek(LexMode.Wildcard).Is("("))
            throw Error(t, $"'{t.Text}' is not allowed here");
        int depth = 0;
        foreach (char c in t.Text)
        {
            if (c == '[') depth++;
            else if (c == ']') depth--;
            if (depth is < 0 or > 1)
                break;
        }
        if (depth != 0)
            throw Error(t, $"unbalanced '[' ']' in pattern '{t.Text}'");
    }

    private List<string>? TryParseExcludeFile()
    {
        var t = Peek(LexMode.Wildcard);
        if (!t.IsName("EXCLUDE_FILE"))
            return null;
        Next(LexMode.Wildcard);
        Expect("(", LexMode.Wildcard);
        var files = new List<string>();
        while (true)
        {
            var f = Next(LexMode.Wildcard);
            if (f.Is(")"))
                break;
            if (f.Is(",") && files.Count > 0)
                continue;
            if (f.Kind != TokenKind.Name)
                throw Error(f, $"expected a file pattern inside EXCLUDE_FILE(...), found {Describe(f)}");
            files.Add(f.Text);
        }
        if (files.Count == 0)
            throw Error(t, "EXCLUDE_FILE() needs at least one file pattern");
        return files;
    }

    // sym op expr ;  |  PROVIDE(sym = expr) [;]  |  PROVIDE_HIDDEN(...)  |  HIDDEN(...)
    // Returns null (consuming nothing) when the next tokens are not an assignment.
    private Assignment? TryParseAssignment()
    {
        var t = Peek();
        if (t.Kind != TokenKind.Name)
            return null;
        if (AssignmentWrappers.TryGetValue(t.Text, out var kind) && PeekSecond().Is("("))
        {
            Next();
            Next(); // '('
            var symbol = Next();
            if (symbol.Kind != TokenKind.Name || symbol.Text == ".")
                throw Error(symbol, $"expected a symbol name inside {t.Text}(...), found {Describe(symbol)}");
            var op = Next();
            if (!op.Is("="))
                throw Error(op, $"expected '=' inside {t.Text}(...), found {Describe(op)}");
            var value = Expression();
            Expect(")");
            Accept(";");
            return new Assignment(symbol.Text, AssignmentOperator.Assign, value, kind, Pos(t));
        }

        var second = PeekSecond();
        if (second.Kind != TokenKind.Punct || !AssignmentOperators.TryGetValue(second.Text, out var oper))
            return null;
        if (Functions.ContainsKey(t.Text) || UnsupportedFunctions.Contains(t.Text))
            throw Error(t, $"cannot assign to '{t.Text}', a built-in function name");
        Next();
        Next();
        var rhs = Expression();
        var end = Next();
        if (!end.Is(";"))
            throw Error(end, $"expected ';' after the assignment to '{t.Text}', found {Describe(end)}");
        return new Assignment(t.Text, oper, rhs, AssignmentKind.Plain, Pos(t));
    }

    // ASSERT(expr, "message") [;]
    private AssertStatement ParseAssert()
    {
        var keyword = Next();
        Expect("(");
        var condition = Expression();
        Expect(",");
        var message = Next();
        if (message.Kind != TokenKind.String)
            throw Error(message, $"expected a quoted message as ASSERT's second argument, found {Describe(message)}");
        Expect(")");
        Accept(";");
        return new AssertStatement(condition, message.Text, Pos(keyword));
    }

    // ---- expressions ----

    private Expr Expression()
    {
        var condition = Binary(0);
        var q = Peek();
        if (!q.Is("?"))
            return condition;
        Next();
        var ifTrue = Expression();
        Expect(":");
        var ifFalse = Expression();
        return new ConditionalExpr(condition, ifTrue, ifFalse, condition.Position);
    }

    private Expr Binary(int level)
    {
        if (level == BinaryLevels.Length)
            return Unary();
        var left = Binary(level + 1);
        while (true)
        {
            var t = Peek();
            if (t.Kind != TokenKind.Punct || Array.IndexOf(BinaryLevels[level], t.Text) < 0)
                return left;
            Next();
            var right = Binary(level + 1);
            left = new BinaryExpr(t.Text, left, right, Pos(t));
        }
    }

    private Expr Unary()
    {
        var t = Peek();
        if (t.Kind == TokenKind.Punct && t.Text is "-" or "~" or "!" or "+")
        {
            Next();
            var operand = Unary();
            return t.Text == "+" ? operand : new UnaryExpr(t.Text, operand, Pos(t));
        }
        return Primary();
    }

    private Expr Primary()
    {
        var t = Next();
        switch (t.Kind)
        {
            case TokenKind.Number:
                return new NumberExpr(t.Number, Pos(t));
            case TokenKind.Punct when t.Text == "(":
                var inner = Expression();
                Expect(")");
                return inner;
            case TokenKind.Name when t.Text == ".":
                return new DotExpr(Pos(t));
            case TokenKind.Name:
                if (Functions.TryGetValue(t.Text, out var signatures))
                    return Call(t, signatures);
                if (UnsupportedFunctions.Contains(t.Text))
                    throw Error(t, $"unsupported function '{t.Text}'");
                if (Peek().Is("("))
                    throw Error(t, $"unknown function '{t.Text}'");
                return new SymbolExpr(t.Text, Pos(t));
            default:
                throw Error(t, $"expected an expression, found {Describe(t)}");
        }
    }

    private CallExpr Call(Token name, ArgumentKind[][] signatures)
    {
        var open = Peek();
        if (!open.Is("("))
            throw Error(open, $"expected '(' after {name.Text}, found {Describe(open)}");
        Next();
        var args = new List<Expr>();
        int maxArity = signatures.Max(s => s.Length);
        while (true)
        {
            // The argument's kind is only known per position; all signatures agree on the kinds they share.
            var kind = signatures.First(s => s.Length > args.Count)[args.Count];
            args.Add(Argument(name.Text, kind));
            var t = Next();
            if (t.Is(")"))
                break;
            if (!t.Is(",") || args.Count == maxArity)
                throw Error(t, $"expected {(args.Count == maxArity ? "')'" : "',' or ')'")} in {name.Text}(...), found {Describe(t)}");
        }
        if (!signatures.Any(s => s.Length == args.Count))
            throw Error(name, $"{name.Text} takes {string.Join(" or ", signatures.Select(s => s.Length))} argument(s), not {args.Count}");
        return new CallExpr(name.Text, args, Pos(name));
    }

    private Expr Argument(string function, ArgumentKind kind)
    {
        switch (kind)
        {
            case ArgumentKind.Expression:
                return Expression();
            case ArgumentKind.Symbol:
                {
                    var t = Next();
                    if (t.Kind != TokenKind.Name || t.Text == ".")
                        throw Error(t, $"expected a symbol name in {function}(...), found {Describe(t)}");
                    return new SymbolExpr(t.Text, Pos(t));
                }
            case ArgumentKind.Section:
                {
                    var t = Next(LexMode.SectionName);
                    if (t.Kind != TokenKind.Name)
                        throw Error(t, $"expected an output section name in {function}(...), found {Describe(t)}");
                    return new SymbolExpr(t.Text, Pos(t));
                }
            default:
                {
                    var t = Next();
                    if (!t.IsName("MAXPAGESIZE") && !t.IsName("COMMONPAGESIZE"))
                        throw Error(t, $"expected MAXPAGESIZE or COMMONPAGESIZE in CONSTANT(...), found {Describe(t)}");
                    return new SymbolExpr(t.Text, Pos(t));
                }
        }
    }

    private Expr ParenthesizedExpression()
    {
        Expect("(");
        var e = Expression();
        Expect(")");
        return e;
    }

    // ---- token helpers ----

    private Token Peek(LexMode mode = LexMode.Expression) => _lexer.Peek(mode);

    private Token Next(LexMode mode = LexMode.Expression) => _lexer.Next(mode);

    private Token PeekSecond()
    {
        int saved = _lexer.Offset;
        _lexer.Next(LexMode.Expression);
        var second = _lexer.Peek(LexMode.Expression);
        _lexer.Offset = saved;
        return second;
    }

    private bool Accept(string punct, LexMode mode = LexMode.Expression)
    {
        if (!Peek(mode).Is(punct))
            return false;
        Next(mode);
        return true;
    }

    private Token Expect(string punct, LexMode mode = LexMode.Expression)
    {
        var t = Next(mode);
        if (!t.Is(punct))
            throw Error(t, $"expected '{punct}', found {Describe(t)}");
        return t;
    }

    private string ExpectSymbolName(string context)
    {
        var t = Next();
        if (t.Kind != TokenKind.Name || t.Text == ".")
            throw Error(t, $"expected a symbol name in {context}(...), found {Describe(t)}");
        return t.Text;
    }

    private void ExpectEnd()
    {
        var t = Next();
        if (t.Kind != TokenKind.End)
            throw Error(t, $"unexpected {Describe(t)} after the expression");
    }

    private ScriptPosition Pos(Token t) => _lexer.PositionOf(t.Offset);

    private ScriptException Error(Token t, string problem) => _lexer.Error(t.Offset, problem);

    private static string Describe(Token t) => t.Kind switch
    {
        TokenKind.End => "end of file",
        TokenKind.String => $"string \"{t.Text}\"",
        _ => $"'{t.Text}'",
    };
}
