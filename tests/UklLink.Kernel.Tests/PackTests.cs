using System.Buffers.Binary;
using System.IO.Hashing;
using UklLink.Boot;
using UklLink.Cli;
using Xunit.Abstractions;

namespace UklLink.Kernel.Tests;

/// <summary>
/// <c>ukl-link pack</c> on the reference kernel: the bzImage it writes boots under QEMU through the BIOS path
/// (32-bit entry) and through a 64-bit boot protocol loader (64-bit entry), and its header agrees with kbuild's
/// bzImage where the protocol says it must and differs where it must.
/// </summary>
public sealed class PackTests(ITestOutputHelper output) : IDisposable
{
    private const int Status = 37;
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("ukl-pack-");

    public void Dispose() => _dir.Delete(recursive: true);

    private static string MarkerScript(string marker, int status) => $"""
        #!/bin/sh
        mount -t proc proc /proc
        mount -t sysfs sysfs /sys
        echo "{marker}"
        guest-exit {status}
        """;

    private string Pack(KernelManifest m, string setup, string name = "bzImage", params string[] extra)
    {
        string path = Path.Combine(_dir.FullName, name);
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int exit = UklLinkCli.Run(["pack", "--kernel", m.Vmlinux, "--setup", setup, "-o", path, .. extra], stdout, stderr);
        Assert.True(exit == 0, $"pack failed ({exit}): {stderr}");
        Assert.DoesNotContain("warn", stderr.ToString(), StringComparison.OrdinalIgnoreCase);
        return path;
    }

    private QemuResult Boot(string kernel, string marker, int status)
    {
        var r = QemuHarness.Boot(kernel, MarkerScript(marker, status));
        output.WriteLine($"{Path.GetFileName(kernel)}: status={r.ExitStatus?.ToString() ?? "none"} timedOut={r.TimedOut} wall={r.Elapsed.TotalMilliseconds:F0} ms");
        return r;
    }

    [Fact]
    public void PackedReferenceKernelBootsToInitThroughTheBiosPath()
    {
        var m = KernelBuild.Ensure();
        var kernel = KernelLoadImage.Read(m.Vmlinux);
        string image = Pack(m, m.SetupBin);

        // No application is linked, so the text, rodata and data slots are entirely unused and left out.
        using (var vm = File.OpenRead(m.Vmlinux))
        {
            var omitted = SlotTails.Find(vm, m.Vmlinux, kernel);
            ulong slots = m.ConfigHex("CONFIG_UKL_TEXT_SLOT_SIZE") + m.ConfigHex("CONFIG_UKL_RODATA_SLOT_SIZE") + m.ConfigHex("CONFIG_UKL_DATA_SLOT_SIZE");
            Assert.Equal(slots, omitted.Aggregate(0UL, (sum, o) => sum + o.Length));
            ulong stored = BootImageInfo.Read(image).PayloadSegments.Where(p => p.Type == 1).Aggregate(0UL, (sum, p) => sum + p.Segment.FileSize);
            Assert.Equal(kernel.Segments.Aggregate(0UL, (sum, s) => sum + s.FileSize) - slots, stored);
        }

        var marker = "UKL-PACK-BIOS-" + Guid.NewGuid().ToString("N")[..8];
        var r = Boot(image, marker, Status);
        Assert.False(r.TimedOut, r.ToString());
        Assert.Contains(marker, r.Console);
        Assert.Equal(Status, r.ExitStatus);
        Assert.Contains("ukl: no application linked", r.Console);
    }

    [Fact]
    public void PackedReferenceKernelWithItsSlotBytesBootsAcrossTheOverlap()
    {
        var m = KernelBuild.Ensure();
        var kernel = KernelLoadImage.Read(m.Vmlinux);
        string image = Pack(m, m.SetupBin, "bzImage-full", "--keep-unused-slots");

        // The overlap case: QEMU loads the protected-mode part at 1 MiB and the kernel's file-backed image is over
        // 15 MiB, so the loaded image runs past 16 MiB, where the kernel's first segment goes.
        Assert.True(kernel.FileBackedSpan > 15UL << 20, $"file-backed image is only {kernel.FileBackedSpan} bytes");
        long partSize = new FileInfo(image).Length - BootImageInfo.Read(image).SetupSize;
        ulong loadedEnd = SetupHeader.HighLoadAddress + (ulong)partSize;
        Assert.True(loadedEnd > kernel.PhysicalStart, $"no overlap: image ends at 0x{loadedEnd:x}, kernel starts at 0x{kernel.PhysicalStart:x}");
        Assert.Contains(kernel.Segments, s => s.MemorySize > s.FileSize); // a bss tail the stub zeroes

        var marker = "UKL-PACK-FULL-" + Guid.NewGuid().ToString("N")[..8];
        var r = Boot(image, marker, Status + 2);
        Assert.False(r.TimedOut, r.ToString());
        Assert.Contains(marker, r.Console);
        Assert.Equal(Status + 2, r.ExitStatus);
    }

