using System.Buffers.Binary;

namespace UklLink.Boot;

/// <summary>One field of the x86 real-mode setup header (Documentation/x86/boot.rst), at its offset in the image.</summary>
/// <param name="Name">The name boot.rst gives the field.</param>
/// <param name="Offset">Offset from the start of the image (the boot sector), 0x1F1..0x26B.</param>
/// <param name="Size">1, 2, 4 or 8 bytes, little-endian.</param>
/// <param name="MinVersion">The first protocol version that defines the field (0x0200 for "2.00+", 0 for "ALL").</param>
public sealed record SetupHeaderField(string Name, int Offset, int Size, ushort MinVersion)
{
    public ulong Read(ReadOnlySpan<byte> image) => Size switch
    {
        1 => image[Offset],
        2 => BinaryPrimitives.ReadUInt16LittleEndian(image[Offset..]),
        4 => BinaryPrimitives.ReadUInt32LittleEndian(image[Offset..]),
        _ => BinaryPrimitives.ReadUInt64LittleEndian(image[Offset..]),
    };

    public void Write(Span<byte> image, ulong value)
    {
        if (Size < 8 && value >> (Size * 8) != 0)
            throw new ArgumentOutOfRangeException(nameof(value), $"0x{value:x} does not fit the {Size}-byte field {Name}");
        switch (Size)
        {
            case 1: image[Offset] = (byte)value; break;
            case 2: BinaryPrimitives.WriteUInt16LittleEndian(image[Offset..], (ushort)value); break;
            case 4: BinaryPrimitives.WriteUInt32LittleEndian(image[Offset..], (uint)value); break;
            default: BinaryPrimitives.WriteUInt64LittleEndian(image[Offset..], value); break;
        }
    }
}

/// <summary>
/// The setup header of boot protocol 2.15: every field with its offset and size, the magic numbers and flag bits.
/// Offsets are from the start of the image file, as in boot.rst's table.
/// </summary>
public static class SetupHeader
{
    /// <summary>0xAA55 at 0x1FE.</summary>
    public const ushort BootFlagMagic = 0xAA55;

    /// <summary>"HdrS" at 0x202.</summary>
    public const uint HeaderMagic = 0x53726448;

    /// <summary>Protocol 2.15 (kernel_info), the oldest ukl-link writes images for.</summary>
    public const ushort MinimumVersion = 0x020F;

    /// <summary>The signature the setup code checks at its own end (setup_sig in arch/x86/boot/setup.ld).</summary>
    public const uint SetupSignature = 0x5A5AAA55;

    /// <summary>Where BIOS (16-bit and 32-bit protocol) loaders put the protected-mode part of a bzImage.</summary>
    public const uint HighLoadAddress = 0x100000;

    /// <summary>Offset of the 64-bit entry point from the start of the protected-mode part.</summary>
    public const int Entry64Offset = 0x200;

    /// <summary>The real-mode part is at most 32 KiB (setup_sects + 1 ≤ 64 sectors).</summary>
    public const int MaxSetupSectors = 63;

    public const int SectorSize = 512;

    // loadflags
    public const byte LoadedHigh = 0x01;
    public const byte KaslrFlag = 0x02;
    public const byte QuietFlag = 0x20;
    public const byte KeepSegments = 0x40;
    public const byte CanUseHeap = 0x80;

    // xloadflags
    public const ushort XlfKernel64 = 0x0001;
    public const ushort XlfCanBeLoadedAbove4G = 0x0002;
    public const ushort XlfEfiHandover32 = 0x0004;
    public const ushort XlfEfiHandover64 = 0x0008;
    public const ushort XlfEfiKexec = 0x0010;
    public const ushort Xlf5Level = 0x0020;
    public const ushort Xlf5LevelEnabled = 0x0040;

