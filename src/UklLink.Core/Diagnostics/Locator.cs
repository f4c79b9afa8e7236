using UklLink.Analysis;
using UklLink.Inputs;

namespace UklLink.Diagnostics;

/// <summary>
/// Turns a place in an input section into a <see cref="Location"/>: object, section+offset, enclosing symbol and, when
/// the object has DWARF line tables, source file and line. Source maps are built once per object, on first use.
/// </summary>
public sealed class Locator
{
    private readonly Dictionary<ObjectFile, SourceMap?> _sourceMaps = new();

    public SourceMap? SourceMapOf(ObjectFile obj)
    {
        if (!_sourceMaps.TryGetValue(obj, out var map))
            _sourceMaps[obj] = map = SourceMap.Build(obj);
        return map;
    }

    public Location At(InputSection? section, ulong? offset, InputSymbol? symbol = null)
    {
        if (section is null)
            return symbol is null ? new Location("?") : new Location(symbol.File.Path, symbol.File.Member, Symbol: symbol.Name);
        var obj = section.File;
        var enclosing = symbol ?? (offset is { } o ? CodeRegion.EnclosingSymbol(section, o) : null);
        ulong? symOffset = enclosing is not null && offset is { } off && off >= enclosing.Value ? off - enclosing.Value : null;
        (string File, int Line)? source = offset is { } at ? SourceMapOf(obj)?.Find(section, at) : null;
        return new Location(obj.Path, obj.Member, section.Name, offset, enclosing?.Name is { Length: > 0 } n ? n : null, symOffset,
            source?.File, source?.Line);
    }
}