    [Fact]
    public void PackedReferenceKernelBootsThroughThe64BitEntry()
    {
        var m = KernelBuild.Ensure();
        string image = Pack(m, m.SetupBin);
        string loader = Pvh64Loader.Build(image, _dir.CreateSubdirectory("pvh64").FullName);
        var marker = "UKL-PACK-64-" + Guid.NewGuid().ToString("N")[..8];
        var r = Boot(loader, marker, Status + 1);
        Assert.NotEqual(Pvh64Loader.NoMemoryMapStatus, r.ExitStatus);
        Assert.False(r.TimedOut, r.ToString());
        Assert.Contains(marker, r.Console);
        Assert.Equal(Status + 1, r.ExitStatus);
        // Loaded at 64 MiB, above the kernel: the stub copied every segment downwards.
        Assert.True(Pvh64Loader.LoadAddress > KernelLoadImage.Read(m.Vmlinux).PhysicalEnd);
    }

    /// <summary>
    /// The probe kernel checks in the guest that the stub copied every byte of a 16 MiB segment, zeroed a bss tail
    /// that held image bytes before the copy and filled the slot tails the image leaves out: BIOS path (destinations above sources, copied backwards) and 64-bit
    /// entry with the image at 64 MiB (destinations below sources, copied forwards).
    /// </summary>
    [Fact]
    public void StubCopiesSegmentsExactlyAndZeroesTailsOnBothEntries()
    {
        var m = KernelBuild.Ensure();
        var probeDir = _dir.CreateSubdirectory("probe").FullName;
        string probe = ProbeKernel.Build(probeDir);
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        string image = Path.Combine(probeDir, "bzImage-probe");
        Assert.Equal(0, UklLinkCli.Run(["pack", "-k", probe, "-s", m.SetupBin, "-o", image], stdout, stderr));

        var k = KernelLoadImage.Read(probe);
        Assert.Equal(2, k.Segments.Count);
        var tail = k.Segments[0];
        Assert.True(tail.MemorySize - tail.FileSize >= 0x70000);
        // On the BIOS path the loaded image covers the tail's destination before the copy.
        Assert.True(SetupHeader.HighLoadAddress + (ulong)new FileInfo(image).Length > tail.PhysicalEnd);
        // The unused slot tails are not in the image: the stub fills them.
        var probeVm = new FileInfo(probe).Length;
        Assert.True(new FileInfo(image).Length < probeVm - ProbeKernel.SlotSize, "the slot tails were stored");

        int? bios = ProbeKernel.Boot(image, Path.Combine(probeDir, "bios.log"));
        output.WriteLine($"BIOS path: status {bios}");
        Assert.Equal(ProbeKernel.Success, bios);

        string loader = Pvh64Loader.Build(image, _dir.CreateSubdirectory("probe64").FullName);
        int? entry64 = ProbeKernel.Boot(loader, Path.Combine(probeDir, "64.log"));
        output.WriteLine($"64-bit entry: status {entry64}");
        Assert.Equal(ProbeKernel.Success, entry64);
    }

    [Fact]
    public void SetupFromKbuildBzImageGivesTheSameImage()
    {
        var m = KernelBuild.Ensure();
        var fromSetupBin = File.ReadAllBytes(Pack(m, m.SetupBin, "a"));
        var fromBzImage = File.ReadAllBytes(Pack(m, m.BzImage, "b"));
        Assert.True(fromSetupBin.AsSpan().SequenceEqual(fromBzImage), "images differ");
    }

