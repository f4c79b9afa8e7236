namespace UklLink.Analysis;

/// <summary>An instruction that touches memory below %rsp; <see cref="BytesBelow"/> is how far below.</summary>
public sealed record RedZoneUse(ulong Offset, long BytesBelow, string Instruction);
