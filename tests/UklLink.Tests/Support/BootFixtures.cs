using System.Buffers.Binary;
using System.Text;

namespace UklLink.Tests.Support;

/// <summary>A PT_LOAD for <see cref="BootFixtures.Vmlinux"/>: bytes are a pattern derived from the address.</summary>
public sealed record FakeSegment(ulong PhysicalAddress, int FileSize, ulong MemorySize, uint Flags = 5)
{
    public ulong VirtualAddress => 0xffffffff80000000UL + PhysicalAddress;

    public byte[] Bytes()
    {
        var b = new byte[FileSize];
        for (int i = 0; i < b.Length; i++)
            b[i] = (byte)((PhysicalAddress + (ulong)i) * 2654435761UL >> 24);
        return b;
    }
}

/// <summary>
/// Synthetic boot inputs built in memory: a real-mode setup with a protocol 2.15 header (what setup.bin looks like to
/// a reader) and an x86-64 ET_EXEC with the given PT_LOADs at physical addresses (what vmlinux looks like).
/// </summary>
public static class BootFixtures
{
    public const string VersionString = "6.1.0-test (tester@host) #1 SMP";

    /// <summary>A setup.bin of <paramref name="length"/> bytes (not padded) with a valid header and signature.</summary>
    public static byte[] SetupBin(int length = 9000, ushort version = 0x020F, byte? setupSects = null)
    {
        var b = new byte[length];
        b.AsSpan(0, 0x1F1).Fill(0xFF);
        int sectors = (length + 4095) / 4096 * 8;
        b[0x1F1] = setupSects ?? (byte)(sectors - 1);
        BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(0x1F2), 1); // root_flags
        BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(0x1FA), 0xFFFF); // vid_mode
        BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(0x1FE), 0xAA55);
        b[0x200] = 0xEB;
        b[0x201] = 0x6A;
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(0x202), 0x53726448);
        BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(0x206), version);
        BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(0x20C), 0x1000);
        BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(0x20E), 0x1000); // kernel_version → 0x1200
        b[0x211] = 0x01; // LOADED_HIGH
        BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(0x212), 0x8000);
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(0x214), 0x100000);
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(0x22C), 0x7FFFFFFF);
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(0x230), 0x200000);
        b[0x235] = 0x15;
        BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(0x236), 0x21);
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(0x238), 2047);
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(0x248), 0x2A3);
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(0x24C), 0x1234);
        BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(0x258), 0x1000000);
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(0x260), 0x12345);
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(0x268), 0x4000);
        // Some "code" after the header, the version string, then the setup signature as the last bytes.
        for (int i = 0x26C; i < 0x1200; i++)
            b[i] = (byte)(i * 7 + 1);
        Encoding.ASCII.GetBytes(VersionString + "\0").CopyTo(b, 0x1200);
        for (int i = 0x1300; i < length - 4; i++)
            b[i] = (byte)(i | 1);
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(length - 4), 0x5A5AAA55);
        return b;
    }

    /// <summary>A bzImage-like file: the setup padded to its sectors, then <paramref name="pmBytes"/> of protected-mode part.</summary>
    public static byte[] BzImage(byte[] setupBin, int pmBytes = 8192)
    {
        int setupSize = (setupBin[0x1F1] + 1) * 512;
        var b = new byte[setupSize + pmBytes];
        setupBin.CopyTo(b, 0);
        for (int i = setupSize; i < b.Length; i++)
            b[i] = (byte)(i * 13);
        return b;
    }

    /// <summary>An ELF64 x86-64 ET_EXEC with the segments (file data page-aligned) and a "Linux version" banner in the first.</summary>
    public static byte[] Vmlinux(IReadOnlyList<FakeSegment> segments, ulong? entry = null, ushort type = 2, ushort machine = 62,
        string? banner = "Linux version 6.1.0-test (tester@host) (gcc 12) #1 SMP\n")
    {
        int phnum = segments.Count;
        long offset = 0x1000;
        var offsets = new List<long>();
        foreach (var s in segments)
        {
            offset = (offset + 0xFFF) / 0x1000 * 0x1000 + (long)(s.PhysicalAddress % 0x1000);
            offsets.Add(offset);
            offset += s.FileSize;
        }
        var b = new byte[offset];
        b[0] = 0x7F; b[1] = (byte)'E'; b[2] = (byte)'L'; b[3] = (byte)'F';
        b[4] = 2; b[5] = 1; b[6] = 1;
        var h = b.AsSpan();
        BinaryPrimitives.WriteUInt16LittleEndian(h[16..], type);
        BinaryPrimitives.WriteUInt16LittleEndian(h[18..], machine);
        BinaryPrimitives.WriteUInt32LittleEndian(h[20..], 1);
        BinaryPrimitives.WriteUInt64LittleEndian(h[24..], entry ?? segments[0].PhysicalAddress);
        BinaryPrimitives.WriteUInt64LittleEndian(h[32..], 64);
        BinaryPrimitives.WriteUInt16LittleEndian(h[52..], 64);
        BinaryPrimitives.WriteUInt16LittleEndian(h[54..], 56);
        BinaryPrimitives.WriteUInt16LittleEndian(h[56..], (ushort)phnum);
        BinaryPrimitives.WriteUInt16LittleEndian(h[58..], 64);
        for (int i = 0; i < segments.Count; i++)
        {
            var s = segments[i];
            var p = h[(64 + i * 56)..];
            BinaryPrimitives.WriteUInt32LittleEndian(p, 1);
            BinaryPrimitives.WriteUInt32LittleEndian(p[4..], s.Flags);
            BinaryPrimitives.WriteUInt64LittleEndian(p[8..], (ulong)offsets[i]);
            BinaryPrimitives.WriteUInt64LittleEndian(p[16..], s.VirtualAddress);
            BinaryPrimitives.WriteUInt64LittleEndian(p[24..], s.PhysicalAddress);
            BinaryPrimitives.WriteUInt64LittleEndian(p[32..], (ulong)s.FileSize);
            BinaryPrimitives.WriteUInt64LittleEndian(p[40..], s.MemorySize);
            BinaryPrimitives.WriteUInt64LittleEndian(p[48..], 0x200000);
            s.Bytes().CopyTo(b, offsets[i]);
        }
        if (banner is not null && segments[0].FileSize > banner.Length + 64)
            Encoding.ASCII.GetBytes(banner).CopyTo(b, offsets[0] + 32);
        return b;
    }

    /// <summary>Three segments like a kernel's: text, data, and data with a bss tail.</summary>
    public static FakeSegment[] KernelLikeSegments() =>
    [
        new(0x1000000, 0x23456, 0x23456, 5),
        new(0x1200000, 0x10000, 0x10000, 6),
        new(0x1210000, 0x3003, 0x9000, 7),
    ];

    public static string WriteTemp(string dir, string name, byte[] bytes)
    {
        string path = Path.Combine(dir, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }
}
