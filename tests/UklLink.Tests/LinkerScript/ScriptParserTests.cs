using UklLink.Inputs;
using UklLink.LinkerScript;
using UklLink.Tests.Support;
using Xunit;

namespace UklLink.Tests.LinkerScript;

/// <summary>The GNU ld script subset (docs/linker-scripts.md): every construct, precedence and the error messages.</summary>
public class ScriptParserTests
{
    private static Script Parse(string text) => ScriptParser.Parse(text, "t.ld");

    private static OutputSectionStatement Section(string body) =>
        Assert.IsType<OutputSectionStatement>(Assert.Single(Assert.IsType<SectionsCommand>(Assert.Single(Parse($"SECTIONS {{ {body} }}").Commands)).Items));

    private static InputSectionDescription Input(string item) =>
        Assert.IsType<InputSectionDescription>(Assert.Single(Section($".x : {{ {item} }}").Items));

    private static Expr E(string text) => ScriptParser.ParseExpression(text, "e");

    // A compact rendering of an expression tree, fully parenthesised, to check precedence.
    private static string Show(Expr e) => e switch
    {
        NumberExpr n => n.Value.ToString(),
        SymbolExpr s => s.Name,
        DotExpr => ".",
        UnaryExpr u => $"({u.Operator}{Show(u.Operand)})",
        BinaryExpr b => $"({Show(b.Left)} {b.Operator} {Show(b.Right)})",
        ConditionalExpr c => $"({Show(c.Condition)} ? {Show(c.IfTrue)} : {Show(c.IfFalse)})",
        CallExpr c => $"{c.Function}({string.Join(", ", c.Arguments.Select(Show))})",
        _ => throw new ArgumentException(e.GetType().Name),
    };

    private static ScriptException Fails(string text) => Assert.Throws<ScriptException>(() => Parse(text));

    [Fact]
    public void EntryAndCommentsAndPositions()
    {
        var script = Parse("/* a\n comment */\n  ENTRY(_start) /* trailing */ ;\n");
        var entry = Assert.IsType<EntryCommand>(Assert.Single(script.Commands));
        Assert.Equal("_start", entry.Symbol);
        Assert.Equal(new ScriptPosition("t.ld", 3, 3), entry.Position);
        Assert.Equal("t.ld:3:3", entry.Position.ToString());
    }

    [Fact]
    public void OutputSectionWithAddressAlignSubalignAndFill()
    {
        var s = Section(".text 0x1000 + 16 : ALIGN(64) SUBALIGN(16) { *(.text) } =0xcccccccc");
        Assert.Equal(".text", s.Name);
        Assert.Equal("(4096 + 16)", Show(s.Address!));
        Assert.Equal("64", Show(s.Align!));
        Assert.Equal("16", Show(s.SubAlign!));
        Assert.Equal(0xccccccccUL, Assert.IsType<NumberExpr>(s.Fill).Value);

        var plain = Section(".data: { }");
        Assert.Null(plain.Address);
        Assert.Null(plain.Align);
        Assert.Null(plain.Fill);
        Assert.Empty(plain.Items);

        Assert.Equal("ALIGN(4096)", Show(Section(".bss ALIGN(0x1000) : { }").Address!));
    }

    [Fact]
    public void DiscardAndDottedNames()
    {
        var command = Assert.IsType<SectionsCommand>(Assert.Single(Parse(
            "SECTIONS { .got.plt : { *(.got.plt) } .data..percpu : { } /DISCARD/ : { *(.comment) *(.note.GNU-stack) } }").Commands));
        Assert.Equal([".got.plt", ".data..percpu", "/DISCARD/"], command.Items.Cast<OutputSectionStatement>().Select(s => s.Name));
    }

