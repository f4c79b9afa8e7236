using System.Buffers.Binary;
using System.Text;
using UklLink.Inputs;
using UklLink.Kernel;
using UklLink.Linking;
using static UklLink.Inputs.ElfConstants;

namespace UklLink.Output;

/// <summary>
/// Writes the linked vmlinux: the kernel file byte for byte, except the slot bytes and the descriptor (patched in
/// place) and .symtab/.strtab, which gain the application's symbols. Those two (and .shstrtab and the section header
/// table after them) are rewritten at the end of the file; no loaded byte moves. See docs/slot-abi.md, "What
/// ukl-link may write".
/// </summary>
public static class VmlinuxWriter
{
    /// <summary>A non-allocated section appended to the output (the application's DWARF).</summary>
    public sealed record ExtraSection(string Name, uint Type, ulong Flags, ulong Alignment, byte[] Data);

    private const int SectionHeaderSize = SectionHeader.Size64, SymSize = 24;

    public static void Write(KernelImage kernel, string outputPath, IReadOnlyList<(ulong Address, byte[] Bytes)> patches,
        IReadOnlyList<OutputSymbol> symbols, IReadOnlyList<ExtraSection>? extraSections = null)
    {
        var extras = extraSections ?? Array.Empty<ExtraSection>();
        using var source = InputFiles.OpenRead(kernel.Path);
        var ehdr = new byte[64];
        source.ReadExactly(ehdr);
        // The kernel's own header pass read and checked the section table; the writer adjusts copies of it.
        ulong shoff = kernel.Header.SectionHeaderOffset;
        int shstrndx = (int)kernel.Header.SectionNameTableIndex;
        var shdrs = kernel.SectionHeaders.Select(h => h.Clone()).ToList();
        int shnum = shdrs.Count;
        int symtabIndex = shdrs.FindIndex(s => s.Type == SHT_SYMTAB);
        if (symtabIndex < 0)
            throw new InputException(kernel.Path, "kernel image has no .symtab (was it stripped?)");
        var symtab = shdrs[symtabIndex];
        var strtab = shdrs[(int)symtab.Link];
        var shstrtab = shdrs[shstrndx];

        // Everything from the symbol table on is rewritten when only the string tables follow it; otherwise append.
        var tail = new HashSet<SectionHeader> { symtab, strtab, shstrtab };
        ulong cut = symtab.Offset;
        bool tidy = shdrs.Where(s => s.HasFileBytes && !tail.Contains(s)).All(s => s.Offset + s.Size <= cut)
            && tail.All(s => s.Offset >= cut) && shoff >= cut;
        if (!tidy)
            cut = (ulong)source.Length;

        var filePatches = patches.Select(p => (Offset: FileOffset(shdrs, p.Address, p.Bytes.Length, kernel.Path), p.Bytes))
            .OrderBy(p => p.Offset).ToList();

        var (newSymtab, newStrtab, localCount) = BuildSymbols(source, symtab, strtab, shdrs, symbols);
        byte[] shstrBytes = ReadAt(source, shstrtab.Offset, (int)shstrtab.Size);
        // Names of appended sections go at the end of .shstrtab.
        var extraHeaders = new List<SectionHeader>();
        if (extras.Count > 0)
        {
            var names = new MemoryStream();
            names.Write(shstrBytes);
            foreach (var e in extras)
            {
                extraHeaders.Add(new SectionHeader { Name = (uint)names.Length, Type = e.Type, Flags = e.Flags, AddrAlign = e.Alignment, Size = (ulong)e.Data.Length });
                names.Write(Encoding.UTF8.GetBytes(e.Name));
                names.WriteByte(0);
            }
            shstrBytes = names.ToArray();
            shstrtab.Size = (ulong)shstrBytes.Length;
        }

        AtomicFile.Edit(outputPath, kernel.Path, output =>
        {
            // The copy is made by the file system; only the patches and the rewritten tail pass through here.
            foreach (var (offset, bytes) in filePatches)
            {
                output.Position = (long)offset;
                output.Write(bytes);
            }
            output.SetLength((long)cut);
            output.Position = (long)cut;
            ulong pos = cut;
            pos = Pad(output, pos, 8);
            symtab.Offset = pos;
            symtab.Size = (ulong)newSymtab.Length;
            symtab.Info += (uint)localCount;
            output.Write(newSymtab);
            pos += (ulong)newSymtab.Length;
            strtab.Offset = pos;
            strtab.Size = (ulong)newStrtab.Length;
            output.Write(newStrtab);
            pos += (ulong)newStrtab.Length;
            for (int i = 0; i < extras.Count; i++)
            {
                pos = Pad(output, pos, Math.Max(1, extras[i].Alignment));
                extraHeaders[i].Offset = pos;
                output.Write(extras[i].Data);
                pos += (ulong)extras[i].Data.Length;
            }
            if (!ReferenceEquals(shstrtab, strtab))
            {
                shstrtab.Offset = pos;
                output.Write(shstrBytes);
                pos += (ulong)shstrBytes.Length;
            }
            pos = Pad(output, pos, 8);
            var all = shdrs.Concat(extraHeaders).ToList();
            var newTable = new byte[all.Count * SectionHeaderSize];
            for (int i = 0; i < all.Count; i++)
                all[i].Write(newTable.AsSpan(i * SectionHeaderSize));
            output.Write(newTable);
            BinaryPrimitives.WriteUInt64LittleEndian(ehdr.AsSpan(0x28), pos);
            BinaryPrimitives.WriteUInt16LittleEndian(ehdr.AsSpan(0x3c), (ushort)all.Count);
            output.Position = 0;
            output.Write(ehdr);
        });
    }

