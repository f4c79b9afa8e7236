using System.Buffers.Binary;
using System.Text;
using UklLink.Inputs;
using UklLink.Kernel;

namespace UklLink.Boot;

/// <summary>A range of a PT_LOAD's file bytes the image does not store: the stub fills it with <see cref="Fill"/>.</summary>
public sealed record OmittedRange(string Slot, ulong PhysicalAddress, ulong Length, byte Fill)
{
    public ulong PhysicalEnd => PhysicalAddress + Length;
}

/// <summary>
/// Finds the unused tails of a UKL kernel's text, rodata and data slots (docs/slot-abi.md): the run of fill bytes
/// (0xCC in the text slot, zero in rodata and data) from the slot's end backwards. An application is linked from the
/// slot's start, so the tail is what it left unused. The bytes are checked, not assumed: only a range that really
/// holds the fill is left out, so any vmlinux packs correctly. The bss slot has no file bytes and needs nothing.
/// </summary>
public static class SlotTails
{
    /// <summary>Tails shorter than this are stored anyway.</summary>
    public const ulong MinimumLength = 64 * 1024;

    private static readonly (SlotName Slot, byte Fill)[] Filled =
    [
        (SlotAbi.Text, 0xCC),
        (SlotAbi.Rodata, 0x00),
        (SlotAbi.Data, 0x00),
    ];

    public static IReadOnlyList<OmittedRange> Find(Stream stream, string name, KernelLoadImage kernel)
    {
        var symbols = ReadSymbols(stream, name, Filled.SelectMany(f => new[] { f.Slot.StartSymbol, f.Slot.EndSymbol }).ToHashSet());
        var result = new List<OmittedRange>();
        foreach (var (slot, fill) in Filled)
        {
            if (!symbols.TryGetValue(slot.StartSymbol, out ulong start) || !symbols.TryGetValue(slot.EndSymbol, out ulong end) || end <= start)
                continue;
            var seg = kernel.Segments.FirstOrDefault(s => start >= s.VirtualAddress && end - s.VirtualAddress <= s.FileSize);
            if (seg is null)
                continue;
            ulong run = TrailingRun(stream, seg.FileOffset + (start - seg.VirtualAddress), end - start, fill);
            run &= ~7UL; // whole qwords, so the stored part keeps its alignment
            if (run >= MinimumLength)
                result.Add(new OmittedRange(slot.Role, seg.PhysicalAddress + (end - run - seg.VirtualAddress), run, fill));
        }
        result.Sort((a, b) => a.PhysicalAddress.CompareTo(b.PhysicalAddress));
        return result;
    }

    private static ulong TrailingRun(Stream stream, ulong offset, ulong length, byte fill)
    {
        var buffer = new byte[1 << 16];
        ulong run = 0;
        while (run < length)
        {
            int n = (int)Math.Min((ulong)buffer.Length, length - run);
            stream.Position = (long)(offset + length - run - (ulong)n);
            stream.ReadExactly(buffer, 0, n);
            int other = buffer.AsSpan(0, n).LastIndexOfAnyExcept(fill);
            if (other >= 0)
                return run + (ulong)(n - other - 1);
            run += (ulong)n;
        }
        return run;
    }

    /// <summary>Values of the wanted symbols from .symtab, looked up in place by the shared ELF reader.</summary>
    private static Dictionary<string, ulong> ReadSymbols(Stream stream, string name, HashSet<string> wanted)
    {
        var found = new Dictionary<string, ulong>(StringComparer.Ordinal);
        using var file = MappedFile.Of(stream, name);
        var elf = ElfImage.Read(file.All, name); // checks the section header table and every section's range
        foreach (var symtab in elf.Sections.Where(s => s.Type == ElfConstants.SHT_SYMTAB))
        {
            var table = new KernelSymbolTable(elf, symtab);
            foreach (var w in wanted)
                if (table.FindAny(w) is var i and >= 0)
                    found.TryAdd(w, table.Get(i).Value);
        }
        return found;
    }
}
