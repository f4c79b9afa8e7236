namespace UklLink.Boot;

/// <summary>
/// One PT_LOAD of the kernel as the boot image carries it: <see cref="FileSize"/> bytes from
/// <see cref="FileOffset"/> of the vmlinux go to physical address <see cref="PhysicalAddress"/>, and the rest of
/// <see cref="MemorySize"/> is zero.
/// </summary>
public sealed record LoadSegment(
    ulong PhysicalAddress,
    ulong VirtualAddress,
    ulong FileOffset,
    ulong FileSize,
    ulong MemorySize,
    uint Flags,
    ulong Align)
{
    public ulong PhysicalEnd => PhysicalAddress + MemorySize;

    public ulong PhysicalFileEnd => PhysicalAddress + FileSize;

    public string FlagString =>
        $"{((Flags & 4) != 0 ? 'R' : '-')}{((Flags & 2) != 0 ? 'W' : '-')}{((Flags & 1) != 0 ? 'X' : '-')}";
}
