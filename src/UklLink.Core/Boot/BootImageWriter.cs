using System.Buffers.Binary;
using System.Text;
using UklLink.Inputs;
using UklLink.Output;

namespace UklLink.Boot;

/// <summary>Choices for <see cref="BootImageWriter"/>.</summary>
public sealed record BootImageOptions
{
    public static BootImageOptions Default { get; } = new();

    /// <summary>
    /// Leave the unused tails of the text, rodata and data slots out of the image; the stub fills them (0xCC, 0, 0).
    /// They are checked to hold only the fill bytes, so this is always safe. On by default.
    /// </summary>
    public bool OmitUnusedSlotTails { get; init; } = true;
}

/// <summary>What <see cref="BootImageWriter"/> wrote, for messages and tests.</summary>
/// <param name="Layout">Offsets and header values of the image.</param>
/// <param name="Warnings">Things worth telling the user that did not stop the write (one line each).</param>
public sealed record BootImageResult(BootImageLayout Layout, IReadOnlyList<string> Warnings, uint Crc);

/// <summary>
/// Writes a bootable bzImage from a vmlinux and the real-mode setup, without kbuild: the setup (with its header
/// fields set for this image) followed by ukl-link's loader stub and the kernel's PT_LOAD segments, uncompressed,
/// and the CRC-32 trailer. See docs/bzimage.md for the format.
/// </summary>
public static class BootImageWriter
{
    private const int CopyChunk = 1 << 20;

    /// <summary>
    /// Writes <paramref name="outputPath"/> atomically (a temporary file and a rename: never a partial output).
    /// Throws <see cref="InputException"/> for unusable inputs (one line naming the file and the problem) and
    /// <see cref="IOException"/> when the output cannot be written.
    /// </summary>
    public static BootImageResult Write(string vmlinuxPath, RealModeSetup setup, string outputPath, BootImageOptions? options = null)
    {
        using var vmlinux = InputFiles.OpenRead(vmlinuxPath);
        var kernel = KernelLoadImage.Read(vmlinux, vmlinuxPath);
        BootImageResult? result = null;
        AtomicFile.Write(outputPath, output => result = Write(vmlinux, kernel, setup, output, options ?? BootImageOptions.Default));
        return result!;
    }

    /// <summary>Convenience overload: reads the setup (setup.bin or a bzImage) from <paramref name="setupPath"/>.</summary>
    public static BootImageResult Write(string vmlinuxPath, string setupPath, string outputPath, BootImageOptions? options = null) =>
        Write(vmlinuxPath, RealModeSetup.Load(setupPath), outputPath, options);

    /// <summary>
    /// Writes the image to <paramref name="output"/> (written sequentially from its current position). The vmlinux
    /// stream must be seekable; <paramref name="vmlinuxName"/> names it in messages.
    /// </summary>
    public static BootImageResult Write(Stream vmlinux, string vmlinuxName, RealModeSetup setup, Stream output, BootImageOptions? options = null) =>
        Write(vmlinux, KernelLoadImage.Read(vmlinux, vmlinuxName), setup, output, options ?? BootImageOptions.Default);

    private static BootImageResult Write(Stream vmlinux, KernelLoadImage kernel, RealModeSetup setup, Stream output, BootImageOptions options)
    {
        var warnings = new List<string>();
        var omitted = options.OmitUnusedSlotTails ? SlotTails.Find(vmlinux, kernel.Name, kernel) : [];
        var layout = new BootImageLayout(kernel, setup.Length, omitted);
        var stub = LoaderStub.Assemble(layout);
        var realMode = BuildRealMode(setup, layout, warnings);
        var head = BuildProtectedModeHead(stub, setup.SourceSetupTypeMax ?? KernelInfo.DefaultSetupTypeMax);
        var payloadHeader = BuildPayloadHeader(kernel, layout);

        var version = setup.KernelVersionString is { Length: > 0 } v ? new KernelVersionMatch(v) : null;
        var crc = new BootImageCrc();
        void Emit(ReadOnlySpan<byte> bytes)
        {
            crc.Append(bytes);
            output.Write(bytes);
        }

        Emit(realMode);
        Emit(head);
        Emit(payloadHeader);
        long position = payloadHeader.Length; // within the payload
        var buffer = new byte[CopyChunk];
        foreach (var piece in layout.Pieces)
        {
            EmitZeros(Emit, piece.PayloadOffset - position, buffer);
            vmlinux.Position = (long)piece.FileOffset;
            ulong left = piece.Length;
            while (left > 0)
            {
                int n = (int)Math.Min(left, (ulong)buffer.Length);
                vmlinux.ReadExactly(buffer, 0, n);
                version?.Scan(buffer.AsSpan(0, n));
                Emit(buffer.AsSpan(0, n));
                left -= (ulong)n;
            }
            position = piece.PayloadOffset + (long)piece.Length;
        }
        EmitZeros(Emit, layout.PaddingSize, buffer);
        uint value = crc.Value;
        Span<byte> trailer = stackalloc byte[BootImageLayout.CrcSize];
        BinaryPrimitives.WriteUInt32LittleEndian(trailer, value);
        output.Write(trailer);

        if (version is { Matched: false })
            warnings.Add($"{setup.Name}: the setup is from kernel \"{version.SetupVersion}\" but {kernel.Name}'s banner differs (a setup from another build usually still boots)");
        return new BootImageResult(layout, warnings, value);
    }

