namespace UklLink.Boot;

/// <summary>
/// A run of a PT_LOAD's file bytes stored in the payload: <see cref="Length"/> bytes from vmlinux offset
/// <see cref="FileOffset"/> go to <see cref="PhysicalAddress"/>. A segment is one piece, or several when unused slot
/// tails inside it are left out.
/// </summary>
/// <param name="Segment">The PT_LOAD the piece belongs to.</param>
/// <param name="PayloadOffset">Offset of the piece from the start of the payload (its p_offset in the payload ELF).</param>
/// <param name="MemorySize">The piece's p_memsz in the payload ELF: its length, plus the segment's zero tail for the last piece.</param>
public sealed record PayloadPiece(LoadSegment Segment, ulong PhysicalAddress, ulong FileOffset, ulong Length, long PayloadOffset, ulong MemorySize);

/// <summary>A physical range the stub fills with one byte value after copying: a p_memsz tail (0) or an omitted slot tail.</summary>
public sealed record FillRange(ulong PhysicalAddress, ulong Length, byte Fill);

/// <summary>
/// Where everything goes in a bzImage written by ukl-link, and the header values that follow from it. The
/// protected-mode part is:
/// <code>
///   0x0000  32-bit entry (BIOS and 32-bit boot protocol; %esi = boot_params)
///   0x01C0  marker "ukl-link boot stub N"
///   0x01E0  kernel_info ("LToP")
///   0x0200  64-bit entry (64-bit boot protocol; %rsi = boot_params)
///   0x0400  mover: 64-bit code, GDT and segment table, copied to the scratch area and run from there
///   0x1000  payload: an ELF64 header and program headers, then each PT_LOAD's file bytes at p_offset ≡ p_paddr (mod 4096),
///           less the unused tails of the slots
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

    public BootImageLayout(KernelLoadImage kernel, int setupSize, IReadOnlyList<OmittedRange>? omitted = null)
    {
        Kernel = kernel;
        SetupSize = setupSize;
        Omitted = omitted ?? [];
        var pieces = new List<PayloadPiece>();
        var fills = new List<FillRange>();
        var spans = new List<(LoadSegment Segment, ulong Address, ulong Length, ulong Memory)>();
        foreach (var s in kernel.Segments)
        {
            ulong at = s.PhysicalAddress;
            ulong fileEnd = s.PhysicalFileEnd;
            foreach (var o in Omitted.Where(o => o.PhysicalAddress >= s.PhysicalAddress && o.PhysicalEnd <= fileEnd))
            {
                if (o.PhysicalAddress < at)
                    throw new InvalidOperationException("omitted ranges overlap");
                if (o.PhysicalAddress > at)
                    spans.Add((s, at, o.PhysicalAddress - at, o.PhysicalAddress - at));
                fills.Add(new FillRange(o.PhysicalAddress, o.Length, o.Fill));
                at = o.PhysicalEnd;
            }
            if (fileEnd > at)
                spans.Add((s, at, fileEnd - at, s.PhysicalEnd - at));
            if (s.MemorySize > s.FileSize)
                fills.Add(new FillRange(fileEnd, s.MemorySize - s.FileSize, 0));
        }

        int phnum = spans.Count + kernel.Segments.Count(s => s.FileSize == 0) + kernel.Notes.Count;
        long next = ElfHeaderSize + (long)ProgramHeaderSize * phnum;
        foreach (var (segment, address, length, memory) in spans)
        {
            // p_offset ≡ p_paddr (mod 4096), as ELF wants for loadable segments; the payload starts page-aligned.
            long want = (long)(address % PageSize);
            long offset = AlignUp(next - want, PageSize) + want;
            pieces.Add(new PayloadPiece(segment, address, segment.FileOffset + (address - segment.PhysicalAddress), length, offset, memory));
            next = offset + (long)length;
        }
        Pieces = pieces;
        Fills = fills;
        ProgramHeaderCount = phnum;
        PayloadLength = next;
        long unpadded = PayloadOffset + PayloadLength + CrcSize;
        ProtectedModeSize = AlignUp(unpadded, 16);
        PaddingSize = (int)(ProtectedModeSize - unpadded);
        if (ProtectedModeSize > 0x4000_0000)
            throw new UklLink.Inputs.InputException(kernel.Name, $"too large to boot: the image would be {ProtectedModeSize} bytes; at most 1 GiB is supported");

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

    /// <summary>The stored runs of segment bytes, in physical order (and in payload order).</summary>
    public IReadOnlyList<PayloadPiece> Pieces { get; }

    /// <summary>What the stub fills after copying: zero tails of segments and omitted slot tails.</summary>
    public IReadOnlyList<FillRange> Fills { get; }

    /// <summary>Unused slot tails the image does not store.</summary>
    public IReadOnlyList<OmittedRange> Omitted { get; }

    public ulong OmittedBytes => Omitted.Aggregate(0UL, (sum, o) => sum + o.Length);

    /// <summary>Program headers of the payload ELF: a PT_LOAD per piece and per file-less segment, and the PT_NOTEs.</summary>
    public int ProgramHeaderCount { get; }

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
