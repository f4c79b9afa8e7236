namespace UklLink.Dwarf;

/// <summary>
/// Raw bytes of the debug sections with relocations ALREADY APPLIED by the caller (absent sections = null).
/// </summary>
public sealed record DwarfSections(byte[]? Info, byte[]? Abbrev, byte[]? Line, byte[]? Str, byte[]? LineStr, byte[]? StrOffsets = null);

/// <summary>The top DIE (compile/partial/skeleton unit) of one unit in .debug_info.</summary>
public sealed record DwarfCompileUnit(string? Name, string? Producer, string? CompDir, string? Language);

/// <summary>One row of a decoded line-number program (end_sequence rows are not reported).</summary>
public readonly record struct DwarfLineRow(ulong Address, string File, int Line, int Column);