    [Fact]
    public void InputSectionPatterns()
    {
        var all = Input("*(.text .text.* .stub)");
        Assert.Equal("*", all.FileGlob);
        Assert.False(all.Keep);
        Assert.Empty(all.ExcludeFiles);
        Assert.Equal([".text", ".text.*", ".stub"], all.Sections.Select(p => p.Glob));
        Assert.All(all.Sections, p => Assert.Equal(SortKind.None, p.Sort));

        var file = Input("file.o(.data)");
        Assert.Equal("file.o", file.FileGlob);
        Assert.Equal(".data", Assert.Single(file.Sections).Glob);

        Assert.Equal("libc.a:printf.o", Input("libc.a:printf.o(.text)").FileGlob);
        Assert.Equal("*crt[1in].o", Input("*crt[1in].o(.text, .rodata)").FileGlob);
        Assert.Equal("COMMON", Assert.Single(Input("*(COMMON)").Sections).Glob);
        Assert.Equal(".text.[a-z]?*", Assert.Single(Input("*(.text.[a-z]?*)").Sections).Glob);
        // "/*" inside a glob is part of it; between tokens it starts a comment.
        Assert.Equal("lib/*.o", Input("lib/*.o(.text) /* comment */").FileGlob);
        Assert.Equal(".data", Section(".data/* c */: { }").Name);
    }

    [Fact]
    public void ExcludeFileInsideTheListAppliesToTheNextPatternOnly()
    {
        var d = Input("*(EXCLUDE_FILE(a.o *b.o) .text .text.*)");
        Assert.Empty(d.ExcludeFiles);
        Assert.Equal(["a.o", "*b.o"], d.Sections[0].ExcludeFiles);
        Assert.Empty(d.Sections[1].ExcludeFiles);
    }

    [Fact]
    public void ExcludeFileBeforeTheFilePatternAppliesToAll()
    {
        var d = Input("EXCLUDE_FILE(*crtend.o) *(.x .y)");
        Assert.Equal(["*crtend.o"], d.ExcludeFiles);
        Assert.All(d.Sections, p => Assert.Empty(p.ExcludeFiles));
    }

    [Fact]
    public void KeepAndSorts()
    {
        var d = Input("KEEP(*(SORT_BY_INIT_PRIORITY(.init_array.*) SORT_BY_INIT_PRIORITY(.ctors.*) .init_array))");
        Assert.True(d.Keep);
        Assert.Equal([SortKind.ByInitPriority, SortKind.ByInitPriority, SortKind.None], d.Sections.Select(p => p.Sort));
        Assert.Equal([".init_array.*", ".ctors.*", ".init_array"], d.Sections.Select(p => p.Glob));

        Assert.Equal(SortKind.ByName, Assert.Single(Input("*(SORT(.ctors.*))").Sections).Sort);
        Assert.Equal(SortKind.ByName, Assert.Single(Input("*(SORT_BY_NAME(.x*))").Sections).Sort);
        Assert.Equal(SortKind.ByAlignment, Assert.Single(Input("*(SORT_BY_ALIGNMENT(.x*))").Sections).Sort);
        Assert.Equal(SortKind.None, Assert.Single(Input("*(SORT_NONE(.init))").Sections).Sort);
        var excluded = Assert.Single(Input("*(EXCLUDE_FILE(a.o) SORT(.x*))").Sections);
        Assert.Equal(["a.o"], excluded.ExcludeFiles);
    }

