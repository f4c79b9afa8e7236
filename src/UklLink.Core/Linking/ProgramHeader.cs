using System.Buffers.Binary;

namespace UklLink.Linking;

/// <summary>An ELF64 program header of the application (descriptor phdr table; AT_PHDR for the app).</summary>
public sealed record ProgramHeader(uint Type, uint Flags, ulong VirtualAddress, ulong FileSize, ulong MemorySize, ulong Alignment)
{
    /// <summary>Elf64_Phdr layout (gABI): p_offset is 0 because the application has no file of its own.</summary>
    public void WriteTo(Span<byte> d)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(d, Type);
        BinaryPrimitives.WriteUInt32LittleEndian(d[4..], Flags);
        BinaryPrimitives.WriteUInt64LittleEndian(d[8..], 0);
        BinaryPrimitives.WriteUInt64LittleEndian(d[16..], VirtualAddress);
        BinaryPrimitives.WriteUInt64LittleEndian(d[24..], VirtualAddress);
        BinaryPrimitives.WriteUInt64LittleEndian(d[32..], FileSize);
        BinaryPrimitives.WriteUInt64LittleEndian(d[40..], MemorySize);
        BinaryPrimitives.WriteUInt64LittleEndian(d[48..], Alignment);
    }
}
