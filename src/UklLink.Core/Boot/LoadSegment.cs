using System.Buffers.Binary;

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
    /// <summary>Decodes one Elf64_Phdr (56 bytes); <paramref name="type"/> is its p_type.</summary>
    public static LoadSegment Read(ReadOnlySpan<byte> phdr, out uint type)
    {
        type = BinaryPrimitives.ReadUInt32LittleEndian(phdr);
        return new LoadSegment(
            PhysicalAddress: BinaryPrimitives.ReadUInt64LittleEndian(phdr[24..]), VirtualAddress: BinaryPrimitives.ReadUInt64LittleEndian(phdr[16..]),
            FileOffset: BinaryPrimitives.ReadUInt64LittleEndian(phdr[8..]), FileSize: BinaryPrimitives.ReadUInt64LittleEndian(phdr[32..]),
            MemorySize: BinaryPrimitives.ReadUInt64LittleEndian(phdr[40..]), Flags: BinaryPrimitives.ReadUInt32LittleEndian(phdr[4..]),
            Align: BinaryPrimitives.ReadUInt64LittleEndian(phdr[48..]));
    }

    public const int Size64 = 56;

    public ulong PhysicalEnd => PhysicalAddress + MemorySize;

    public ulong PhysicalFileEnd => PhysicalAddress + FileSize;

    public string FlagString =>
        $"{((Flags & 4) != 0 ? 'R' : '-')}{((Flags & 2) != 0 ? 'W' : '-')}{((Flags & 1) != 0 ? 'X' : '-')}";
}
