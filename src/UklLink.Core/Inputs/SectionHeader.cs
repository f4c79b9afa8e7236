using System.Buffers.Binary;
using static UklLink.Inputs.ElfConstants;

namespace UklLink.Inputs;

/// <summary>
/// An Elf64_Shdr (gABI "Section Header") as raw fields: what the kernel reader needs to find symbols and bytes, and
/// what the vmlinux writer copies and adjusts. Mutable because the writer rewrites offsets and sizes of its copies.
/// </summary>
public sealed class SectionHeader
{
    public const int Size64 = 64;

    public uint Name, Type, Link, Info;
    public ulong Flags, Addr, Offset, Size, AddrAlign, EntSize;

    public static SectionHeader Read(ReadOnlySpan<byte> d) => new()
    {
        Name = BinaryPrimitives.ReadUInt32LittleEndian(d),
        Type = BinaryPrimitives.ReadUInt32LittleEndian(d[4..]),
        Flags = BinaryPrimitives.ReadUInt64LittleEndian(d[8..]),
        Addr = BinaryPrimitives.ReadUInt64LittleEndian(d[16..]),
        Offset = BinaryPrimitives.ReadUInt64LittleEndian(d[24..]),
        Size = BinaryPrimitives.ReadUInt64LittleEndian(d[32..]),
        Link = BinaryPrimitives.ReadUInt32LittleEndian(d[40..]),
        Info = BinaryPrimitives.ReadUInt32LittleEndian(d[44..]),
        AddrAlign = BinaryPrimitives.ReadUInt64LittleEndian(d[48..]),
        EntSize = BinaryPrimitives.ReadUInt64LittleEndian(d[56..]),
    };

    /// <summary>Reads a whole table of <paramref name="count"/> headers.</summary>
    public static List<SectionHeader> ReadTable(ReadOnlySpan<byte> table, int count)
    {
        var list = new List<SectionHeader>(count);
        for (int i = 0; i < count; i++)
            list.Add(Read(table.Slice(i * Size64, Size64)));
        return list;
    }

    public void Write(Span<byte> d)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(d, Name);
        BinaryPrimitives.WriteUInt32LittleEndian(d[4..], Type);
        BinaryPrimitives.WriteUInt64LittleEndian(d[8..], Flags);
        BinaryPrimitives.WriteUInt64LittleEndian(d[16..], Addr);
        BinaryPrimitives.WriteUInt64LittleEndian(d[24..], Offset);
        BinaryPrimitives.WriteUInt64LittleEndian(d[32..], Size);
        BinaryPrimitives.WriteUInt32LittleEndian(d[40..], Link);
        BinaryPrimitives.WriteUInt32LittleEndian(d[44..], Info);
        BinaryPrimitives.WriteUInt64LittleEndian(d[48..], AddrAlign);
        BinaryPrimitives.WriteUInt64LittleEndian(d[56..], EntSize);
    }

    public SectionHeader Clone() => (SectionHeader)MemberwiseClone();

    public bool HasFileBytes => Type != SHT_NOBITS && Type != SHT_NULL && Size > 0;

    /// <summary>
    /// The file offset of <paramref name="length"/> loaded bytes at <paramref name="address"/> if this allocated section
    /// with file contents holds all of them (overflow-safe near the top of the address space), else null.
    /// </summary>
    public ulong? FileOffsetOf(ulong address, ulong length)
    {
        if ((Flags & SHF_ALLOC) == 0 || Type == SHT_NOBITS || address < Addr || address - Addr > Size || length > Size - (address - Addr))
            return null;
        return Offset + (address - Addr);
    }
}
