using System.IO.Hashing;

namespace UklLink.Boot;

/// <summary>
/// The bzImage trailer checksum: CRC-32 (polynomial 0x04C11DB7, reflected, initial value 0xFFFFFFFF) over the whole
/// file before the trailer, without the final inversion, as arch/x86/boot/tools/build.c computes it. The standard
/// CRC-32 of the file up to the trailer is therefore the bitwise complement of the trailer.
/// </summary>
public sealed class BootImageCrc
{
    private readonly Crc32 _crc = new();

    public void Append(ReadOnlySpan<byte> data) => _crc.Append(data);

    /// <summary>The trailer value for everything appended so far.</summary>
    public uint Value => ~_crc.GetCurrentHashAsUInt32();

    public static uint Compute(ReadOnlySpan<byte> data) => ~Crc32.HashToUInt32(data);
}