    private static void EmitZeros(Action<ReadOnlySpan<byte>> emit, long count, byte[] buffer)
    {
        if (count < 0)
            throw new InvalidOperationException("payload layout went backwards");
        Array.Clear(buffer);
        while (count > 0)
        {
            int n = (int)Math.Min(count, buffer.Length);
            emit(buffer.AsSpan(0, n));
            count -= n;
        }
    }

    /// <summary>The real-mode part with every header field ukl-link is responsible for set.</summary>
    internal static byte[] BuildRealMode(RealModeSetup setup, BootImageLayout layout, List<string> warnings)
    {
        var b = setup.ToArray();
        SetupHeader.SetupSects.Write(b, setup.SetupSects);
        SetupHeader.Syssize.Write(b, layout.Syssize);
        // Fields a boot loader writes start out zero, as in a kbuild image.
        SetupHeader.TypeOfLoader.Write(b, 0);
        SetupHeader.RamdiskImage.Write(b, 0);
        SetupHeader.RamdiskSize.Write(b, 0);
        SetupHeader.CmdLinePtr.Write(b, 0);
        SetupHeader.SetupData.Write(b, 0);
        SetupHeader.Code32Start.Write(b, SetupHeader.HighLoadAddress);
        // The image is not relocatable: the stub copies the kernel to its link-time physical addresses.
        SetupHeader.RelocatableKernel.Write(b, 0);
        // Only the 64-bit entry at +0x200 is offered: no EFI handover, no loading above 4 GiB, 4-level paging only.
        SetupHeader.XLoadFlags.Write(b, SetupHeader.XlfKernel64);
        SetupHeader.HandoverOffset.Write(b, 0);
        SetupHeader.PayloadOffset.Write(b, (uint)BootImageLayout.PayloadOffset);
        SetupHeader.PayloadLength.Write(b, checked((uint)layout.PayloadLength));
        SetupHeader.PrefAddress.Write(b, layout.PrefAddress);
        SetupHeader.InitSize.Write(b, layout.InitSize);
        SetupHeader.KernelInfoOffset.Write(b, (uint)BootImageLayout.KernelInfoOffset);
        if (setup.HasPeHeader)
        {
            // The PE/COFF header describes the kbuild image's EFI stub, which this image does not have.
            b[0] = 0;
            b[1] = 0;
            warnings.Add($"{setup.Name}: the setup carries an EFI PE header; the image has no EFI entry, so its \"MZ\" signature was cleared (boot it with a BIOS or 32/64-bit protocol loader)");
        }
        return b;
    }

    /// <summary>The first 0x1000 bytes of the protected-mode part: entries, marker, kernel_info, mover.</summary>
    private static byte[] BuildProtectedModeHead(LoaderStub.Code stub, uint setupTypeMax)
    {
        var b = new byte[BootImageLayout.PayloadOffset];
        b.AsSpan(0, BootImageLayout.MoverOffset).Fill(0xCC); // int3 between the entries
        stub.Entry32.CopyTo(b, BootImageLayout.Entry32Offset);
        var marker = Encoding.ASCII.GetBytes(LoaderStub.MarkerPrefix + LoaderStub.Version);
        b.AsSpan(BootImageLayout.MarkerOffset, BootImageLayout.MarkerSize).Clear();
        marker.CopyTo(b, BootImageLayout.MarkerOffset);
        KernelInfo.Encode(setupTypeMax).CopyTo(b, BootImageLayout.KernelInfoOffset);
        stub.Entry64.CopyTo(b, BootImageLayout.Entry64Offset);
        stub.Mover.CopyTo(b, BootImageLayout.MoverOffset);
        return b;
    }

