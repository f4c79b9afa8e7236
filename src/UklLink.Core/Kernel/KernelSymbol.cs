namespace UklLink.Kernel;

/// <summary>A global symbol of the kernel image that application references may bind to.</summary>
public readonly record struct KernelSymbol(string Name, ulong Value, ulong Size, byte Type, byte Bind);