    private static ulong Pad(Stream output, ulong pos, ulong align)
    {
        ulong aligned = (pos + align - 1) & ~(align - 1);
        for (; pos < aligned; pos++)
            output.WriteByte(0);
        return aligned;
    }

    private static byte[] ReadAt(Stream s, ulong offset, int count)
    {
        var b = new byte[count];
        s.Position = (long)offset;
        s.ReadExactly(b);
        return b;
    }

    private static ulong FileOffset(List<SectionHeader> shdrs, ulong address, int length, string path) =>
        shdrs.Select(s => s.FileOffsetOf(address, (ulong)length)).FirstOrDefault(o => o is not null)
            ?? throw new InputException(path, $"0x{length:x} bytes at 0x{address:x} are not inside a kernel section with file contents");

    private static (byte[] Symtab, byte[] Strtab, int LocalCount) BuildSymbols(Stream source, SectionHeader symtab, SectionHeader strtab, List<SectionHeader> shdrs,
        IReadOnlyList<OutputSymbol> symbols)
    {
        var old = ReadAt(source, symtab.Offset, (int)symtab.Size);
        var strings = new MemoryStream();
        strings.Write(ReadAt(source, strtab.Offset, (int)strtab.Size));
        var offsets = new Dictionary<string, uint>(StringComparer.Ordinal);
        uint Name(string name)
        {
            if (!offsets.TryGetValue(name, out uint at))
            {
                at = (uint)strings.Length;
                strings.Write(Encoding.UTF8.GetBytes(name));
                strings.WriteByte(0);
                offsets[name] = at;
            }
            return at;
        }

        var locals = symbols.Where(s => s.Bind == STB_LOCAL).ToList();
        var globals = symbols.Where(s => s.Bind != STB_LOCAL).ToList();
        int oldLocals = (int)symtab.Info;
        var result = new byte[old.Length + symbols.Count * SymSize];
        int at = 0;
        old.AsSpan(0, oldLocals * SymSize).CopyTo(result);
        at += oldLocals * SymSize;
        foreach (var s in locals)
            at = WriteSymbol(result, at, s, Name(s.Name), shdrs);
        old.AsSpan(oldLocals * SymSize).CopyTo(result.AsSpan(at));
        at += old.Length - oldLocals * SymSize;
        foreach (var s in globals)
            at = WriteSymbol(result, at, s, Name(s.Name), shdrs);
        return (result, strings.ToArray(), locals.Count);
    }

    private static int WriteSymbol(byte[] d, int at, OutputSymbol s, uint name, List<SectionHeader> shdrs)
    {
        var span = d.AsSpan(at);
        BinaryPrimitives.WriteUInt32LittleEndian(span, name);
        span[4] = (byte)((s.Bind << 4) | (s.Type & 0xf));
        span[5] = s.Visibility;
        ushort shndx = (ushort)SHN_ABS;
        if (!s.Absolute)
        {
            for (int i = 1; i < shdrs.Count; i++)
            {
                var h = shdrs[i];
                if ((h.Flags & SHF_ALLOC) != 0 && s.Address >= h.Addr && s.Address - h.Addr < Math.Max(h.Size, 1) && h.Size > 0)
                {
                    shndx = (ushort)i;
                    break;
                }
            }
        }
        BinaryPrimitives.WriteUInt16LittleEndian(span[6..], shndx);
        BinaryPrimitives.WriteUInt64LittleEndian(span[8..], s.Value);
        BinaryPrimitives.WriteUInt64LittleEndian(span[16..], s.Size);
        return at + SymSize;
    }
}
