namespace UklLink.Kernel;

/// <summary>A slot's address range in the kernel image.</summary>
public sealed record Slot(SlotName Name, ulong Start, ulong End)
{
    public ulong Size => End - Start;
}