    public static readonly SetupHeaderField SetupSects = new("setup_sects", 0x1F1, 1, 0);
    public static readonly SetupHeaderField RootFlags = new("root_flags", 0x1F2, 2, 0);
    public static readonly SetupHeaderField Syssize = new("syssize", 0x1F4, 4, 0x0204);
    public static readonly SetupHeaderField RamSize = new("ram_size", 0x1F8, 2, 0);
    public static readonly SetupHeaderField VidMode = new("vid_mode", 0x1FA, 2, 0);
    public static readonly SetupHeaderField RootDev = new("root_dev", 0x1FC, 2, 0);
    public static readonly SetupHeaderField BootFlag = new("boot_flag", 0x1FE, 2, 0);
    public static readonly SetupHeaderField Jump = new("jump", 0x200, 2, 0x0200);
    public static readonly SetupHeaderField Header = new("header", 0x202, 4, 0x0200);
    public static readonly SetupHeaderField Version = new("version", 0x206, 2, 0x0200);
    public static readonly SetupHeaderField RealmodeSwtch = new("realmode_swtch", 0x208, 4, 0x0200);
    public static readonly SetupHeaderField StartSysSeg = new("start_sys_seg", 0x20C, 2, 0x0200);
    public static readonly SetupHeaderField KernelVersion = new("kernel_version", 0x20E, 2, 0x0200);
    public static readonly SetupHeaderField TypeOfLoader = new("type_of_loader", 0x210, 1, 0x0200);
    public static readonly SetupHeaderField LoadFlags = new("loadflags", 0x211, 1, 0x0200);
    public static readonly SetupHeaderField SetupMoveSize = new("setup_move_size", 0x212, 2, 0x0200);
    public static readonly SetupHeaderField Code32Start = new("code32_start", 0x214, 4, 0x0200);
    public static readonly SetupHeaderField RamdiskImage = new("ramdisk_image", 0x218, 4, 0x0200);
    public static readonly SetupHeaderField RamdiskSize = new("ramdisk_size", 0x21C, 4, 0x0200);
    public static readonly SetupHeaderField BootsectKludge = new("bootsect_kludge", 0x220, 4, 0x0200);
    public static readonly SetupHeaderField HeapEndPtr = new("heap_end_ptr", 0x224, 2, 0x0201);
    public static readonly SetupHeaderField ExtLoaderVer = new("ext_loader_ver", 0x226, 1, 0x0202);
    public static readonly SetupHeaderField ExtLoaderType = new("ext_loader_type", 0x227, 1, 0x0202);
    public static readonly SetupHeaderField CmdLinePtr = new("cmd_line_ptr", 0x228, 4, 0x0202);
    public static readonly SetupHeaderField InitrdAddrMax = new("initrd_addr_max", 0x22C, 4, 0x0203);
    public static readonly SetupHeaderField KernelAlignment = new("kernel_alignment", 0x230, 4, 0x0205);
    public static readonly SetupHeaderField RelocatableKernel = new("relocatable_kernel", 0x234, 1, 0x0205);
    public static readonly SetupHeaderField MinAlignment = new("min_alignment", 0x235, 1, 0x020A);
    public static readonly SetupHeaderField XLoadFlags = new("xloadflags", 0x236, 2, 0x020C);
    public static readonly SetupHeaderField CmdlineSize = new("cmdline_size", 0x238, 4, 0x0206);
    public static readonly SetupHeaderField HardwareSubarch = new("hardware_subarch", 0x23C, 4, 0x0207);
    public static readonly SetupHeaderField HardwareSubarchData = new("hardware_subarch_data", 0x240, 8, 0x0207);
    public static readonly SetupHeaderField PayloadOffset = new("payload_offset", 0x248, 4, 0x0208);
    public static readonly SetupHeaderField PayloadLength = new("payload_length", 0x24C, 4, 0x0208);
    public static readonly SetupHeaderField SetupData = new("setup_data", 0x250, 8, 0x0209);
    public static readonly SetupHeaderField PrefAddress = new("pref_address", 0x258, 8, 0x020A);
    public static readonly SetupHeaderField InitSize = new("init_size", 0x260, 4, 0x020A);
    public static readonly SetupHeaderField HandoverOffset = new("handover_offset", 0x264, 4, 0x020B);
    public static readonly SetupHeaderField KernelInfoOffset = new("kernel_info_offset", 0x268, 4, 0x020F);

