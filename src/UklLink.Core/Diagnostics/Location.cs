namespace UklLink.Diagnostics;

/// <summary>
/// Where a finding is. Every part is optional: a finding about a whole file has only <see cref="File"/>.
/// <see cref="Member"/> is the archive member name when the object came from an archive.
/// </summary>
public sealed record Location(
    string File,
    string? Member = null,
    string? Section = null,
    ulong? Offset = null,
    string? Symbol = null,
    ulong? SymbolOffset = null,
    string? SourceFile = null,
    int? SourceLine = null)
{
    /// <summary>The object's name as linkers print it: <c>lib.a(member.o)</c> or <c>file.o</c>.</summary>
    public string ObjectName => Member is null ? File : $"{File}({Member})";

    /// <summary>lld-style position: <c>file.o:(.text+0x12)</c>.</summary>
    public override string ToString()
    {
        if (Section is null)
            return ObjectName;
        return Offset is { } off ? $"{ObjectName}:({Section}+0x{off:x})" : $"{ObjectName}:({Section})";
    }

    /// <summary><c>func+0x4</c> when the enclosing symbol is known.</summary>
    public string? SymbolText => Symbol is null ? null : SymbolOffset is > 0 ? $"{Symbol}+0x{SymbolOffset:x}" : Symbol;

    /// <summary><c>main.c:12</c> when DWARF line information was found.</summary>
    public string? SourceText => SourceFile is null ? null : SourceLine is { } l ? $"{SourceFile}:{l}" : SourceFile;
}
