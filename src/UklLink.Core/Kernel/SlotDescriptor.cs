namespace UklLink.Kernel;

/// <summary>The descriptor as found in a kernel image (see docs/slot-abi.md).</summary>
public sealed record SlotDescriptor(ulong Address, ulong SymbolSize, ulong Magic, uint AbiVersion, uint Size, ulong StackSize)
{
    public bool HasApplication => Magic != 0;
}
