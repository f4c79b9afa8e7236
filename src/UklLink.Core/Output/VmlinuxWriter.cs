using System.Buffers.Binary;
using System.Text;
using Microsoft.Win32.SafeHandles;
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
        var elf = kernel.Elf;
        var ehdr = elf.File.Span(0, 64).ToArray();
        // The kernel's own header pass read and checked the section table; the writer adjusts copies of it.
        ulong shoff = kernel.Header.SectionHeaderOffset;
        int shstrndx = (int)kernel.Header.SectionNameTableIndex;
        var shdrs = kernel.SectionHeaders.Select(h => h.Clone()).ToList();
        int symtabIndex = shdrs.FindIndex(s => s.Type == SHT_SYMTAB);
        if (symtabIndex < 0)
            throw new InputException(kernel.Path, "kernel image has no .symtab (was it stripped?)");
        var symtab = shdrs[symtabIndex];
        var strtab = shdrs[(int)symtab.Link];
        var shstrtab = shdrs[shstrndx];
        var original = kernel.SectionHeaders;

        // Everything from the symbol table on is rewritten when only the string tables follow it; otherwise append.
        var tail = new HashSet<SectionHeader> { symtab, strtab, shstrtab };
        ulong cut = symtab.Offset;
        bool tidy = shdrs.Where(s => s.HasFileBytes && !tail.Contains(s)).All(s => s.Offset + s.Size <= cut)
            && tail.All(s => s.Offset >= cut) && shoff >= cut;
        if (!tidy)
            cut = elf.File.Length;

        var filePatches = patches.Select(p => (Offset: FileOffset(shdrs, p.Address, p.Bytes.Length, kernel.Path), p.Bytes))
            .OrderBy(p => p.Offset).ToList();

        var (newLocals, newGlobals, newNames, localCount) = BuildSymbols((int)strtab.Size, shdrs, symbols);
        byte[] shstrBytes = elf.Bytes(original[shstrndx]).ToArray();
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

        AtomicFile.WriteAt(outputPath, output =>
        {
            // The unchanged bytes are copied by the kernel (copy_file_range); only the patches and the rewritten tail
            // pass through here, and the old symbol and string tables go from the mapping straight to the file.
            FileCopy.CopyPrefix(kernel.Path, elf.File.File, output, (long)cut);
            foreach (var (offset, bytes) in filePatches)
                RandomAccess.Write(output, bytes, (long)offset);
            var oldSymtab = elf.Bytes(original[symtabIndex]);
            int oldLocals = (int)symtab.Info;
            var at = new TailWriter(output, cut);
            at.Pad(8);
            symtab.Offset = at.Position;
            at.Write(oldSymtab[..(oldLocals * SymSize)]);
            at.Write(newLocals);
            at.Write(oldSymtab[(oldLocals * SymSize)..]);
            at.Write(newGlobals);
            symtab.Size = at.Position - symtab.Offset;
            symtab.Info += (uint)localCount;
            strtab.Offset = at.Position;
            at.Write(elf.Bytes(original[(int)original[symtabIndex].Link]));
            at.Write(newNames);
            strtab.Size = at.Position - strtab.Offset;
            for (int i = 0; i < extras.Count; i++)
            {
                at.Pad(Math.Max(1, extras[i].Alignment));
                extraHeaders[i].Offset = at.Position;
                at.Write(extras[i].Data);
            }
            if (!ReferenceEquals(shstrtab, strtab))
            {
                shstrtab.Offset = at.Position;
                at.Write(shstrBytes);
            }
            at.Pad(8);
            ulong tableOffset = at.Position;
            var all = shdrs.Concat(extraHeaders).ToList();
            var newTable = new byte[all.Count * SectionHeaderSize];
            for (int i = 0; i < all.Count; i++)
                all[i].Write(newTable.AsSpan(i * SectionHeaderSize));
            at.Write(newTable);
            RandomAccess.SetLength(output, (long)at.Position);
            BinaryPrimitives.WriteUInt64LittleEndian(ehdr.AsSpan(0x28), tableOffset);
            BinaryPrimitives.WriteUInt16LittleEndian(ehdr.AsSpan(0x3c), (ushort)all.Count);
            RandomAccess.Write(output, ehdr, 0);
        }, modeFrom: kernel.Path);
    }

    /// <summary>Sequential writes from a file offset on, straight to the handle.</summary>
    private sealed class TailWriter(SafeFileHandle handle, ulong start)
    {
        public ulong Position { get; private set; } = start;

        public void Write(ReadOnlySpan<byte> bytes)
        {
            RandomAccess.Write(handle, bytes, (long)Position);
            Position += (ulong)bytes.Length;
        }

        public void Pad(ulong align)
        {
            ulong aligned = (Position + align - 1) & ~(align - 1);
            Span<byte> zeros = stackalloc byte[64];
            zeros.Clear();
            while (Position < aligned)
                Write(zeros[..(int)Math.Min(64, aligned - Position)]);
        }
    }

    private static ulong FileOffset(List<SectionHeader> shdrs, ulong address, int length, string path) =>
        shdrs.Select(s => s.FileOffsetOf(address, (ulong)length)).FirstOrDefault(o => o is not null)
            ?? throw new InputException(path, $"0x{length:x} bytes at 0x{address:x} are not inside a kernel section with file contents");


    /// <summary>The application's symbols as ELF entries (locals, globals) and the names they add to .strtab.</summary>
    private static (byte[] Locals, byte[] Globals, byte[] Names, int LocalCount) BuildSymbols(int oldStrtabSize, List<SectionHeader> shdrs,
        IReadOnlyList<OutputSymbol> symbols)
    {
        var locals = symbols.Where(s => s.Bind == STB_LOCAL).ToList();
        var globals = symbols.Where(s => s.Bind != STB_LOCAL).ToList();
        // Each distinct name once, in first-use order (locals, then globals): sized first, then encoded into one array,
        // so tens of thousands of names cost no per-name buffers.
        var offsets = new Dictionary<string, uint>(symbols.Count, StringComparer.Ordinal);
        var distinct = new List<string>(symbols.Count);
        int length = 0;
        foreach (var s in locals.Concat(globals))
        {
            if (offsets.TryAdd(s.Name, (uint)(oldStrtabSize + length)))
            {
                distinct.Add(s.Name);
                length += Encoding.UTF8.GetByteCount(s.Name) + 1;
            }
        }
        var names = new byte[length];
        int written = 0;
        foreach (string name in distinct)
            written += Encoding.UTF8.GetBytes(name, names.AsSpan(written)) + 1; // the NUL is already there

        var localBytes = new byte[locals.Count * SymSize];
        var globalBytes = new byte[globals.Count * SymSize];
        int at = 0;
        foreach (var s in locals)
            at = WriteSymbol(localBytes, at, s, offsets[s.Name], shdrs);
        at = 0;
        foreach (var s in globals)
            at = WriteSymbol(globalBytes, at, s, offsets[s.Name], shdrs);
        return (localBytes, globalBytes, names, locals.Count);
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