    [Fact]
    public void HeaderAgreesWithKbuildWhereItMustAndDiffersWhereItMust()
    {
        var m = KernelBuild.Ensure();
        string path = Pack(m, m.SetupBin);
        var ours = File.ReadAllBytes(path);
        var kbuild = File.ReadAllBytes(m.BzImage);
        var kernel = KernelLoadImage.Read(m.Vmlinux);

        // Same setup code, same kernel: these must agree with kbuild's image.
        string[] same =
        [
            "setup_sects", "root_flags", "ram_size", "vid_mode", "root_dev", "boot_flag", "jump", "header", "version",
            "realmode_swtch", "start_sys_seg", "kernel_version", "type_of_loader", "loadflags", "setup_move_size",
            "code32_start", "ramdisk_image", "ramdisk_size", "bootsect_kludge", "heap_end_ptr", "ext_loader_ver",
            "ext_loader_type", "cmd_line_ptr", "initrd_addr_max", "kernel_alignment", "relocatable_kernel",
            "min_alignment", "cmdline_size", "hardware_subarch", "hardware_subarch_data", "setup_data", "pref_address",
            "handover_offset",
        ];
        foreach (var name in same)
        {
            var f = SetupHeader.Find(name)!;
            Assert.True(f.Read(ours) == f.Read(kbuild), $"{name}: ours 0x{f.Read(ours):x}, kbuild 0x{f.Read(kbuild):x}");
        }
        Assert.Equal(0x020FUL, SetupHeader.Version.Read(ours));
        Assert.Equal(0UL, SetupHeader.RelocatableKernel.Read(ours));
        Assert.Equal(0UL, SetupHeader.HandoverOffset.Read(ours));
        Assert.Equal(kernel.PhysicalStart, SetupHeader.PrefAddress.Read(ours));

        int setupSize = SetupHeader.RealModeSize(ours[0x1F1]);
        Assert.True(ours.AsSpan(0, 0x1F1).SequenceEqual(kbuild.AsSpan(0, 0x1F1)), "boot sectors differ");
        Assert.True(ours.AsSpan(SetupHeader.End215, setupSize - SetupHeader.End215)
            .SequenceEqual(kbuild.AsSpan(SetupHeader.End215, setupSize - SetupHeader.End215)), "setup code differs");

        // Different image, so these must differ, each as the protocol defines it.
        Assert.Equal((ulong)(ours.Length - setupSize), SetupHeader.Syssize.Read(ours) * 16);
        Assert.NotEqual(SetupHeader.Syssize.Read(kbuild), SetupHeader.Syssize.Read(ours));
        Assert.Equal((ulong)SetupHeader.XlfKernel64, SetupHeader.XLoadFlags.Read(ours));
        ulong kernelImage = kernel.PhysicalEnd - kernel.PhysicalStart;
        Assert.True(SetupHeader.InitSize.Read(ours) >= kernelImage + BootImageLayout.ScratchSize,
            $"init_size 0x{SetupHeader.InitSize.Read(ours):x} does not cover the kernel (0x{kernelImage:x}) and the scratch area");
        Assert.Equal((ulong)BootImageLayout.PayloadOffset, SetupHeader.PayloadOffset.Read(ours));
        var info = BootImageInfo.Read(path);
        var kinfo = BootImageInfo.Read(m.BzImage);
        Assert.Equal("ELF", info.PayloadFormat);
        Assert.Equal("gzip", kinfo.PayloadFormat);
        Assert.True(info.PayloadSegments.Count(p => p.Type == 1) >= kernel.Segments.Count);
        Assert.Equal(kinfo.KernelInfo!.Value.SetupTypeMax, info.KernelInfo!.Value.SetupTypeMax);

        // Both CRC trailers are build.c's: the complement of the standard CRC-32 of everything before them.
        foreach (var image in new[] { ours, kbuild })
        {
            uint stored = BinaryPrimitives.ReadUInt32LittleEndian(image.AsSpan(image.Length - 4));
            Assert.Equal(~Crc32.HashToUInt32(image.AsSpan(0, image.Length - 4)), stored);
        }
        output.WriteLine($"ukl-link bzImage {ours.Length} bytes, kbuild bzImage {kbuild.Length} bytes; init_size 0x{SetupHeader.InitSize.Read(ours):x} vs 0x{SetupHeader.InitSize.Read(kbuild):x}");
    }

    [Fact]
    public void CorruptOrMismatchedRealSetupIsRejected()
    {
        var m = KernelBuild.Ensure();
        var setup = File.ReadAllBytes(m.SetupBin);
        var cases = new (string Name, byte[] Bytes, string Mentions)[]
        {
            ("truncated", setup[..(setup.Length / 2)], "truncated"),
            ("old-protocol", Patch(setup, 0x206, 0x0E), "too old"),
            ("no-hdrs", Patch(setup, 0x202, (byte)'h'), "HdrS"),
            ("no-boot-flag", Patch(setup, 0x1FE, 0), "0xAA55"),
        };
        foreach (var (name, bytes, mentions) in cases)
        {
            string bad = Path.Combine(_dir.FullName, name);
            File.WriteAllBytes(bad, bytes);
            AssertRejected(["pack", "-k", m.Vmlinux, "-s", bad, "-o", Path.Combine(_dir.FullName, "out")], bad, mentions);
        }
        // A vmlinux is not a setup, and a bzImage is not a vmlinux.
        AssertRejected(["pack", "-k", m.Vmlinux, "-s", m.Vmlinux, "-o", Path.Combine(_dir.FullName, "out")], m.Vmlinux, "not a real-mode setup");
        AssertRejected(["pack", "-k", m.BzImage, "-s", m.SetupBin, "-o", Path.Combine(_dir.FullName, "out")], m.BzImage, "not a kernel image");
        Assert.False(File.Exists(Path.Combine(_dir.FullName, "out")));
    }

    private static byte[] Patch(byte[] source, int offset, byte value)
    {
        var copy = (byte[])source.Clone();
        copy[offset] = value;
        return copy;
    }

    private static void AssertRejected(string[] args, string file, string mentions)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int exit = UklLinkCli.Run(args, stdout, stderr);
        var lines = stderr.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, exit);
        Assert.True(lines.Length == 1, stderr.ToString());
        Assert.Contains(file, lines[0]);
        Assert.Contains(mentions, lines[0]);
    }
}