    /// <summary>
    /// The payload's ELF64 header and program headers (a PT_LOAD per stored piece with p_offset into the payload and
    /// p_align 4096, one per segment without file bytes, and the PT_NOTEs that lie in stored pieces), so that
    /// payload_offset/payload_length describe an uncompressed ELF image, as boot.rst says the payload is.
    /// </summary>
    private static byte[] BuildPayloadHeader(KernelLoadImage kernel, BootImageLayout layout)
    {
        var notes = kernel.Notes
            .Select(n => (Note: n, Piece: layout.Pieces.FirstOrDefault(p => n.FileOffset >= p.FileOffset && n.FileOffset + n.FileSize <= p.FileOffset + p.Length)))
            .Where(x => x.Piece is not null)
            .ToList();
        int phnum = layout.ProgramHeaderCount - kernel.Notes.Count + notes.Count;
        var b = new byte[BootImageLayout.ElfHeaderSize + BootImageLayout.ProgramHeaderSize * layout.ProgramHeaderCount];
        b[0] = 0x7F; b[1] = (byte)'E'; b[2] = (byte)'L'; b[3] = (byte)'F';
        b[4] = 2; // ELFCLASS64
        b[5] = 1; // little-endian
        b[6] = 1; // EV_CURRENT
        var h = b.AsSpan();
        BinaryPrimitives.WriteUInt16LittleEndian(h[16..], ElfHeader.TypeExecutable);
        BinaryPrimitives.WriteUInt16LittleEndian(h[18..], ElfHeader.MachineX86_64);
        BinaryPrimitives.WriteUInt32LittleEndian(h[20..], 1);
        BinaryPrimitives.WriteUInt64LittleEndian(h[24..], kernel.EntryPhysical);
        BinaryPrimitives.WriteUInt64LittleEndian(h[32..], BootImageLayout.ElfHeaderSize);
        BinaryPrimitives.WriteUInt16LittleEndian(h[52..], BootImageLayout.ElfHeaderSize);
        BinaryPrimitives.WriteUInt16LittleEndian(h[54..], BootImageLayout.ProgramHeaderSize);
        BinaryPrimitives.WriteUInt16LittleEndian(h[56..], (ushort)phnum);
        BinaryPrimitives.WriteUInt16LittleEndian(h[58..], 64);

        int at = BootImageLayout.ElfHeaderSize;
        var loads = layout.Pieces
            .Select(p => (p.Segment, Address: p.PhysicalAddress, Offset: (ulong)p.PayloadOffset, FileSize: p.Length, p.MemorySize))
            .Concat(kernel.Segments.Where(s => s.FileSize == 0)
                .Select(s => (Segment: s, Address: s.PhysicalAddress, Offset: 0UL, FileSize: 0UL, s.MemorySize)))
            .OrderBy(x => x.Address);
        foreach (var (segment, address, offset, fileSize, memorySize) in loads)
        {
            ulong delta = address - segment.PhysicalAddress;
            var piece = segment with
            {
                PhysicalAddress = address,
                VirtualAddress = segment.VirtualAddress + delta,
                FileSize = fileSize,
                MemorySize = memorySize,
            };
            WriteProgramHeader(h[at..], 1, piece, offset, BootImageLayout.PageSize);
            at += BootImageLayout.ProgramHeaderSize;
        }
        foreach (var (note, holder) in notes)
        {
            ulong offset = (ulong)holder!.PayloadOffset + (note.FileOffset - holder.FileOffset);
            WriteProgramHeader(h[at..], 4, note, offset, note.Align);
            at += BootImageLayout.ProgramHeaderSize;
        }
        return b;
    }

    private static void WriteProgramHeader(Span<byte> p, uint type, LoadSegment s, ulong offset, ulong align)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(p, type);
        BinaryPrimitives.WriteUInt32LittleEndian(p[4..], s.Flags);
        BinaryPrimitives.WriteUInt64LittleEndian(p[8..], offset);
        BinaryPrimitives.WriteUInt64LittleEndian(p[16..], s.VirtualAddress);
        BinaryPrimitives.WriteUInt64LittleEndian(p[24..], s.PhysicalAddress);
        BinaryPrimitives.WriteUInt64LittleEndian(p[32..], s.FileSize);
        BinaryPrimitives.WriteUInt64LittleEndian(p[40..], s.MemorySize);
        BinaryPrimitives.WriteUInt64LittleEndian(p[48..], align);
    }
}
