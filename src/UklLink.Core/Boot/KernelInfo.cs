using System.Buffers.Binary;

namespace UklLink.Boot;

/// <summary>
/// The kernel_info block of boot protocol 2.15 ("LToP", size, size_total, setup_type_max), which the setup header's
/// kernel_info_offset points at inside the protected-mode part.
/// </summary>
public readonly record struct KernelInfo(uint SizeFixed, uint SizeTotal, uint SetupTypeMax)
{
    /// <summary>"LToP".</summary>
    public const uint Magic = 0x506F544C;

    /// <summary>The fixed part ukl-link writes: header, size, size_total, setup_type_max.</summary>
    public const int Size = 16;

    /// <summary>
    /// setup_type_max of Linux 6.1 (SETUP_ENUM_MAX = SETUP_RNG_SEED = 9, with SETUP_INDIRECT = bit 31), used when the
    /// setup did not come from a bzImage whose own kernel_info says otherwise.
    /// </summary>
    public const uint DefaultSetupTypeMax = 0x80000009;

    public static bool TryParse(ReadOnlySpan<byte> bytes, out KernelInfo info)
    {
        info = default;
        if (bytes.Length < Size || BinaryPrimitives.ReadUInt32LittleEndian(bytes) != Magic)
            return false;
        uint size = BinaryPrimitives.ReadUInt32LittleEndian(bytes[4..]);
        if (size < Size)
            return false;
        info = new KernelInfo(size, BinaryPrimitives.ReadUInt32LittleEndian(bytes[8..]), BinaryPrimitives.ReadUInt32LittleEndian(bytes[12..]));
        return true;
    }

    public static byte[] Encode(uint setupTypeMax)
    {
        var b = new byte[Size];
        BinaryPrimitives.WriteUInt32LittleEndian(b, Magic);
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(4), Size);
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(8), Size);
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(12), setupTypeMax);
        return b;
    }
}
