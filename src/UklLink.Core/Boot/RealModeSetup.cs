using System.Buffers.Binary;
using System.Text;
using UklLink.Inputs;

namespace UklLink.Boot;

/// <summary>Where the real-mode setup was taken from.</summary>
public enum SetupSource
{
    /// <summary>The kernel build's arch/x86/boot/setup.bin (padded with zeros to its sector count).</summary>
    SetupBin,

    /// <summary>The first (setup_sects + 1) sectors of an existing bzImage.</summary>
    BzImage,
}

/// <summary>
/// The real-mode part of a bzImage: boot sector, setup header and 16-bit setup code, exactly
/// (setup_sects + 1) × 512 bytes. Read from the kernel build's setup.bin or from an existing bzImage of the same
/// kernel and checked (boot flag, "HdrS", protocol ≥ 2.15, loads high, setup signature present, not truncated).
/// </summary>
public sealed class RealModeSetup
{
    private readonly byte[] _bytes;

    private RealModeSetup(string name, byte[] bytes, SetupSource source, uint? kernelInfoSetupTypeMax)
    {
        Name = name;
        _bytes = bytes;
        Source = source;
        SourceSetupTypeMax = kernelInfoSetupTypeMax;
    }

    /// <summary>The file name used in messages.</summary>
    public string Name { get; }

    public SetupSource Source { get; }

    /// <summary>The real-mode part, (setup_sects + 1) × 512 bytes, as read (before ukl-link sets its fields).</summary>
    public ReadOnlySpan<byte> Bytes => _bytes;

    public int Length => _bytes.Length;

    public byte SetupSects => (byte)(_bytes.Length / SetupHeader.SectorSize - 1);

    public ushort Version => (ushort)SetupHeader.Version.Read(_bytes);

    /// <summary>kernel_info.setup_type_max of the bzImage the setup was taken from, when it had one.</summary>
    public uint? SourceSetupTypeMax { get; }

    /// <summary>The kernel version string the setup carries (kernel_version field), or null.</summary>
    public string? KernelVersionString
    {
        get
        {
            int pointer = (int)SetupHeader.KernelVersion.Read(_bytes);
            if (pointer == 0)
                return null;
            int start = pointer + 0x200;
            if (start >= _bytes.Length)
                return null;
            int end = Array.IndexOf(_bytes, (byte)0, start);
            if (end < 0)
                return null;
            return Encoding.ASCII.GetString(_bytes, start, Math.Min(end - start, 256));
        }
    }

    /// <summary>True when the boot sector starts with an MS-DOS/PE header (a kernel built with CONFIG_EFI_STUB).</summary>
    public bool HasPeHeader => _bytes[0] == (byte)'M' && _bytes[1] == (byte)'Z';

    /// <summary>A copy of the real-mode part, for the writer to set its fields in.</summary>
    public byte[] ToArray() => (byte[])_bytes.Clone();

    /// <summary>Reads a setup.bin or a bzImage. Throws <see cref="InputException"/> naming the file and the problem.</summary>
    public static RealModeSetup Load(string path)
    {
        using var stream = InputFiles.OpenRead(path);
        long length = stream.Length;
        // The real-mode part is at most 32 KiB; a bzImage's kernel_info is read separately below.
        var head = new byte[(int)Math.Min(length, 64 * SetupHeader.SectorSize)];
        stream.ReadExactly(head);
        var setup = Parse(path, head, length);
        if (setup.Source == SetupSource.BzImage)
        {
            uint? typeMax = ReadKernelInfoTypeMax(stream, setup.Length, head);
            if (typeMax is not null)
                return new RealModeSetup(setup.Name, setup._bytes, setup.Source, typeMax);
        }
        return setup;
    }