    [Fact]
    public void Assignments()
    {
        var items = Section(".x : { . = ALIGN(8); sym = . + 4; a += 1; b -= 2; c *= 3; d /= 4; e <<= 5; f >>= 6; g &= 7; h |= 8; "
            + "PROVIDE(p = .); PROVIDE_HIDDEN(ph = 1) HIDDEN(hi = 2); }").Items
            .Cast<AssignmentInSection>().Select(a => a.Assignment).ToList();
        Assert.Equal([".", "sym", "a", "b", "c", "d", "e", "f", "g", "h", "p", "ph", "hi"], items.Select(a => a.Symbol));
        Assert.Equal(
            [AssignmentOperator.Assign, AssignmentOperator.Assign, AssignmentOperator.Add, AssignmentOperator.Subtract,
             AssignmentOperator.Multiply, AssignmentOperator.Divide, AssignmentOperator.ShiftLeft, AssignmentOperator.ShiftRight,
             AssignmentOperator.And, AssignmentOperator.Or, AssignmentOperator.Assign, AssignmentOperator.Assign, AssignmentOperator.Assign],
            items.Select(a => a.Operator));
        Assert.Equal(
            [AssignmentKind.Provide, AssignmentKind.ProvideHidden, AssignmentKind.Hidden],
            items.Skip(10).Select(a => a.Kind));
        Assert.All(items.Take(10), a => Assert.Equal(AssignmentKind.Plain, a.Kind));
        Assert.Equal("(. + 4)", Show(items[1].Value));

        // Compound operators need no spaces; the lexer splits "a-=1" as a, -=, 1.
        var top = Parse("x-=1; SECTIONS { .=0x100; y=.; }").Commands;
        Assert.Equal(AssignmentOperator.Subtract, Assert.IsType<TopLevelAssignment>(top[0]).Assignment.Operator);
        var sections = Assert.IsType<SectionsCommand>(top[1]);
        Assert.Equal([".", "y"], sections.Items.Cast<AssignmentItem>().Select(a => a.Assignment.Symbol));
    }

    [Fact]
    public void AssertsAndDataStatements()
    {
        var script = Parse("ASSERT(1, \"top\") SECTIONS { ASSERT(. < 0x10, \"too big\"); .x : { BYTE(1) SHORT(2) LONG(3) QUAD(-1) ASSERT(1, \"in\") } }");
        Assert.Equal("top", Assert.IsType<TopLevelAssert>(script.Commands[0]).Assert.Message);
        var sections = Assert.IsType<SectionsCommand>(script.Commands[1]);
        var assert = Assert.IsType<AssertItem>(sections.Items[0]).Assert;
        Assert.Equal("too big", assert.Message);
        Assert.Equal("(. < 16)", Show(assert.Condition));
        var items = Assert.IsType<OutputSectionStatement>(sections.Items[1]).Items;
        Assert.Equal([1, 2, 4, 8], items.OfType<DataStatement>().Select(d => d.Size));
        Assert.Equal("(-1)", Show(items.OfType<DataStatement>().Last().Value));
        Assert.Equal("in", Assert.IsType<AssertInSection>(items[4]).Assert.Message);
    }

    [Theory]
    [InlineData("1 + 2 * 3", "(1 + (2 * 3))")]
    [InlineData("1 - 2 - 3", "((1 - 2) - 3)")]
    [InlineData("a << 2 + 1", "(a << (2 + 1))")]
    [InlineData("a < b == c > d", "((a < b) == (c > d))")]
    [InlineData("a & b ^ c | d", "(((a & b) ^ c) | d)")]
    [InlineData("a || b && c", "(a || (b && c))")]
    [InlineData("a ? b : c ? d : e", "(a ? b : (c ? d : e))")]
    [InlineData("a || b ? c + 1 : d", "((a || b) ? (c + 1) : d)")]
    [InlineData("-a * ~b + !c", "(((-a) * (~b)) + (!c))")]
    [InlineData("(1 + 2) * 3 % 4 / 5", "((((1 + 2) * 3) % 4) / 5)")]
    [InlineData("a != b >= c <= d", "(a != ((b >= c) <= d))")]
    [InlineData("+4 >> 1", "(4 >> 1)")]
    public void ExpressionPrecedenceIsC(string text, string expected) => Assert.Equal(expected, Show(E(text)));

