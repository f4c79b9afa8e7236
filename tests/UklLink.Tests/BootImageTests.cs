using System.Buffers.Binary;
using System.IO.Hashing;
using Iced.Intel;
using UklLink.Boot;
using UklLink.Inputs;
using UklLink.Tests.Support;
using Xunit;

namespace UklLink.Tests;

/// <summary>The bzImage writer on synthetic inputs: header fields per boot.rst, layout, payload, CRC, stub code.</summary>
public sealed class BootImageTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("ukl-boot-");

    public void Dispose() => _dir.Delete(recursive: true);

    private (string Output, BootImageResult Result, byte[] Image, byte[] Vmlinux) Pack(FakeSegment[]? segments = null, byte[]? setup = null)
    {
        var vm = BootFixtures.Vmlinux(segments ?? BootFixtures.KernelLikeSegments());
        string vmPath = BootFixtures.WriteTemp(_dir.FullName, "vmlinux", vm);
        string setupPath = BootFixtures.WriteTemp(_dir.FullName, "setup.bin", setup ?? BootFixtures.SetupBin());
        string output = Path.Combine(_dir.FullName, "bzImage");
        var result = BootImageWriter.Write(vmPath, setupPath, output);
        return (output, result, File.ReadAllBytes(output), vm);
    }

    private static ulong Field(byte[] image, SetupHeaderField f) => f.Read(image);

    [Fact]
    public void HeaderFieldsFollowTheProtocol()
    {
        var (_, result, image, _) = Pack();
        var l = result.Layout;
        int setupSize = (image[0x1F1] + 1) * 512;
        Assert.Equal(12288, setupSize); // 9000 bytes of setup.bin pad to 4 KiB multiples, as build.c does
        Assert.Equal(23UL, Field(image, SetupHeader.SetupSects));
        Assert.Equal((ulong)(image.Length - setupSize), Field(image, SetupHeader.Syssize) * 16);
        Assert.Equal(0x020FUL, Field(image, SetupHeader.Version));
        Assert.Equal((ulong)SetupHeader.XlfKernel64, Field(image, SetupHeader.XLoadFlags));
        Assert.Equal(0UL, Field(image, SetupHeader.RelocatableKernel));
        Assert.Equal(0UL, Field(image, SetupHeader.HandoverOffset));
        Assert.Equal(0x100000UL, Field(image, SetupHeader.Code32Start));
        Assert.Equal(0x1000000UL, Field(image, SetupHeader.PrefAddress));
        Assert.Equal((ulong)BootImageLayout.PayloadOffset, Field(image, SetupHeader.PayloadOffset));
        Assert.Equal((ulong)l.PayloadLength, Field(image, SetupHeader.PayloadLength));
        // init_size from pref_address covers the kernel's memory image and the stub's scratch area.
        ulong kernelEnd = 0x1210000 + 0x9000;
        Assert.True(Field(image, SetupHeader.InitSize) >= kernelEnd - 0x1000000 + BootImageLayout.ScratchSize);
        Assert.True(l.ScratchForBiosLoad + BootImageLayout.ScratchSize <= 0x1000000 + Field(image, SetupHeader.InitSize));
        // Fields untouched from the setup.
        Assert.Equal(0x200000UL, Field(image, SetupHeader.KernelAlignment));
        Assert.Equal(2047UL, Field(image, SetupHeader.CmdlineSize));
        Assert.Equal(0xFFFFUL, Field(image, SetupHeader.VidMode));
        Assert.Equal(1UL, Field(image, SetupHeader.LoadFlags) & SetupHeader.LoadedHigh);
    }

    [Fact]
    public void CrcTrailerIsBuildCsCrc()
    {
        var (_, result, image, _) = Pack();
        uint stored = BinaryPrimitives.ReadUInt32LittleEndian(image.AsSpan(image.Length - 4));
        Assert.Equal(result.Crc, stored);
        // build.c: CRC-32 with initial 0xFFFFFFFF and no final inversion, i.e. the complement of the standard CRC.
        Assert.Equal(~Crc32.HashToUInt32(image.AsSpan(0, image.Length - 4)), stored);
        var info = BootImageInfo.Read(Path.Combine(_dir.FullName, "bzImage"));
        Assert.True(info.CrcMatches);
    }

    [Fact]
    public void PayloadIsAnElfWhoseSegmentsHoldTheKernelBytes()
    {
        var segments = BootFixtures.KernelLikeSegments();
        var (output, result, image, vm) = Pack(segments);
        using var vmStream = new MemoryStream(vm);
        var kernel = KernelLoadImage.Read(vmStream, "vmlinux");
        var info = BootImageInfo.Read(output);
        Assert.Equal("ELF", info.PayloadFormat);
        Assert.Equal(LoaderStub.MarkerPrefix + LoaderStub.Version, info.StubMarker);
        var loads = info.PayloadSegments.Where(p => p.Type == 1).Select(p => p.Segment).ToList();
        Assert.Equal(segments.Length, loads.Count);
        long payloadStart = result.Layout.SetupSize + BootImageLayout.PayloadOffset;
        for (int i = 0; i < segments.Length; i++)
        {
            Assert.Equal(segments[i].PhysicalAddress, loads[i].PhysicalAddress);
            Assert.Equal((ulong)segments[i].FileSize, loads[i].FileSize);
            Assert.Equal(segments[i].MemorySize, loads[i].MemorySize);
            Assert.Equal(loads[i].PhysicalAddress % 4096, loads[i].FileOffset % 4096);
            var stored = image.AsSpan((int)(payloadStart + (long)loads[i].FileOffset), segments[i].FileSize);
            var original = vm.AsSpan((int)kernel.Segments[i].FileOffset, segments[i].FileSize);
            Assert.True(stored.SequenceEqual(original), $"segment {i} bytes differ");
        }
        Assert.Equal(KernelInfo.Magic, BinaryPrimitives.ReadUInt32LittleEndian(image.AsSpan(result.Layout.SetupSize + BootImageLayout.KernelInfoOffset)));
    }

    [Fact]
    public void StubCodeDecodesAndItsSegmentTableMatchesTheLayout()
    {
        var (_, result, image, _) = Pack();
        int pm = result.Layout.SetupSize;
        AssertDecodes(image.AsSpan(pm, BootImageLayout.MarkerOffset), 32, "32-bit entry");
        AssertDecodes(image.AsSpan(pm + BootImageLayout.Entry64Offset, 0x200), 64, "64-bit entry");
        // The mover ends with its table: {source offset, p_paddr, p_filesz, p_memsz} per segment, then the GDT.
        var mover = image.AsSpan(pm + BootImageLayout.MoverOffset, BootImageLayout.MoverLimit);
        var first = result.Layout.Pieces[0];
        Span<byte> entry = stackalloc byte[16];
        BinaryPrimitives.WriteUInt64LittleEndian(entry, (ulong)(BootImageLayout.PayloadOffset + first.PayloadOffset));
        BinaryPrimitives.WriteUInt64LittleEndian(entry[8..], first.PhysicalAddress);
        Assert.True(mover.IndexOf(entry) > 0, "segment table not found in the mover");
        Span<byte> code64 = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(code64, 0x00AF_9A00_0000_FFFFUL);
        Assert.True(mover.IndexOf(code64) > 0, "64-bit code descriptor not found in the mover's GDT");
    }

    private static void AssertDecodes(ReadOnlySpan<byte> code, int bitness, string what)
    {
        var decoder = Decoder.Create(bitness, new ByteArrayCodeReader(code.ToArray()));
        int count = 0;
        while (decoder.IP < (ulong)code.Length)
        {
            var instr = decoder.Decode();
            if (instr.Code == Code.Int3)
                break; // padding after the code
            Assert.False(instr.IsInvalid, $"{what}: invalid instruction at 0x{instr.IP:x}");
            count++;
        }
        Assert.True(count > 20, $"{what}: only {count} instructions");
    }

    [Fact]
    public void ScratchAreaAvoidsTheImageAndTheKernel()
    {
        var (_, result, _, _) = Pack();
        var l = result.Layout;
        // BIOS load at 1 MiB: right after the kernel's memory image.
        Assert.Equal((ulong)l.KernelEndAligned, l.ScratchForBiosLoad);
        // Loaded where the scratch would be: moved past the image.
        ulong load = l.KernelEndAligned - 0x1000;
        ulong x = l.ScratchBase(load);
        Assert.True(x >= load + (ulong)l.ProtectedModeSize);
        // Loaded well above: the kernel end is free again.
        Assert.Equal((ulong)l.KernelEndAligned, l.ScratchBase(0x8000000));
    }

    [Fact]
    public void SetupTakenFromABzImageIsItsRealModePart()
    {
        var setupBin = BootFixtures.SetupBin();
        var bz = BootFixtures.BzImage(setupBin);
        var fromBin = RealModeSetup.FromBytes("setup.bin", setupBin);
        var fromBz = RealModeSetup.FromBytes("bzImage", bz);
        Assert.Equal(SetupSource.SetupBin, fromBin.Source);
        Assert.Equal(SetupSource.BzImage, fromBz.Source);
        Assert.Equal(24 * 512, fromBz.Length);
        Assert.True(fromBin.Bytes.SequenceEqual(fromBz.Bytes));
        Assert.Equal(BootFixtures.VersionString, fromBz.KernelVersionString);
    }

    [Fact]
    public void BannerOfAnotherKernelIsAWarning()
    {
        var vm = BootFixtures.Vmlinux(BootFixtures.KernelLikeSegments(), banner: "Linux version 5.0.0 (x@y) (gcc) #9\n");
        string vmPath = BootFixtures.WriteTemp(_dir.FullName, "other-vmlinux", vm);
        string setupPath = BootFixtures.WriteTemp(_dir.FullName, "setup.bin", BootFixtures.SetupBin());
        var result = BootImageWriter.Write(vmPath, setupPath, Path.Combine(_dir.FullName, "out"));
        Assert.Contains(result.Warnings, w => w.Contains("banner differs"));
        var (_, same, _, _) = Pack();
        Assert.Empty(same.Warnings);
    }

    [Fact]
    public void VirtualEntryIsTranslatedAndSegmentsAreSorted()
    {
        FakeSegment[] segs = [new(0x1200000, 0x2000, 0x3000, 6), new(0x1000000, 0x5000, 0x5000, 5)];
        var vm = BootFixtures.Vmlinux(segs, entry: 0xffffffff81000010UL);
        using var s = new MemoryStream(vm);
        var k = KernelLoadImage.Read(s, "vm");
        Assert.Equal(0x1000010UL, k.EntryPhysical);
        Assert.Equal(0x1000000UL, k.Segments[0].PhysicalAddress);
        Assert.Equal(0x1203000UL, k.PhysicalEnd);
    }

    [Fact]
    public void WritingToAStreamGivesTheSameBytes()
    {
        var (_, _, image, vm) = Pack();
        using var input = new MemoryStream(vm);
        using var output = new MemoryStream();
        BootImageWriter.Write(input, "vmlinux", RealModeSetup.FromBytes("setup.bin", BootFixtures.SetupBin()), output);
        Assert.True(output.ToArray().AsSpan().SequenceEqual(image));
    }

    /// <summary>A kernel linked by GNU ld with a text slot (16 used bytes, then 0xCC), a rodata slot holding data to its end, and an unused data slot.</summary>
    private static string SlotKernel() => Toolchain.Build("""
        .text
        .globl _start
        _start: hlt
        .p2align 12
        .globl __ukl_text_slot_start, __ukl_text_slot_end
        __ukl_text_slot_start:
            .fill 16, 1, 0x90
            .fill 0x40000 - 16, 1, 0xcc
        __ukl_text_slot_end:
        .section .rodata, "a"
        .p2align 12
        .globl __ukl_rodata_slot_start, __ukl_rodata_slot_end
        __ukl_rodata_slot_start:
            .fill 0x20000, 1, 0
            .fill 8, 1, 0x55
        __ukl_rodata_slot_end:
        .data
        .p2align 12
        .quad 1
        .p2align 12
        .globl __ukl_data_slot_start, __ukl_data_slot_end
        __ukl_data_slot_start:
            .fill 0x30000, 1, 0
        __ukl_data_slot_end:
            .quad 2
        """, ".s", "slotkernel",
        (src, o) => $"as --64 {src} -o {o}.o && ld -m elf_x86_64 -static -e _start -Ttext=0x1000000 -z max-page-size=4096 {o}.o -o {o}");

    [Fact]
    public void UnusedSlotTailsAreLeftOutAndFilledByTheStub()
    {
        string vm = SlotKernel();
        string setup = BootFixtures.WriteTemp(_dir.FullName, "setup.bin", BootFixtures.SetupBin());
        var omit = BootImageWriter.Write(vm, setup, Path.Combine(_dir.FullName, "omit"));
        var keep = BootImageWriter.Write(vm, setup, Path.Combine(_dir.FullName, "keep"), new BootImageOptions { OmitUnusedSlotTails = false });

        var o = omit.Layout.Omitted;
        Assert.Equal(2, o.Count); // text tail and the whole data slot; the rodata slot is used to its end
        Assert.Equal("text", o[0].Slot);
        Assert.Equal(0xCC, o[0].Fill);
        Assert.Equal(0x40000UL - 16, o[0].Length);
        Assert.Equal("data", o[1].Slot);
        Assert.Equal(0, o[1].Fill);
        Assert.Equal(0x30000UL, o[1].Length);
        Assert.Empty(keep.Layout.Omitted);
        Assert.Contains(omit.Layout.Fills, f => f.PhysicalAddress == o[0].PhysicalAddress && f.Fill == 0xCC);
        Assert.True(keep.Layout.FileSize - omit.Layout.FileSize >= (long)(0x40000 - 16 + 0x30000 - 0x2000));

        // The payload ELF lists what is stored: its PT_LOADs plus the left-out tails cover the kernel's file bytes.
        var info = BootImageInfo.Read(Path.Combine(_dir.FullName, "omit"));
        ulong stored = info.PayloadSegments.Where(p => p.Type == 1).Aggregate(0UL, (sum, p) => sum + p.Segment.FileSize);
        var kernel = KernelLoadImage.Read(vm);
        Assert.Equal(kernel.Segments.Aggregate(0UL, (sum, s) => sum + s.FileSize), stored + omit.Layout.OmittedBytes);
        Assert.True(info.CrcMatches);
    }

    [Fact]
    public void KeepUnusedSlotsOptionStoresThem()
    {
        string vm = SlotKernel();
        string setup = BootFixtures.WriteTemp(_dir.FullName, "setup.bin", BootFixtures.SetupBin());
        string a = Path.Combine(_dir.FullName, "a"), b = Path.Combine(_dir.FullName, "b");
        Assert.Equal(0, Cli.Run("pack", "-k", vm, "-s", setup, "-o", a).ExitCode);
        Assert.Equal(0, Cli.Run("pack", "-k", vm, "-s", setup, "-o", b, "--keep-unused-slots").ExitCode);
        Assert.True(new FileInfo(b).Length > new FileInfo(a).Length + 0x60000);
    }

    public static TheoryData<string, Func<byte[]>, string> BadSetups => new()
    {
        { "empty", () => [], "empty" },
        { "random", () => Enumerable.Range(0, 4096).Select(i => (byte)(i * 31 + 7)).ToArray(), "0xAA55" },
        { "no-HdrS", () => { var b = BootFixtures.SetupBin(); b[0x202] = (byte)'X'; return b; }, "HdrS" },
        { "protocol-2.14", () => BootFixtures.SetupBin(version: 0x020E), "2.14 is too old" },
        { "protocol-2.10", () => BootFixtures.SetupBin(version: 0x020A), "too old" },
        { "truncated-middle", () => BootFixtures.SetupBin()[..5000], "truncated" },
        { "truncated-header", () => BootFixtures.SetupBin()[..0x204], "truncated" },
        { "too-short", () => BootFixtures.SetupBin()[..300], "too short" },
        { "setup-sects-huge", () => BootFixtures.SetupBin(setupSects: 100), "setup_sects 100" },
        { "zimage", () => { var b = BootFixtures.SetupBin(); b[0x211] = 0; return b; }, "LOADED_HIGH" },
        { "elf", () => BootFixtures.Vmlinux(BootFixtures.KernelLikeSegments()), "0xAA55" },
    };

    [Theory]
    [MemberData(nameof(BadSetups))]
    public void BadSetupIsOneLineExit2AndNoOutput(string name, Func<byte[]> bytes, string mentions)
    {
        string setup = BootFixtures.WriteTemp(_dir.FullName, name, bytes());
        string vm = BootFixtures.WriteTemp(_dir.FullName, "vmlinux", BootFixtures.Vmlinux(BootFixtures.KernelLikeSegments()));
        string output = Path.Combine(_dir.FullName, "out-" + name);
        var r = Cli.Run("pack", "--kernel", vm, "--setup", setup, "-o", output);
        AssertOneLineError(r, setup, mentions);
        Assert.False(File.Exists(output));
        Assert.Empty(Directory.GetFiles(_dir.FullName, ".out-*"));
    }

    public static TheoryData<string, Func<byte[]>, string> BadKernels => new()
    {
        { "not-elf", () => BootFixtures.SetupBin(), "not a kernel image" },
        { "relocatable", () => BootFixtures.Vmlinux(BootFixtures.KernelLikeSegments(), type: 1), "ET_REL" },
        { "aarch64", () => BootFixtures.Vmlinux(BootFixtures.KernelLikeSegments(), machine: 183), "AArch64" },
        { "truncated", () => BootFixtures.Vmlinux(BootFixtures.KernelLikeSegments())[..0x9000], "extends past the end" },
        { "virtual-paddr", () => BootFixtures.Vmlinux([new FakeSegment(0xffffffff81000000UL, 0x100, 0x100)]), "outside [1 MiB, 4 GiB)" },
        { "entry-outside", () => BootFixtures.Vmlinux(BootFixtures.KernelLikeSegments(), entry: 0x5000000), "entry point" },
        { "overlap", () => BootFixtures.Vmlinux([new FakeSegment(0x1000000, 0x2000, 0x3000), new FakeSegment(0x1002000, 0x100, 0x100)]), "overlap" },
    };

    [Theory]
    [MemberData(nameof(BadKernels))]
    public void BadKernelIsOneLineExit2AndNoOutput(string name, Func<byte[]> bytes, string mentions)
    {
        string vm = BootFixtures.WriteTemp(_dir.FullName, name, bytes());
        string setup = BootFixtures.WriteTemp(_dir.FullName, "setup.bin", BootFixtures.SetupBin());
        string output = Path.Combine(_dir.FullName, "out-" + name);
        var r = Cli.Run("pack", "-k", vm, "-s", setup, "-o", output);
        AssertOneLineError(r, vm, mentions);
        Assert.False(File.Exists(output));
    }

    [Fact]
    public void MissingInputsAreOneLineExit2()
    {
        string setup = BootFixtures.WriteTemp(_dir.FullName, "setup.bin", BootFixtures.SetupBin());
        string vm = BootFixtures.WriteTemp(_dir.FullName, "vmlinux", BootFixtures.Vmlinux(BootFixtures.KernelLikeSegments()));
        string missing = Path.Combine(_dir.FullName, "nope");
        AssertOneLineError(Cli.Run("pack", "-k", missing, "-s", setup, "-o", Path.Combine(_dir.FullName, "o1")), missing, "no such file");
        AssertOneLineError(Cli.Run("pack", "-k", vm, "-s", missing, "-o", Path.Combine(_dir.FullName, "o2")), missing, "no such file");
        AssertOneLineError(Cli.Run("inspect", missing), missing, "no such file");
        var usage = Cli.Run("pack", "-k", vm);
        Assert.Equal(2, usage.ExitCode);
        Assert.False(File.Exists(Path.Combine(_dir.FullName, "o1")));
    }

    [Fact]
    public void InspectShowsHeaderFieldsByName()
    {
        var (output, result, _, _) = Pack();
        var r = Cli.Run("inspect", output);
        Assert.Equal(0, r.ExitCode);
        Assert.Contains("boot protocol 2.15", r.Stdout);
        Assert.Contains("ukl-link boot stub", r.Stdout);
        Assert.Contains("CRC-32 trailer", r.Stdout);
        Assert.Contains("matches", r.Stdout);
        foreach (var f in SetupHeader.Fields)
            Assert.Contains(" " + f.Name + " ", r.Stdout);
        Assert.Contains($"0x{result.Layout.InitSize:x}", r.Stdout);
        Assert.Contains("XLF_KERNEL_64", r.Stdout);
        Assert.Contains("payload program headers:", r.Stdout);

        var bad = Cli.Run("inspect", BootFixtures.WriteTemp(_dir.FullName, "junk", new byte[100]));
        Assert.Equal(2, bad.ExitCode);
        Assert.Single(bad.StderrLines);
    }

    [Fact]
    public void InspectFlagsACorruptCrc()
    {
        var (output, _, image, _) = Pack();
        image[image.Length / 2] ^= 0xFF;
        string corrupt = BootFixtures.WriteTemp(_dir.FullName, "corrupt", image);
        var r = Cli.Run("inspect", corrupt);
        Assert.Equal(0, r.ExitCode);
        Assert.Contains("MISMATCH", r.Stdout);
        _ = output;
    }

    private static void AssertOneLineError(CliResult r, string file, string mentions)
    {
        Assert.Equal(2, r.ExitCode);
        var lines = r.StderrLines;
        Assert.True(lines.Length == 1, "expected one line, got:\n" + r.Stderr);
        Assert.StartsWith("ukl-link: error: ", lines[0]);
        Assert.Contains(file, lines[0]);
        Assert.Contains(mentions, lines[0], StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("   at ", r.Stderr);
        Assert.DoesNotContain("internal error", r.Stderr);
    }
}
