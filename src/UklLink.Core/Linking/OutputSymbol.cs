namespace UklLink.Linking;

/// <summary>An application symbol added to the output's .symtab (value as ELF wants it: TLS symbols are offsets).</summary>
public sealed record OutputSymbol(string Name, ulong Value, ulong Size, byte Bind, byte Type, byte Visibility, ulong Address, bool Absolute);