    [Theory]
    [InlineData("0x1F", 0x1fUL)]
    [InlineData("0X10", 16UL)]
    [InlineData("42", 42UL)]
    [InlineData("0", 0UL)]
    [InlineData("010", 8UL)]
    [InlineData("4K", 4096UL)]
    [InlineData("2M", 2UL * 1024 * 1024)]
    [InlineData("0x10K", 0x4000UL)]
    [InlineData("1fh", 0x1fUL)]
    [InlineData("17o", 15UL)]
    [InlineData("101b", 5UL)]
    [InlineData("099d", 99UL)]
    [InlineData("0xffffffffffffffff", ulong.MaxValue)]
    public void NumbersInLdSyntax(string text, ulong value) => Assert.Equal(value, Assert.IsType<NumberExpr>(E(text)).Value);

    [Fact]
    public void BuiltInFunctions()
    {
        Assert.Equal("ALIGN(8)", Show(E("ALIGN(8)")));
        Assert.Equal("ALIGN((. + 1), 16)", Show(E("ALIGN(. + 1, 16)")));
        Assert.Equal("(DEFINED(foo) ? foo : 0)", Show(E("DEFINED(foo) ? foo : 0")));
        Assert.Equal("(ADDR(.got.plt) + SIZEOF(.text))", Show(E("ADDR(.got.plt) + SIZEOF(.text)")));
        Assert.Equal("ALIGNOF(.tdata)", Show(E("ALIGNOF(.tdata)")));
        Assert.Equal("LOADADDR(.data)", Show(E("LOADADDR(.data)")));
        Assert.Equal("MAX(1, MIN(2, 3))", Show(E("MAX(1, MIN(2, 3))")));
        Assert.Equal("ABSOLUTE(.)", Show(E("ABSOLUTE(.)")));
        var constant = Assert.IsType<CallExpr>(E("CONSTANT(MAXPAGESIZE)"));
        Assert.Equal("CONSTANT", constant.Function);
        Assert.Equal("MAXPAGESIZE", Assert.IsType<SymbolExpr>(Assert.Single(constant.Arguments)).Name);
        Assert.Equal("COMMONPAGESIZE", Assert.IsType<SymbolExpr>(Assert.Single(Assert.IsType<CallExpr>(E("CONSTANT(COMMONPAGESIZE)")).Arguments)).Name);
        Assert.IsType<DotExpr>(E("."));
        Assert.Equal("__ukl_text_slot_start", Assert.IsType<SymbolExpr>(E("__ukl_text_slot_start")).Name);
    }

    [Fact]
    public void OutputFormatAndArchAreAcceptedAndIgnored()
    {
        var script = Parse("OUTPUT_FORMAT(\"elf64-x86-64\", \"elf64-x86-64\", \"elf64-x86-64\") OUTPUT_ARCH(i386:x86-64) ENTRY(main)");
        Assert.IsType<EntryCommand>(Assert.Single(script.Commands));
        Assert.Equal("t.ld:1:15: unsupported output format 'elf32-i386' (ukl-link writes elf64-x86-64)",
            Fails("OUTPUT_FORMAT(elf32-i386)").Message);
    }

    [Fact]
    public void ConstructorsIsIgnoredLikeLdDoesForElf()
    {
        Assert.Empty(Section(".data : { CONSTRUCTORS }").Items);
    }

