namespace UklLink.LinkerScript;

internal enum TokenKind { Name, Number, String, Punct, End }

/// <summary>One token; <see cref="Number"/> is set for <see cref="TokenKind.Number"/>.</summary>
internal readonly record struct Token(TokenKind Kind, string Text, int Offset, ulong Number = 0)
{
    public bool Is(string punct) => Kind == TokenKind.Punct && Text == punct;
    public bool IsName(string name) => Kind == TokenKind.Name && Text == name;
}

/// <summary>
/// How a name is delimited. GNU ld's lexer also switches states by context: what counts as one word differs between an
/// expression (<c>a-b</c> is a subtraction), an output section name (<c>/DISCARD/</c>) and an input section pattern
/// (<c>*crtend.o</c>, <c>.text.[a-z]*</c>, <c>lib.a:member.o</c>).
/// </summary>
internal enum LexMode
{
    /// <summary>Symbols <c>[A-Za-z_.$][A-Za-z0-9_.$]*</c>, numbers, operators.</summary>
    Expression,

    /// <summary>Section names <c>[A-Za-z0-9_.$/~-]+</c>; punctuation as in expressions.</summary>
    SectionName,

    /// <summary>File and section globs: also <c>* ? [ ] ^ ! : + \</c>; punctuation only <c>( ) { } ; , =</c>.</summary>
    Wildcard,
}

/// <summary>
/// The tokenizer for <see cref="ScriptParser"/>. It is pull-based: the parser names the mode for every token, and can
/// save and restore <see cref="Offset"/> to look ahead. Comments (<c>/* */</c>) and white space separate tokens.
/// </summary>
internal sealed class ScriptLexer
{
    // Longest first, so that maximal munch is a linear scan.
    private static readonly string[] ExpressionPunctuation =
    [
        "<<=", ">>=",
        "<<", ">>", "<=", ">=", "==", "!=", "&&", "||", "+=", "-=", "*=", "/=", "&=", "|=",
        "+", "-", "*", "/", "%", "<", ">", "&", "^", "|", "!", "~", "?", ":", "(", ")", "{", "}", ";", ",", "=",
    ];

    private const string WildcardPunctuation = "(){};,=";

    private readonly string _text;
    private readonly string _file;
    private readonly List<int> _lineStarts = [0];

    public ScriptLexer(string text, string file)
    {
        _text = text;
        _file = file;
        for (int i = 0; i < text.Length; i++)
        {
            if (text[i] == '\n')
                _lineStarts.Add(i + 1);
        }
    }

    /// <summary>Where the next token starts scanning; restore a saved value to backtrack.</summary>
    public int Offset { get; set; }

    public ScriptPosition PositionOf(int offset)
    {
        int line = _lineStarts.BinarySearch(offset);
        if (line < 0)
            line = ~line - 1;
        return new ScriptPosition(_file, line + 1, offset - _lineStarts[line] + 1);
    }

    public ScriptException Error(int offset, string problem) => new(PositionOf(offset), problem);

    public Token Peek(LexMode mode)
    {
        int saved = Offset;
        var token = Next(mode);
        Offset = saved;
        return token;
    }

    public Token Next(LexMode mode)
    {
        SkipTrivia();
        int start = Offset;
        if (start >= _text.Length)
            return new Token(TokenKind.End, "end of file", start);
        char c = _text[start];

        if (c == '"')
        {
            int close = _text.IndexOf('"', start + 1);
            int newline = _text.IndexOf('\n', start + 1);
            if (close < 0 || (newline >= 0 && newline < close))
                throw Error(start, "unterminated string");
            Offset = close + 1;
            return new Token(TokenKind.String, _text[(start + 1)..close], start);
        }

        switch (mode)
        {
            case LexMode.Expression:
                if (char.IsAsciiDigit(c))
                    return LexNumber(start);
                if (IsSymbolStart(c))
                    return LexWhile(start, IsSymbolPart, stopAtComment: true);
                break;
            case LexMode.SectionName:
                if (IsSectionNameChar(c))
                    return LexWhile(start, IsSectionNameChar, stopAtComment: true);
                break;
            case LexMode.Wildcard:
                if (WildcardPunctuation.Contains(c))
                {
                    Offset = start + 1;
                    return new Token(TokenKind.Punct, c.ToString(), start);
                }
                if (IsWildcardChar(c))
                    return LexWhile(start, IsWildcardChar, stopAtComment: false);
                throw Error(start, $"unexpected character '{Printable(c)}' in a file or section pattern");
        }

        foreach (var p in ExpressionPunctuation)
        {
            if (string.CompareOrdinal(_text, start, p, 0, p.Length) == 0)
            {
                Offset = start + p.Length;
                return new Token(TokenKind.Punct, p, start);
            }
        }
        throw Error(start, $"unexpected character '{Printable(c)}'");
    }