    /// <summary>
    /// Parses the start of a setup.bin or bzImage. <paramref name="fileLength"/> is the whole file's length; when it
    /// is longer than the real-mode part the file is taken to be a bzImage.
    /// </summary>
    public static RealModeSetup Parse(string name, ReadOnlySpan<byte> head, long fileLength)
    {
        if (fileLength == 0)
            throw new InputException(name, "not a real-mode setup or bzImage: the file is empty");
        if (head.Length < 0x202 + 2)
            throw new InputException(name, $"not a real-mode setup or bzImage: only {head.Length} bytes, too short for a setup header");
        if (BinaryPrimitives.ReadUInt16LittleEndian(head[0x1FE..]) != SetupHeader.BootFlagMagic)
            throw new InputException(name, "not a real-mode setup or bzImage: no boot flag 0xAA55 at offset 0x1fe");
        if (head.Length < 0x208)
            throw new InputException(name, "truncated setup: the file ends inside the setup header");
        if (BinaryPrimitives.ReadUInt32LittleEndian(head[0x202..]) != SetupHeader.HeaderMagic)
            throw new InputException(name, "not a real-mode setup or bzImage: no \"HdrS\" magic at offset 0x202");
        ushort version = BinaryPrimitives.ReadUInt16LittleEndian(head[0x206..]);
        if (version < SetupHeader.MinimumVersion)
            throw new InputException(name, $"boot protocol {SetupHeader.FormatVersion(version)} is too old: ukl-link needs 2.15 or later (Linux 5.5+)");
        if (head[0x200] != 0xEB)
            throw new InputException(name, $"corrupt setup header: no short jump at offset 0x200 (found 0x{head[0x200]:x2})");
        int headerEnd = SetupHeader.HeaderEnd(head);
        if (headerEnd < SetupHeader.End215)
            throw new InputException(name, $"corrupt setup header: it ends at 0x{headerEnd:x}, before the protocol 2.15 fields (0x{SetupHeader.End215:x})");

        byte sects = head[0x1F1];
        int size = SetupHeader.RealModeSize(sects);
        if (sects > SetupHeader.MaxSetupSectors)
            throw new InputException(name, $"corrupt setup header: setup_sects {sects} exceeds the 32 KiB real-mode limit");
        if (size < 5 * SetupHeader.SectorSize)
            throw new InputException(name, $"corrupt setup header: setup_sects {sects} is smaller than the 5-sector minimum");
        if (headerEnd > size)
            throw new InputException(name, $"corrupt setup header: header end 0x{headerEnd:x} is beyond the {size}-byte setup");

        var source = fileLength > size ? SetupSource.BzImage : SetupSource.SetupBin;
        int available = (int)Math.Min(Math.Min(fileLength, size), head.Length);
        if (available < SetupHeader.End215)
            throw new InputException(name, $"truncated setup: {available} bytes, the setup header alone needs 0x{SetupHeader.End215:x}");
        if ((head[SetupHeader.LoadFlags.Offset] & SetupHeader.LoadedHigh) == 0)
            throw new InputException(name, "not a bzImage setup: loadflags lacks LOADED_HIGH (a zImage loads low)");

        var bytes = new byte[size];
        head[..available].CopyTo(bytes);
        if (!EndsWithSignature(bytes))
            throw new InputException(name, source == SetupSource.SetupBin
                ? $"truncated or corrupt setup: its last bytes are not the setup signature 55 aa 5a 5a ({fileLength} bytes read, setup_sects {sects})"
                : $"truncated or corrupt setup: no setup signature 55 aa 5a 5a before the end of its {size}-byte real-mode part");
        return new RealModeSetup(name, bytes, source, null);
    }

    /// <summary>A setup checked from bytes already in memory (setup.bin or bzImage contents).</summary>
    public static RealModeSetup FromBytes(string name, byte[] fileBytes) => Parse(name, fileBytes, fileBytes.LongLength);

    /// <summary>
    /// The setup ends with setup_sig (0x5A5AAA55): the last non-zero bytes of the real-mode part must be that
    /// signature (the padding after it is zero). A setup cut short loses it.
    /// </summary>
    private static bool EndsWithSignature(ReadOnlySpan<byte> bytes)
    {
        int end = bytes.LastIndexOfAnyExcept((byte)0) + 1;
        return end >= 4 && BinaryPrimitives.ReadUInt32LittleEndian(bytes[(end - 4)..]) == SetupHeader.SetupSignature;
    }

    private static uint? ReadKernelInfoTypeMax(Stream stream, int setupSize, ReadOnlySpan<byte> head)
    {
        uint offset = BinaryPrimitives.ReadUInt32LittleEndian(head[SetupHeader.KernelInfoOffset.Offset..]);
        long at = setupSize + (long)offset;
        if (offset == 0 || at + KernelInfo.Size > stream.Length)
            return null;
        Span<byte> info = stackalloc byte[KernelInfo.Size];
        stream.Position = at;
        stream.ReadExactly(info);
        return KernelInfo.TryParse(info, out var parsed) ? parsed.SetupTypeMax : null;
    }
}