    [Theory]
    [InlineData("/* never closed\nENTRY(x)", "t.ld:1:1: unterminated comment")]
    [InlineData("SECTIONS {\n  .text : { *(.text) }\n", "t.ld:3:1: expected '}' to close SECTIONS (opened at t.ld:1:10), found end of file")]
    [InlineData("SECTIONS { .text : { *(.text) ", "t.ld:1:31: expected '}' to close output section '.text' (opened at t.ld:1:20), found end of file")]
    [InlineData("SECTIONS { .text : *(.text) }", "t.ld:1:20: expected '{', found '*'")]
    [InlineData("SECTIONS { .text { } }", "t.ld:1:18: expected ':' after output section name '.text', found '{'")]
    [InlineData("\n  FROB(1)", "t.ld:2:3: unknown linker script command 'FROB'")]
    [InlineData("MEMORY { ram : ORIGIN = 0, LENGTH = 4K }", "t.ld:1:1: unsupported linker script command 'MEMORY'")]
    [InlineData("PHDRS { text PT_LOAD; }", "t.ld:1:1: unsupported linker script command 'PHDRS'")]
    [InlineData("INCLUDE other.ld", "t.ld:1:1: unsupported linker script command 'INCLUDE'")]
    [InlineData("SECTIONS { OVERLAY : { .a { } } }", "t.ld:1:12: unsupported linker script command 'OVERLAY'")]
    [InlineData("SECTIONS { .x : { INCLUDE(a) } }", "t.ld:1:19: 'INCLUDE' inside an output section is not supported")]
    [InlineData("INSERT AFTER .text;", "t.ld:1:1: unsupported linker script command 'INSERT'")]
    [InlineData("x = 0x;", "t.ld:1:5: bad number '0x': no digits")]
    [InlineData("x = 09;", "t.ld:1:5: bad number '09': '9' is not a base-8 digit")]
    [InlineData("x = 12zz;", "t.ld:1:5: bad number '12zz': 'z' is not a base-10 digit")]
    [InlineData("x = 0x10000000000000000;", "t.ld:1:5: bad number '0x10000000000000000': does not fit in 64 bits")]
    [InlineData("x = 1 +;", "t.ld:1:8: expected an expression, found ';'")]
    [InlineData("x = FROB(1);", "t.ld:1:5: unknown function 'FROB'")]
    [InlineData("x = SEGMENT_START(\"text\", 0);", "t.ld:1:5: unsupported function 'SEGMENT_START'")]
    [InlineData("x = ALIGN(1, 2, 3);", "t.ld:1:15: expected ')' in ALIGN(...), found ','")]
    [InlineData("x = MAX(1);", "t.ld:1:5: MAX takes 2 argument(s), not 1")]
    [InlineData("x = CONSTANT(PAGESIZE);", "t.ld:1:14: expected MAXPAGESIZE or COMMONPAGESIZE in CONSTANT(...), found 'PAGESIZE'")]
    [InlineData("x = 1", "t.ld:1:6: expected ';' after the assignment to 'x', found end of file")]
    [InlineData(". = 0x1000;", "t.ld:1:1: assignment to the location counter '.' outside SECTIONS")]
    [InlineData("ASSERT(1, message)", "t.ld:1:11: expected a quoted message as ASSERT's second argument, found 'message'")]
    [InlineData("ASSERT(1, \"no end)", "t.ld:1:11: unterminated string")]
    [InlineData("SECTIONS { .bss (NOLOAD) : { } }", "t.ld:1:18: output section type '(NOLOAD)' is not supported")]
    [InlineData("SECTIONS { .x : AT(0) { } }", "t.ld:1:17: output section attribute 'AT' is not supported")]
    [InlineData("SECTIONS { .x : { } >ram }", "t.ld:1:21: memory regions ('>region', 'AT>region') are not supported")]
    [InlineData("SECTIONS { .x : { } :text }", "t.ld:1:21: program headers (':phdr') are not supported")]
    [InlineData("SECTIONS { .x : { foo.o } }", "t.ld:1:25: expected '(' and section patterns after file pattern 'foo.o', found '}'")]
    [InlineData("SECTIONS { .x : { *() } }", "t.ld:1:21: no section patterns for file pattern '*'")]
    [InlineData("SECTIONS { .x : { *(SORT_BY_NAME(SORT_BY_ALIGNMENT(.t*))) } }", "t.ld:1:34: nested sorting ('SORT_BY_NAME(SORT_BY_ALIGNMENT(...))') is not supported")]
    [InlineData("SECTIONS { .x : { SORT(*)(.text) } }", "t.ld:1:19: sorting input files ('SORT(...)' as the file pattern) is not supported")]
    [InlineData("SECTIONS { .x : { KEEP(*(.a) } }", "t.ld:1:30: expected ')', found '}'")]
    [InlineData("SECTIONS { .x : { *(.a[) } }", "t.ld:1:21: unbalanced '[' ']' in pattern '.a['")]
    [InlineData("SECTIONS { .x : { FILL(0x90) } }", "t.ld:1:19: 'FILL' inside an output section is not supported")]
    [InlineData("SECTIONS { ENTRY(x) }", "t.ld:1:12: ENTRY inside SECTIONS is not supported; put it at top level")]
    [InlineData("SECTIONS { PROVIDE(. = 1); }", "t.ld:1:20: expected a symbol name inside PROVIDE(...), found '.'")]
    [InlineData("SECTIONS { PROVIDE(x += 1); }", "t.ld:1:22: expected '=' inside PROVIDE(...), found '+='")]
    [InlineData("ENTRY(\n  @)", "t.ld:2:3: unexpected character '@'")]
    public void ErrorsNameFileLineAndColumn(string text, string message) => Assert.Equal(message, Fails(text).Message);

