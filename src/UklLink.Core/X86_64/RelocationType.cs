namespace UklLink.X86_64;

/// <summary>An x86-64 relocation type: its psABI number and name, the width of the field it patches and its class.</summary>
public sealed record RelocationType(uint Number, string Name, int FieldSize, RelocationClass Class, string? Why = null);