    /// <summary>All fields in offset order.</summary>
    public static IReadOnlyList<SetupHeaderField> Fields { get; } =
    [
        SetupSects, RootFlags, Syssize, RamSize, VidMode, RootDev, BootFlag, Jump, Header, Version, RealmodeSwtch,
        StartSysSeg, KernelVersion, TypeOfLoader, LoadFlags, SetupMoveSize, Code32Start, RamdiskImage, RamdiskSize,
        BootsectKludge, HeapEndPtr, ExtLoaderVer, ExtLoaderType, CmdLinePtr, InitrdAddrMax, KernelAlignment,
        RelocatableKernel, MinAlignment, XLoadFlags, CmdlineSize, HardwareSubarch, HardwareSubarchData, PayloadOffset,
        PayloadLength, SetupData, PrefAddress, InitSize, HandoverOffset, KernelInfoOffset,
    ];

    /// <summary>The end of the protocol 2.15 header (just past kernel_info_offset).</summary>
    public static int End215 => KernelInfoOffset.Offset + KernelInfoOffset.Size;

    public static SetupHeaderField? Find(string name) => Fields.FirstOrDefault(f => f.Name == name);

    /// <summary>The real-mode part's size in bytes for a setup_sects value (0 means 4, as boot.rst says).</summary>
    public static int RealModeSize(byte setupSects) => ((setupSects == 0 ? 4 : setupSects) + 1) * SectorSize;

    /// <summary>Where the header ends according to the jump at 0x200 (0x202 + its displacement byte).</summary>
    public static int HeaderEnd(ReadOnlySpan<byte> image) => 0x202 + image[0x201];

    public static string FormatVersion(ulong version) => $"{version >> 8}.{version & 0xff:D2}";

    public static string DescribeLoadFlags(ulong flags)
    {
        var names = new List<string>();
        if ((flags & LoadedHigh) != 0) names.Add("LOADED_HIGH");
        if ((flags & KaslrFlag) != 0) names.Add("KASLR_FLAG");
        if ((flags & QuietFlag) != 0) names.Add("QUIET_FLAG");
        if ((flags & KeepSegments) != 0) names.Add("KEEP_SEGMENTS");
        if ((flags & CanUseHeap) != 0) names.Add("CAN_USE_HEAP");
        ulong rest = flags & ~(ulong)(LoadedHigh | KaslrFlag | QuietFlag | KeepSegments | CanUseHeap);
        if (rest != 0) names.Add($"0x{rest:x}");
        return names.Count == 0 ? "none" : string.Join("|", names);
    }

    public static string DescribeXLoadFlags(ulong flags)
    {
        var names = new List<string>();
        if ((flags & XlfKernel64) != 0) names.Add("XLF_KERNEL_64");
        if ((flags & XlfCanBeLoadedAbove4G) != 0) names.Add("XLF_CAN_BE_LOADED_ABOVE_4G");
        if ((flags & XlfEfiHandover32) != 0) names.Add("XLF_EFI_HANDOVER_32");
        if ((flags & XlfEfiHandover64) != 0) names.Add("XLF_EFI_HANDOVER_64");
        if ((flags & XlfEfiKexec) != 0) names.Add("XLF_EFI_KEXEC");
        if ((flags & Xlf5Level) != 0) names.Add("XLF_5LEVEL");
        if ((flags & Xlf5LevelEnabled) != 0) names.Add("XLF_5LEVEL_ENABLED");
        ulong rest = flags & ~0x7FUL;
        if (rest != 0) names.Add($"0x{rest:x}");
        return names.Count == 0 ? "none" : string.Join("|", names);
    }
}
