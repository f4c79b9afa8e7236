using ELFSharp.ELF;
using ELFSharp.ELF.Sections;
using UklLink.Tests.Support;
using Xunit;

namespace UklLink.Tests.Link;

/// <summary>The comparer on images whose differences are known: ld's own output, a patched copy and a kernel image.</summary>
public class LinkComparerTests
{
    private static TestKernel K => TestKernel.Fake;

    private static string Copy(string path)
    {
        string copy = Path.Combine(Toolchain.NewWorkDirectory(), "vmlinux");
        File.Copy(path, copy);
        return copy;
    }

    /// <summary>Writes bytes into an ELF file at a virtual address, through the allocated section that holds it.</summary>
    private static void Poke(string path, ulong address, byte[] bytes)
    {
        long offset;
        using (var elf = ELFReader.Load<ulong>(path))
        {
            var s = elf.Sections.First(s => (s.Flags & SectionFlags.Allocatable) != 0 && s.Type != SectionType.NoBits
                && address >= s.LoadAddress && address + (ulong)bytes.Length <= s.LoadAddress + s.Size);
            offset = (long)(s.Offset + (address - s.LoadAddress));
        }
        using var f = File.OpenWrite(path);
        f.Position = offset;
        f.Write(bytes);
    }

    [Fact]
    public void LdOutputMatchesItself()
    {
        var ld = LdOracle.Link(K.Vmlinux, LinkCorpus.Tls(K).Inputs);
        LinkComparer.AssertSameAs(ld, ld.Output, K.Vmlinux, checkDescriptor: false);
    }

    [Fact]
    public void ByteDifferenceIsReportedWithAddressAndHexWindow()
    {
        var ld = LdOracle.Link(K.Vmlinux, LinkCorpus.FunctionPointerTables(K).Inputs);
        var data = ld.Section(".data");
        string changed = Copy(ld.Output);
        Poke(changed, data.Address + 0x13, [(byte)(data.Bytes[0x13] ^ 0xff)]);
        var e = Assert.ThrowsAny<Exception>(() => LinkComparer.AssertSameAs(ld, changed, K.Vmlinux, checkDescriptor: false));
        Assert.Contains($".data [0x{data.Address:x}, 0x{data.End:x}): 1 byte(s) differ, the first at 0x{data.Address + 0x13:x} (.data+0x13)", e.Message);
        Assert.Contains($"ld       {data.Address + 0x10:x16}:", e.Message);
        Assert.Contains($"[{data.Bytes[0x13]:x2}]", e.Message);
        Assert.Contains($"[{data.Bytes[0x13] ^ 0xff:x2}]", e.Message);
        Assert.DoesNotContain("\nsymbol ", e.Message);
    }

    [Fact]
    public void KernelWithTheSlotBytesButNoSymbolsReportsEachMissingSymbol()
    {
        var ld = LdOracle.Link(K.Vmlinux, LinkCorpus.Tls(K).Inputs);
        string image = Copy(K.Vmlinux);
        foreach (var s in ld.Sections.Where(s => !s.NoBits))
            Poke(image, s.Address, s.Bytes);
        // The descriptor as ukl-link would write it, but with a wrong tls_memsz.
        var tls = ld.Tls!;
        var descriptor = new[] { 0x31305050414C4B55UL, 0x000000c000000001UL, ld.Entry, tls.Address, tls.FileSize, tls.MemorySize + 8, tls.Alignment }
            .SelectMany(BitConverter.GetBytes).ToArray();
        Poke(image, LdOracle.KernelSymbols(K.Vmlinux).First(s => s.Item1 == "ukl_descriptor").Item2, descriptor);
        var e = Assert.ThrowsAny<Exception>(() => LinkComparer.AssertSameAs(ld, image, K.Vmlinux));
        Assert.DoesNotContain("byte(s) differ", e.Message);
        Assert.Contains($"\nukl_descriptor.tls_memsz is 0x{tls.MemorySize + 8:x}, ld's link says 0x{tls.MemorySize:x}", e.Message);
        Assert.Single(e.Message.Split('\n'), l => l.StartsWith("ukl_descriptor", StringComparison.Ordinal));
        Assert.Contains($"symbol {ld.Symbol("le_get")}: ukl-link has no such symbol", e.Message);
        var counter = ld.Symbol("tls_counter");
        Assert.Contains($"symbol tls_counter = 0x{counter.Value:x} (Global TLS, .tdata, size 8): ukl-link has no such symbol", e.Message);
    }

    [Fact]
    public void SectionOutsideTheImageIsReported()
    {
        var ld = LdOracle.Link(K.Vmlinux, LinkCorpus.SwitchTables(K).Inputs);
        var moved = ld with { Sections = [ld.Section(".text") with { Address = 0x1000 }] };
        var e = Assert.ThrowsAny<Exception>(() => LinkComparer.AssertSameAs(moved, ld.Output, K.Vmlinux, checkDescriptor: false));
        Assert.Contains(".text [0x1000, 0x", e.Message);
        Assert.Contains("no allocated section of ukl-link's output contains it", e.Message);
    }
}
