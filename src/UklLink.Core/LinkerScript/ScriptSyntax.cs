namespace UklLink.LinkerScript;

// The syntax tree of the GNU ld script subset ukl-link understands (docs/linker-scripts.md).
// The parser (ScriptParser) produces it; layout (UklLink.Layout) evaluates it.

/// <summary>Where a construct starts in the script: file, 1-based line and column.</summary>
public readonly record struct ScriptPosition(string File, int Line, int Column)
{
    public override string ToString() => $"{File}:{Line}:{Column}";
}

/// <summary>A parsed script: top-level commands in source order.</summary>
public sealed record Script(string File, IReadOnlyList<ScriptCommand> Commands);

public abstract record ScriptCommand(ScriptPosition Position);

/// <summary><c>ENTRY(symbol)</c>.</summary>
public sealed record EntryCommand(string Symbol, ScriptPosition Position) : ScriptCommand(Position);

/// <summary><c>SECTIONS { ... }</c>.</summary>
public sealed record SectionsCommand(IReadOnlyList<SectionsItem> Items, ScriptPosition Position) : ScriptCommand(Position);

/// <summary>A symbol assignment at top level.</summary>
public sealed record TopLevelAssignment(Assignment Assignment) : ScriptCommand(Assignment.Position);

/// <summary><c>ASSERT(expr, "message")</c> at top level.</summary>
public sealed record TopLevelAssert(AssertStatement Assert) : ScriptCommand(Assert.Position);

/// <summary>An item inside SECTIONS: an assignment, an output section or an ASSERT.</summary>
public abstract record SectionsItem(ScriptPosition Position);

/// <summary>An item inside an output section's braces.</summary>
public abstract record OutputItem(ScriptPosition Position);

public enum AssignmentKind { Plain, Provide, ProvideHidden, Hidden }

/// <summary>
/// <c>sym = expr;</c>, <c>. = expr;</c>, compound forms (<c>+=</c> etc.), <c>PROVIDE(sym = expr)</c>,
/// <c>PROVIDE_HIDDEN(...)</c>, <c>HIDDEN(...)</c>. <see cref="Symbol"/> is "." for the location counter.
/// </summary>
public sealed record Assignment(string Symbol, AssignmentOperator Operator, Expr Value, AssignmentKind Kind, ScriptPosition Position);

public enum AssignmentOperator { Assign, Add, Subtract, Multiply, Divide, ShiftLeft, ShiftRight, And, Or }

public sealed record AssignmentItem(Assignment Assignment) : SectionsItem(Assignment.Position);

public sealed record AssignmentInSection(Assignment Assignment) : OutputItem(Assignment.Position);

public sealed record AssertStatement(Expr Condition, string Message, ScriptPosition Position);

public sealed record AssertItem(AssertStatement Assert) : SectionsItem(Assert.Position);

/// <summary>
/// <c>NAME [ADDRESS] : [ALIGN(a)] [SUBALIGN(a)] { items } [=FILL]</c>. <c>/DISCARD/</c> is an output section named
/// "/DISCARD/". <see cref="Fill"/> is the fill expression after the closing brace.
/// </summary>
public sealed record OutputSectionStatement(string Name, Expr? Address, Expr? Align, Expr? SubAlign,
    IReadOnlyList<OutputItem> Items, Expr? Fill, ScriptPosition Position) : SectionsItem(Position);

public enum SortKind { None, ByName, ByAlignment, ByInitPriority }

/// <summary>
/// One section-name pattern with its sort: <c>.text.*</c>, <c>SORT(.ctors.*)</c>, <c>SORT_BY_INIT_PRIORITY(.init_array.*)</c>,
/// with <c>EXCLUDE_FILE(a.o b.o)</c> file globs that exempt files from this pattern.
/// </summary>
public sealed record SectionPattern(string Glob, SortKind Sort, IReadOnlyList<string> ExcludeFiles);

/// <summary>
/// <c>[KEEP(] filePattern(sectionPatterns...) [)]</c>; the file glob is matched against the object's file name (the
/// member name for archive members, also the <c>archive:member</c> form), <c>*</c> matches everything.
/// <c>*(COMMON)</c> is an input description whose single pattern is "COMMON".
/// </summary>
public sealed record InputSectionDescription(string FileGlob, IReadOnlyList<string> ExcludeFiles,
    IReadOnlyList<SectionPattern> Sections, bool Keep, ScriptPosition Position) : OutputItem(Position);

/// <summary><c>BYTE(e)</c>, <c>SHORT(e)</c>, <c>LONG(e)</c>, <c>QUAD(e)</c> inside an output section.</summary>
public sealed record DataStatement(int Size, Expr Value, ScriptPosition Position) : OutputItem(Position);

/// <summary><c>ASSERT(...)</c> inside an output section.</summary>
public sealed record AssertInSection(AssertStatement Assert) : OutputItem(Assert.Position);

/// <summary>Expressions, as in GNU ld: 64-bit unsigned arithmetic with C operator precedence.</summary>
public abstract record Expr(ScriptPosition Position);

public sealed record NumberExpr(ulong Value, ScriptPosition Position) : Expr(Position);

/// <summary>A symbol reference (kernel symbols such as the slot bounds, script symbols, application symbols).</summary>
public sealed record SymbolExpr(string Name, ScriptPosition Position) : Expr(Position);

/// <summary>The location counter <c>.</c>.</summary>
public sealed record DotExpr(ScriptPosition Position) : Expr(Position);

/// <summary>Unary operator: "-", "~", "!".</summary>
public sealed record UnaryExpr(string Operator, Expr Operand, ScriptPosition Position) : Expr(Position);

/// <summary>Binary operator: * / % + - &lt;&lt; &gt;&gt; &lt; &lt;= &gt; &gt;= == != &amp; ^ | &amp;&amp; ||.</summary>
public sealed record BinaryExpr(string Operator, Expr Left, Expr Right, ScriptPosition Position) : Expr(Position);

public sealed record ConditionalExpr(Expr Condition, Expr IfTrue, Expr IfFalse, ScriptPosition Position) : Expr(Position);

/// <summary>
/// A built-in function: ALIGN(a), ALIGN(e, a), DEFINED(sym), ADDR(sec), SIZEOF(sec), ALIGNOF(sec), MAX(a,b), MIN(a,b),
/// ABSOLUTE(e), LOADADDR(sec). Arguments that name a symbol or a section are <see cref="SymbolExpr"/>.
/// </summary>
public sealed record CallExpr(string Function, IReadOnlyList<Expr> Arguments, ScriptPosition Position) : Expr(Position);