    [Fact]
    public void ScriptErrorsAreInputErrorsWithThePositionAndProblem()
    {
        var e = Fails("SECTIONS {");
        Assert.IsAssignableFrom<InputException>(e);
        Assert.Equal("t.ld", e.File);
        Assert.Equal(new ScriptPosition("t.ld", 1, 11), e.Position);
        Assert.StartsWith("expected '}'", e.Problem);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void DefaultScriptParses()
    {
        string path = Path.Combine(RepositoryPaths.Root, "linker-scripts", "ukl-app.ld");
        var script = ScriptParser.Parse(File.ReadAllText(path), path);
        Assert.Equal("_start", Assert.IsType<EntryCommand>(script.Commands[0]).Symbol);
        var sections = Assert.IsType<SectionsCommand>(Assert.Single(script.Commands, c => c is SectionsCommand));
        var names = sections.Items.OfType<OutputSectionStatement>().Select(s => s.Name).ToList();
        Assert.Equal(
            ["/DISCARD/", ".init", ".iplt", ".text", "__libc_freeres_fn", ".fini", ".rodata", ".stapsdt.base", ".note.ABI-tag",
             ".note", ".rela.iplt", ".eh_frame_hdr", ".eh_frame", ".gcc_except_table", ".tdata", ".tbss", ".preinit_array",
             ".init_array", ".fini_array", ".data", "__libc_subfreeres", "__libc_IO_vtables", "__libc_atexit", ".got",
             ".got.plt", ".bss", "__libc_freeres_ptrs"],
            names);
        var slotStarts = sections.Items.OfType<AssignmentItem>().Where(a => a.Assignment.Symbol == "." && a.Assignment.Value is SymbolExpr)
            .Select(a => ((SymbolExpr)a.Assignment.Value).Name);
        Assert.Equal(["__ukl_text_slot_start", "__ukl_rodata_slot_start", "__ukl_data_slot_start", "__ukl_bss_slot_start"], slotStarts);
        Assert.Equal(4, sections.Items.OfType<AssertItem>().Count());
        var provided = sections.Items.SelectMany(i => i switch
            {
                OutputSectionStatement o => o.Items.OfType<AssignmentInSection>().Select(a => a.Assignment),
                AssignmentItem a => [a.Assignment],
                _ => [],
            })
            .Where(a => a.Symbol != ".")
            .ToDictionary(a => a.Symbol, a => a.Kind);
        foreach (var name in new[] { "__tls_data_start", "__tls_data_end", "__tls_bss_start", "__tls_bss_end" })
            Assert.Equal(AssignmentKind.Plain, provided[name]);
        foreach (var name in new[] { "__preinit_array_start", "__preinit_array_end", "__init_array_start", "__init_array_end",
                     "__fini_array_start", "__fini_array_end", "__rela_iplt_start", "__rela_iplt_end", "__ehdr_start" })
            Assert.Equal(AssignmentKind.ProvideHidden, provided[name]);
    }
}