    private void SkipTrivia()
    {
        while (Offset < _text.Length)
        {
            char c = _text[Offset];
            if (char.IsWhiteSpace(c))
            {
                Offset++;
            }
            else if (IsCommentStart(Offset))
            {
                int end = _text.IndexOf("*/", Offset + 2, StringComparison.Ordinal);
                if (end < 0)
                    throw Error(Offset, "unterminated comment");
                Offset = end + 2;
            }
            else
            {
                return;
            }
        }
    }

    // A name or section name ends where a comment starts (".text/* code */"). A glob keeps "/*" ("dir/*.o"), as in
    // ld, where a comment only starts between tokens.
    private Token LexWhile(int start, Func<char, bool> part, bool stopAtComment)
    {
        int i = start;
        while (i < _text.Length && part(_text[i]) && !(stopAtComment && IsCommentStart(i)))
            i++;
        Offset = i;
        return new Token(TokenKind.Name, _text[start..i], start);
    }

    private bool IsCommentStart(int i) => _text[i] == '/' && i + 1 < _text.Length && _text[i + 1] == '*';

    private Token LexNumber(int start)
    {
        int i = start;
        while (i < _text.Length && (char.IsAsciiLetterOrDigit(_text[i]) || _text[i] == '_'))
            i++;
        Offset = i;
        string text = _text[start..i];
        if (!NumberSyntax.TryParse(text, out ulong value, out string? problem))
            throw Error(start, $"bad number '{text}': {problem}");
        return new Token(TokenKind.Number, text, start, value);
    }

    private static bool IsSymbolStart(char c) => char.IsAsciiLetter(c) || c is '_' or '.' or '$';

    private static bool IsSymbolPart(char c) => char.IsAsciiLetterOrDigit(c) || c is '_' or '.' or '$';

    private static bool IsSectionNameChar(char c) => IsSymbolPart(c) || c is '/' or '-' or '~';

    private static bool IsWildcardChar(char c) =>
        IsSectionNameChar(c) || c is '*' or '?' or '[' or ']' or '^' or '!' or ':' or '+' or '\\';

    private static string Printable(char c) => char.IsControl(c) ? $"\\x{(int)c:x2}" : c.ToString();
}

/// <summary>
/// GNU ld numbers: <c>0x1f</c>/<c>0X1F</c> hexadecimal, a leading <c>0</c> octal, otherwise decimal; a suffix
/// <c>h</c>, <c>o</c>, <c>b</c> or <c>d</c> (without a <c>0x</c> prefix) picks hexadecimal, octal, binary or decimal;
/// a final <c>K</c> or <c>M</c> multiplies by 1024 or 1024*1024.
/// </summary>
internal static class NumberSyntax
{
    public static bool TryParse(string text, out ulong value, out string? problem)
    {
        value = 0;
        problem = null;
        ulong scale = 1;
        string body = text;
        if (body.Length > 1 && body[^1] is 'K' or 'k' or 'M' or 'm')
        {
            scale = body[^1] is 'K' or 'k' ? 1024UL : 1024UL * 1024;
            body = body[..^1];
        }

        uint radix;
        if (body.StartsWith("0x", StringComparison.OrdinalIgnoreCase))
        {
            radix = 16;
            body = body[2..];
        }
        else
        {
            (radix, body) = char.ToLowerInvariant(body[^1]) switch
            {
                'h' => (16u, body[..^1]),
                'o' => (8u, body[..^1]),
                'b' => (2u, body[..^1]),
                'd' => (10u, body[..^1]),
                _ => (body.Length > 1 && body[0] == '0' ? 8u : 10u, body),
            };
        }

        if (body.Length == 0)
        {
            problem = "no digits";
            return false;
        }
        foreach (char ch in body)
        {
            uint digit = ch switch
            {
                >= '0' and <= '9' => (uint)(ch - '0'),
                >= 'a' and <= 'z' => (uint)(ch - 'a' + 10),
                >= 'A' and <= 'Z' => (uint)(ch - 'A' + 10),
                _ => uint.MaxValue,
            };
            if (digit >= radix)
            {
                problem = $"'{ch}' is not a base-{radix} digit";
                return false;
            }
            if (value > (ulong.MaxValue - digit) / radix)
            {
                problem = "does not fit in 64 bits";
                return false;
            }
            value = value * radix + digit;
        }
        if (scale != 1 && value > ulong.MaxValue / scale)
        {
            problem = "does not fit in 64 bits";
            return false;
        }
        value *= scale;
        return true;
    }
}
