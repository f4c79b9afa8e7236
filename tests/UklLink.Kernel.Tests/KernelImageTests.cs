using ELFSharp.ELF;
using ELFSharp.ELF.Sections;

namespace UklLink.Kernel.Tests;

/// <summary>
/// (c) The reference vmlinux carries the slot ABI v2 (docs/slot-abi.md): slot symbols,
/// their placement inside the kernel's own ranges, their fill, and ukl_descriptor.
/// Everything is read from the ELF file.
/// </summary>
public sealed class KernelImageTests
{
    private const ulong PageSize = 4096;
    private const int DescriptorSize = 192;

    private static readonly (string Slot, string Config, string RangeStart, string RangeEnd, string Section)[] Slots =
    [
        ("text", "CONFIG_UKL_TEXT_SLOT_SIZE", "_stext", "_etext", ".text"),
        ("rodata", "CONFIG_UKL_RODATA_SLOT_SIZE", "__start_rodata", "__end_rodata", ".rodata"),
        ("data", "CONFIG_UKL_DATA_SLOT_SIZE", "_sdata", "_edata", ".data"),
        ("bss", "CONFIG_UKL_BSS_SLOT_SIZE", "__bss_start", "__bss_stop", ".bss"),
    ];

    private sealed class Image : IDisposable
    {
        public required IELF Elf { get; init; }
        public required Dictionary<string, SymbolEntry<ulong>> Symbols { get; init; }
        public required string Path { get; init; }
        public void Dispose() => Elf.Dispose();

        public SymbolEntry<ulong> Symbol(string name) =>
            Symbols.TryGetValue(name, out var s) ? s : throw new Xunit.Sdk.XunitException($"vmlinux has no symbol {name}");

        public ulong Addr(string name) => Symbol(name).Value;

        public Section<ulong> SectionAt(ulong address) =>
            Elf.Sections.OfType<Section<ulong>>()
               .Where(s => (s.Flags & SectionFlags.Allocatable) != 0 && s.Size > 0)
               .FirstOrDefault(s => address >= s.LoadAddress && address < s.LoadAddress + s.Size)
            ?? throw new Xunit.Sdk.XunitException($"no allocated section contains 0x{address:x}");

        /// <summary>File bytes at a virtual address (the section must have file contents).</summary>
        public byte[] Read(ulong address, ulong length)
        {
            var s = SectionAt(address);
            Assert.Equal(SectionType.ProgBits, s.Type);
            Assert.True(address + length <= s.LoadAddress + s.Size, $"0x{address:x}+{length} runs past {s.Name}");
            var buf = new byte[length];
            using var f = File.OpenRead(Path);
            f.Position = (long)(s.Offset + (address - s.LoadAddress));
            f.ReadExactly(buf);
            return buf;
        }
    }

    private static Image Open()
    {
        var manifest = KernelBuild.Ensure();
        var elf = ELFReader.Load(manifest.Vmlinux);
        var symtab = (SymbolTable<ulong>)elf.GetSection(".symtab");
        var symbols = new Dictionary<string, SymbolEntry<ulong>>(StringComparer.Ordinal);
        foreach (var s in symtab.Entries)
        {
            if (s.Name.Length > 0 && (!symbols.TryGetValue(s.Name, out var old) || old.Binding != SymbolBinding.Global))
                symbols[s.Name] = s;
        }
        return new Image { Elf = elf, Symbols = symbols, Path = manifest.Vmlinux };
    }

    [Fact]
    public void KernelIsConfiguredForUkl()
    {
        var m = KernelBuild.Ensure();
        Assert.Equal("y", m.ConfigValue("CONFIG_UNIKERNEL_LINUX"));
        Assert.Null(m.ConfigValue("CONFIG_RANDOMIZE_BASE"));
        Assert.Null(m.ConfigValue("CONFIG_MODULES"));
        Assert.Equal("y", m.ConfigValue("CONFIG_PVH"));
        Assert.True(File.Exists(m.BzImage) && File.Exists(m.SetupBin) && File.Exists(m.SystemMap));
    }

    [Fact]
    public void SlotSymbolsArePageAlignedGlobalsOfTheConfiguredSize()
    {
        var m = KernelBuild.Ensure();
        using var img = Open();
        foreach (var (slot, config, _, _, _) in Slots)
        {
            var start = img.Symbol($"__ukl_{slot}_slot_start");
            var end = img.Symbol($"__ukl_{slot}_slot_end");
            Assert.Equal(SymbolBinding.Global, start.Binding);
            Assert.Equal(SymbolBinding.Global, end.Binding);
            Assert.True(start.Value % PageSize == 0, $"{slot} slot start 0x{start.Value:x} not page aligned");
            Assert.True(end.Value % PageSize == 0, $"{slot} slot end 0x{end.Value:x} not page aligned");
            Assert.Equal(m.ConfigHex(config), end.Value - start.Value);
        }
    }

