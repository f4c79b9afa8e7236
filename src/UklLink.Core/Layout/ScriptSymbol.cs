namespace UklLink.Layout;

/// <summary>A symbol the linker script defines: its value and the output section it lies in (null: absolute).</summary>
public sealed record ScriptSymbol(string Name, ulong Value, OutputSection? Section, bool Hidden);
