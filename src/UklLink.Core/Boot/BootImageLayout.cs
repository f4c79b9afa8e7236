namespace UklLink.Boot;

/// <summary>A kernel segment with the place its bytes have in the boot image's payload.</summary>
/// <param name="Segment">The PT_LOAD as read from the vmlinux.</param>
/// <param name="PayloadOffset">Offset of the segment's file bytes from the start of the payload (the payload ELF's p_offset).</param>
public sealed record PlacedSegment(LoadSegment Segment, long PayloadOffset);

/// <summary>
/// Where everything goes in a bzImage written by ukl-link, and the header values that follow from it. The
/// protected-mode part is:
/// <code>
///   0x0000  32-bit entry (BIOS and 32-bit boot protocol; %esi = boot_params)
///   0x01C0  marker "ukl-link boot stub N"
///   0x01E0  kernel_info ("LToP")
///   0x0200  64-bit entry (64-bit boot protocol; %rsi = boot_params)
///   0x0400  mover: 64-bit code, GDT and segment table, copied to the scratch area and run from there
///   0x1000  payload: an ELF64 header and program headers, then each PT_LOAD's file bytes at p_offset ≡ p_paddr (mod 4096)
///   ...     zero padding, so that the part plus its 4-byte CRC is a multiple of 16 bytes
///   end-4   CRC-32 of everything before it (as arch/x86/boot/tools/build.c computes it)
/// </code>
/// </summary>
public sealed class BootImageLayout
{
    public const int Entry32Offset = 0;
    public const int MarkerOffset = 0x1C0;
    public const int MarkerSize = 0x20;
    public const int KernelInfoOffset = 0x1E0;
    public const int Entry64Offset = SetupHeader.Entry64Offset;
    public const int MoverOffset = 0x400;
    public const int MoverLimit = 0xC00;
    public const int PayloadOffset = 0x1000;
    public const int PageSize = 4096;

    /// <summary>
    /// The stub's scratch area: identity page tables (PML4, PDPT, four PDs: 0x6000 bytes), then the mover copy and
    /// its GDT (0x1000), then a stack (0x1000).
    /// </summary>
    public const uint ScratchSize = 0x8000;
    public const uint PageTablesSize = 0x6000;
    public const uint ScratchMoverOffset = 0x6000;

    /// <summary>
    /// Slack the 64-bit entry may need on top of the scratch area for temporary page tables (it may only rely on an
    /// identity map of [load address, load address + init_size) until it has built its own).
    /// </summary>
    public const uint Entry64Slack = 0x6000;

    public const int CrcSize = 4;

    public const int ElfHeaderSize = 64;
    public const int ProgramHeaderSize = 56;

    public BootImageLayout(KernelLoadImage kernel, int setupSize)
    {
        Kernel = kernel;
        SetupSize = setupSize;
        int phnum = kernel.Segments.Count + kernel.Notes.Count;
        long next = ElfHeaderSize + (long)ProgramHeaderSize * phnum;

        var placed = new List<PlacedSegment>();
        foreach (var s in kernel.Segments)
        {
            // p_offset ≡ p_paddr (mod 4096), as ELF wants for loadable segments; the payload starts page-aligned.
            long want = (long)(s.PhysicalAddress % PageSize);
            long offset = AlignUp(next - want, PageSize) + want;
            placed.Add(new PlacedSegment(s, offset));
            if (s.FileSize > 0)
                next = offset + (long)s.FileSize;
        }
        Segments = placed;
        PayloadLength = next;
        long unpadded = PayloadOffset + PayloadLength + CrcSize;
        ProtectedModeSize = AlignUp(unpadded, 16);
        PaddingSize = (int)(ProtectedModeSize - unpadded);
        if (ProtectedModeSize > 0x4000_0000)
            throw new InvalidOperationException($"the boot image would be {ProtectedModeSize} bytes; at most 1 GiB is supported");

        PrefAddress = kernel.PhysicalStart;
        KernelEnd = kernel.PhysicalEnd;
        KernelEndAligned = (uint)AlignUp((long)KernelEnd, PageSize);
        long need = Math.Max((long)KernelEndAligned - (long)PrefAddress, AlignUp(ProtectedModeSize, PageSize));
        InitSize = checked((uint)(need + ScratchSize + Entry64Slack));
        ScratchForBiosLoad = ScratchBase(SetupHeader.HighLoadAddress);
    }

    public KernelLoadImage Kernel { get; }

    /// <summary>Size of the real-mode part, (setup_sects + 1) × 512.</summary>
    public int SetupSize { get; }

    public IReadOnlyList<PlacedSegment> Segments { get; }

    /// <summary>payload_length: the payload ELF from its header to the end of the last segment's bytes.</summary>
    public long PayloadLength { get; }

    /// <summary>Bytes of the protected-mode part including padding and the CRC (syssize × 16).</summary>
    public long ProtectedModeSize { get; }

    public int PaddingSize { get; }

    public long FileSize => SetupSize + ProtectedModeSize;

    public uint Syssize => (uint)(ProtectedModeSize / 16);

    /// <summary>pref_address: the kernel's runtime start, the lowest physical address of its segments.</summary>
    public ulong PrefAddress { get; }

    /// <summary>End of the kernel's memory image (_end, physical).</summary>
    public ulong KernelEnd { get; }

    public uint KernelEndAligned { get; }

    /// <summary>
    /// init_size: from pref_address, the kernel's memory image (or the image itself loaded there, if larger) plus the
    /// stub's scratch area and the 64-bit entry's slack.
    /// </summary>
    public uint InitSize { get; }

    /// <summary>The scratch area the stub uses when the image is loaded at 1 MiB (the BIOS path).</summary>
    public ulong ScratchForBiosLoad { get; }

    /// <summary>
    /// Where the stub puts its scratch area for load address <paramref name="load"/> (the rule the stub code follows):
    /// right after the kernel's memory image, unless the loaded image itself lies there, then right after the image.
    /// </summary>
    public ulong ScratchBase(ulong load)
    {
        ulong x = KernelEndAligned;
        if (load < x + ScratchSize && load + (ulong)ProtectedModeSize > x)
            x = (ulong)AlignUp((long)(load + (ulong)ProtectedModeSize), PageSize);
        return x;
    }

    public static long AlignUp(long value, long alignment) => (value + alignment - 1) / alignment * alignment;
}
