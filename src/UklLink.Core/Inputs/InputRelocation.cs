namespace UklLink.Inputs;

/// <summary>One RELA entry: patch <see cref="Offset"/> of <see cref="Section"/> with the value of <see cref="Type"/>.</summary>
public sealed record InputRelocation(InputSection Section, ulong Offset, uint Type, InputSymbol Symbol, long Addend);