    /// <summary>Per-process data: the data and bss slots start on a 2 MiB boundary and span whole PMDs.</summary>
    [Fact]
    public void DataAndBssSlotsOwnWholePmds()
    {
        const ulong Pmd = 2UL << 20;
        using var img = Open();
        foreach (var slot in new[] { "data", "bss" })
        {
            var start = img.Addr($"__ukl_{slot}_slot_start");
            var end = img.Addr($"__ukl_{slot}_slot_end");
            Assert.True(start % Pmd == 0 && end % Pmd == 0, $"{slot} slot [0x{start:x},0x{end:x}) is not on 2 MiB boundaries");
            // All of them in the kernel image's 1 GiB (one PMD page).
            Assert.Equal(img.Addr("_text") >> 30, start >> 30);
            Assert.Equal(img.Addr("_text") >> 30, (end - 1) >> 30);
        }
        // .data starts on a 2 MiB boundary, so the data slot there needs no padding.
        Assert.Equal(img.Addr("_sdata"), img.Addr("__ukl_data_slot_start"));
    }

    [Fact]
    public void SlotsLieInsideTheRequiredKernelRanges()
    {
        using var img = Open();
        foreach (var (slot, _, rangeStart, rangeEnd, section) in Slots)
        {
            var start = img.Addr($"__ukl_{slot}_slot_start");
            var end = img.Addr($"__ukl_{slot}_slot_end");
            var lo = img.Addr(rangeStart);
            var hi = img.Addr(rangeEnd);
            Assert.True(lo <= start && start < end && end <= hi,
                $"{slot} slot [0x{start:x},0x{end:x}) not inside [{rangeStart}=0x{lo:x},{rangeEnd}=0x{hi:x})");
            var s = img.SectionAt(start);
            Assert.Equal(section, s.Name);
            Assert.True(end <= s.LoadAddress + s.Size, $"{slot} slot runs past {s.Name}");
        }
        // Never in the init range, which is freed after boot.
        var initBegin = img.Addr("__init_begin");
        var initEnd = img.Addr("__init_end");
        foreach (var (slot, _, _, _, _) in Slots)
        {
            var start = img.Addr($"__ukl_{slot}_slot_start");
            var end = img.Addr($"__ukl_{slot}_slot_end");
            Assert.True(end <= initBegin || start >= initEnd, $"{slot} slot overlaps the init range");
        }
    }

    [Fact]
    public void SlotFillMatchesTheAbi()
    {
        using var img = Open();
        AssertFilled(img, "text", 0xCC);
        AssertFilled(img, "rodata", 0x00);
        AssertFilled(img, "data", 0x00);

        var bss = img.SectionAt(img.Addr("__ukl_bss_slot_start"));
        Assert.Equal(SectionType.NoBits, bss.Type);
        // The text slot sits in the executable PT_LOAD, rodata in a read-only one.
        var text = img.SectionAt(img.Addr("__ukl_text_slot_start"));
        Assert.True((text.Flags & SectionFlags.Executable) != 0, ".text is not SHF_EXECINSTR");
    }

    private static void AssertFilled(Image img, string slot, byte fill)
    {
        var start = img.Addr($"__ukl_{slot}_slot_start");
        var end = img.Addr($"__ukl_{slot}_slot_end");
        var bytes = img.Read(start, end - start);
        var bad = Array.FindIndex(bytes, b => b != fill);
        Assert.True(bad < 0, $"{slot} slot byte at 0x{start + (ulong)bad:x} is 0x{(bad < 0 ? 0 : bytes[bad]):x2}, want 0x{fill:x2}");
    }

    [Fact]
    public void DescriptorHasTheV2LayoutAndDeclaresItsFeatures()
    {
        var m = KernelBuild.Ensure();
        using var img = Open();
        var d = img.Symbol("ukl_descriptor");
        Assert.Equal(SymbolBinding.Global, d.Binding);
        Assert.Equal(SymbolType.Object, d.Type);
        Assert.Equal((ulong)DescriptorSize, d.Size);
        Assert.True(d.Value % 64 == 0, $"ukl_descriptor at 0x{d.Value:x} is not 64-byte aligned");
        Assert.Equal(".data", img.SectionAt(d.Value).Name);
        Assert.True(d.Value >= img.Addr("_sdata") && d.Value + DescriptorSize <= img.Addr("_edata"));

        var b = img.Read(d.Value, DescriptorSize);
        ulong U64(int off) => BitConverter.ToUInt64(b, off);
        uint U32(int off) => BitConverter.ToUInt32(b, off);
        Assert.Equal(0UL, U64(0x00));                      // magic: no application linked
        Assert.Equal(2U, U32(0x08));                       // abi_version
        Assert.Equal((uint)DescriptorSize, U32(0x0C));     // size
        Assert.Equal(m.ConfigHex("CONFIG_UKL_STACK_SIZE"), U64(0x90)); // stack_size
        // features: the event stack, per-process .data/.bss and the bypass entries (0022), nothing else
        Assert.Equal(SlotAbi.Features.EventStack | SlotAbi.Features.PerProcessData | SlotAbi.Features.Bypass, U64(0xA0));
        for (var off = 0x10; off < DescriptorSize; off += 8)
        {
            if (off is 0x90 or 0xA0) continue;
            Assert.True(U64(off) == 0, $"ukl_descriptor+0x{off:x2} is 0x{U64(off):x}, want 0");
        }
    }
}
