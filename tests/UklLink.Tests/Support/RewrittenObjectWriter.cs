using System.Buffers.Binary;
using System.Text;
using UklLink.Inputs;
using UklLink.Rewrite;
using static UklLink.Inputs.ElfConstants;

namespace UklLink.Tests.Support;

/// <summary>
/// Writes an input object back as an x86-64 ELF relocatable object with its rewritten sections: their new bytes and
/// relocations, plus one new section <c>.text.ukl_trampolines</c> holding every trampoline (each aligned to
/// <see cref="Trampoline.PreferredAlignment"/>) with its relocations. Any ordinary linker can then link it, which is
/// how the tests run rewritten code in user space; it also shows how <see cref="RewriteTarget"/>s resolve:
/// a section offset or trampoline becomes the section symbol plus an addend, a named symbol an undefined global.
/// Every other section is copied; the symbol table, string tables and relocation sections are regenerated.
/// Only the tests use it, so it lives here rather than in the library.
/// </summary>
public static class RewrittenObjectWriter
{
    public const string TrampolineSectionName = ".text.ukl_trampolines";

    private const int EhdrSize = 64, ShdrSize = 64, SymSize = 24, RelaSize = 24;

    private sealed record OutSymbol(string Name, byte Info, byte Other, ushort Shndx, ulong Value, ulong Size);

    private sealed class OutSection
    {
        public string Name = "";
        public uint Type;
        public ulong Flags, Align = 1, EntSize;
        public uint Link, Info;
        public byte[] Data = Array.Empty<byte>();
        public ulong Size; // for NOBITS
        public ulong Offset;
    }

    public static void Write(ObjectFile obj, IEnumerable<SectionRewrite> rewrites, string path)
    {
        using var stream = File.Create(path);
        Write(obj, rewrites, stream);
    }

    public static void Write(ObjectFile obj, IEnumerable<SectionRewrite> rewrites, Stream output)
    {
        var bySection = rewrites.Where(r => r.Changed).ToDictionary(r => r.Section);
        int originalCount = obj.Sections.Count;

        // Trampolines: one section, in rewrite order.
        var trampolineOffsets = new Dictionary<(InputSection, int), ulong>();
        var trampolineCode = new List<byte>();
        var trampolineRelocs = new List<(ulong Offset, uint Type, RewriteTarget Target, long Addend, SectionRewrite Owner)>();
        foreach (var rw in bySection.Values)
        {
            foreach (var t in rw.Trampolines)
            {
                while (trampolineCode.Count % Trampoline.PreferredAlignment != 0)
                    trampolineCode.Add(0xCC);
                ulong at = (ulong)trampolineCode.Count;
                trampolineOffsets[(rw.Section, t.Index)] = at;
                trampolineCode.AddRange(t.Code);
                foreach (var r in t.Relocations)
                    trampolineRelocs.Add((at + r.Offset, r.Type, r.Target, r.Addend, rw));
            }
        }
        bool hasTrampolines = trampolineCode.Count > 0;
        int trampolineIndex = originalCount, trampolineRelaIndex = originalCount + 1;
        // An object without a symbol table (an empty translation unit) can only come back unchanged.
        int symtabIndex = obj.AllSections.FirstOrDefault(s => s.Type == SHT_SYMTAB)?.Index
            ?? (bySection.Count == 0 ? -1 : throw new NotSupportedException($"{obj.DisplayName} has no symbol table"));
        int strtabIndex = symtabIndex < 0 ? -1 : (int)obj.Sections[symtabIndex]!.Link;
        int shstrtabIndex = (int)obj.Header.SectionNameTableIndex;
        if (shstrtabIndex <= 0 || shstrtabIndex >= originalCount || shstrtabIndex == strtabIndex)
            throw new NotSupportedException($"{obj.DisplayName}: section names must have their own string table");
        if (obj.AllSections.Any(s => s.Type == SHT_SYMTAB_SHNDX))
            throw new NotSupportedException($"{obj.DisplayName}: extended section indices are not supported");

        // Symbols: the original ones in order, new local section symbols after the original locals, new undefined
        // globals at the end.
        var locals = obj.Symbols.Where(s => s.IsLocal).ToList();
        var globals = obj.Symbols.Where(s => !s.IsLocal).ToList();
        var sectionSymbol = new Dictionary<int, int>(); // section index -> new symbol index
        var newIndex = new int[obj.Symbols.Count];
        var outSymbols = new List<OutSymbol>();
        foreach (var s in locals)
        {
            newIndex[s.Index] = outSymbols.Count;
            outSymbols.Add(ToOut(s));
            if (s.Type == STT_SECTION && s.Section is not null)
                sectionSymbol.TryAdd(s.Section.Index, outSymbols.Count - 1);
        }
        var neededSectionSymbols = new SortedSet<int>();
        foreach (var rw in bySection.Values)
        {
            foreach (var r in rw.Relocations.Select(r => r.Target).Concat(rw.Trampolines.SelectMany(t => t.Relocations.Select(r => r.Target))))
            {
                if (r is SectionOffsetTarget)
                    neededSectionSymbols.Add(rw.Section.Index);
            }
        }
        foreach (int sec in neededSectionSymbols.Where(i => !sectionSymbol.ContainsKey(i)))
        {
            sectionSymbol[sec] = outSymbols.Count;
            outSymbols.Add(new OutSymbol("", STT_SECTION, 0, (ushort)sec, 0, 0));
        }
        if (hasTrampolines)
        {
            sectionSymbol[trampolineIndex] = outSymbols.Count;
            outSymbols.Add(new OutSymbol("", STT_SECTION, 0, (ushort)trampolineIndex, 0, 0));
        }
        int firstGlobal = outSymbols.Count;
        var globalByName = new Dictionary<string, int>();
        foreach (var s in globals)
        {
            newIndex[s.Index] = outSymbols.Count;
            globalByName.TryAdd(s.Name, outSymbols.Count);
            outSymbols.Add(ToOut(s));
        }
        int Named(string name)
        {
            if (!globalByName.TryGetValue(name, out int i))
            {
                globalByName[name] = i = outSymbols.Count;
                outSymbols.Add(new OutSymbol(name, (STB_GLOBAL << 4) | STT_NOTYPE, 0, (ushort)SHN_UNDEF, 0, 0));
            }
            return i;
        }
        (ulong, uint, int, long) Resolve(ulong offset, uint type, RewriteTarget target, long addend, SectionRewrite owner) => target switch
        {
            SymbolTarget st => (offset, type, newIndex[st.Symbol.Index], addend),
            NamedSymbolTarget nt => (offset, type, Named(nt.Name), addend),
            SectionOffsetTarget so => (offset, type, sectionSymbol[owner.Section.Index], addend + (long)so.Offset),
            TrampolineTarget tt => (offset, type, sectionSymbol[trampolineIndex], addend + (long)trampolineOffsets[(owner.Section, tt.Index)]),
            _ => throw new InvalidOperationException($"unknown target {target}"),
        };

        // Sections.
        var sections = new List<OutSection> { new() };
        for (int i = 1; i < originalCount; i++)
        {
            var s = obj.Sections[i]!;
            var o = new OutSection
            {
                Name = s.Name, Type = s.Type, Flags = s.Flags, Align = Math.Max(1, s.Alignment), EntSize = s.EntrySize,
                Link = s.Link, Info = s.Info, Size = s.Size,
            };
            if (s.Type == SHT_RELA)
            {
                var target = obj.Sections[(int)s.Info];
                o.Data = target is not null && bySection.TryGetValue(target, out var rw)
                    ? Rela(rw.Relocations.Select(r => Resolve(r.Offset, r.Type, r.Target, r.Addend, rw)))
                    : Rela(target?.Relocations.Select(r => (r.Offset, r.Type, newIndex[r.Symbol.Index], r.Addend)) ?? []);
            }
            else if (s.Type == SHT_GROUP)
            {
                o.Data = s.Data;
                o.Info = (uint)newIndex[s.Info];
            }
            else if (i == symtabIndex || i == strtabIndex || i == shstrtabIndex)
            {
                // regenerated below
            }
            else if (bySection.TryGetValue(s, out var rewritten))
            {
                o.Data = rewritten.Data;
            }
            else if (!s.IsNoBits)
            {
                o.Data = s.Data;
            }
            sections.Add(o);
        }
        // Rewritten sections that had no relocations now have some (at least the jumps to their trampolines).
        var withRela = obj.AllSections.Where(s => s.Type == SHT_RELA).Select(s => (int)s.Info).ToHashSet();
        var newRela = bySection.Values.Where(rw => !withRela.Contains(rw.Section.Index) && rw.Relocations.Count > 0)
            .OrderBy(rw => rw.Section.Index).ToList();
        if (hasTrampolines)
        {
            sections.Add(new OutSection
            {
                Name = TrampolineSectionName, Type = SHT_PROGBITS, Flags = SHF_ALLOC | SHF_EXECINSTR,
                Align = Trampoline.PreferredAlignment, Data = trampolineCode.ToArray(),
            });
            sections.Add(new OutSection
            {
                Name = ".rela" + TrampolineSectionName, Type = SHT_RELA, Flags = SHF_INFO_LINK, Align = 8, EntSize = RelaSize,
                Link = (uint)symtabIndex, Info = (uint)trampolineIndex,
                Data = Rela(trampolineRelocs.Select(r => Resolve(r.Offset, r.Type, r.Target, r.Addend, r.Owner))),
            });
        }
        foreach (var rw in newRela)
        {
            sections.Add(new OutSection
            {
                Name = ".rela" + rw.Section.Name, Type = SHT_RELA, Flags = SHF_INFO_LINK, Align = 8, EntSize = RelaSize,
                Link = (uint)symtabIndex, Info = (uint)rw.Section.Index,
                Data = Rela(rw.Relocations.Select(r => Resolve(r.Offset, r.Type, r.Target, r.Addend, rw))),
            });
        }
        // Resolve() may have added globals while building relocation sections; only now is the symbol table final.
        var strtab = new StringTable();
        var symtab = new byte[outSymbols.Count * SymSize];
        for (int i = 0; i < outSymbols.Count; i++)
        {
            var s = outSymbols[i];
            var span = symtab.AsSpan(i * SymSize, SymSize);
            BinaryPrimitives.WriteUInt32LittleEndian(span, s.Name.Length == 0 ? 0 : strtab.Add(s.Name));
            span[4] = s.Info;
            span[5] = s.Other;
            BinaryPrimitives.WriteUInt16LittleEndian(span[6..], s.Shndx);
            BinaryPrimitives.WriteUInt64LittleEndian(span[8..], s.Value);
            BinaryPrimitives.WriteUInt64LittleEndian(span[16..], s.Size);
        }
        if (symtabIndex >= 0)
        {
            var sym = sections[symtabIndex];
            sym.Data = symtab;
            sym.Info = (uint)firstGlobal;
            sym.EntSize = SymSize;
            sym.Align = 8;
            sections[strtabIndex].Data = strtab.ToArray();
        }

        var shstrtab = new StringTable();
        var nameOffsets = sections.Select(s => s.Name.Length == 0 ? 0u : shstrtab.Add(s.Name)).ToList();
        sections[shstrtabIndex].Data = shstrtab.ToArray();

        // Layout: header, section contents, section headers.
        ulong pos = EhdrSize;
        foreach (var s in sections.Skip(1))
        {
            if (s.Type == SHT_NOBITS)
            {
                s.Offset = pos;
                continue;
            }
            pos = (pos + s.Align - 1) / s.Align * s.Align;
            s.Offset = pos;
            pos += (ulong)s.Data.Length;
        }
        ulong shoff = (pos + 7) / 8 * 8;
        var file = new byte[shoff + (ulong)(sections.Count * ShdrSize)];
        var h = file.AsSpan();
        h[0] = 0x7f; h[1] = (byte)'E'; h[2] = (byte)'L'; h[3] = (byte)'F';
        h[4] = 2; h[5] = 1; h[6] = 1;
        h[7] = obj.Symbols.Any(s => s.Type == STT_GNU_IFUNC || s.Bind == STB_GNU_UNIQUE) ? (byte)3 : (byte)0;
        BinaryPrimitives.WriteUInt16LittleEndian(h[16..], ElfHeader.TypeRelocatable);
        BinaryPrimitives.WriteUInt16LittleEndian(h[18..], ElfHeader.MachineX86_64);
        BinaryPrimitives.WriteUInt32LittleEndian(h[20..], 1);
        BinaryPrimitives.WriteUInt64LittleEndian(h[40..], shoff);
        BinaryPrimitives.WriteUInt16LittleEndian(h[52..], EhdrSize);
        BinaryPrimitives.WriteUInt16LittleEndian(h[58..], ShdrSize);
        BinaryPrimitives.WriteUInt16LittleEndian(h[60..], (ushort)sections.Count);
        BinaryPrimitives.WriteUInt16LittleEndian(h[62..], (ushort)shstrtabIndex);
        for (int i = 1; i < sections.Count; i++)
        {
            var s = sections[i];
            s.Data.CopyTo(file.AsSpan((int)s.Offset));
            var sh = file.AsSpan((int)shoff + i * ShdrSize, ShdrSize);
            BinaryPrimitives.WriteUInt32LittleEndian(sh, nameOffsets[i]);
            BinaryPrimitives.WriteUInt32LittleEndian(sh[4..], s.Type);
            BinaryPrimitives.WriteUInt64LittleEndian(sh[8..], s.Flags);
            BinaryPrimitives.WriteUInt64LittleEndian(sh[24..], s.Offset);
            BinaryPrimitives.WriteUInt64LittleEndian(sh[32..], s.Type == SHT_NOBITS ? s.Size : (ulong)s.Data.Length);
            BinaryPrimitives.WriteUInt32LittleEndian(sh[40..], s.Link);
            BinaryPrimitives.WriteUInt32LittleEndian(sh[44..], s.Info);
            BinaryPrimitives.WriteUInt64LittleEndian(sh[48..], s.Align);
            BinaryPrimitives.WriteUInt64LittleEndian(sh[56..], s.EntSize);
        }
        output.Write(file);
    }

    private static OutSymbol ToOut(InputSymbol s) => new(s.Name, (byte)((s.Bind << 4) | s.Type), s.Visibility,
        (ushort)(s.SectionIndex >= 0xff00 || s.Section is null ? s.SectionIndex : (uint)s.Section.Index), s.Value, s.Size);

    private static byte[] Rela(IEnumerable<(ulong Offset, uint Type, int Symbol, long Addend)> relocs)
    {
        var list = relocs.ToList();
        var bytes = new byte[list.Count * RelaSize];
        for (int i = 0; i < list.Count; i++)
        {
            var span = bytes.AsSpan(i * RelaSize, RelaSize);
            BinaryPrimitives.WriteUInt64LittleEndian(span, list[i].Offset);
            BinaryPrimitives.WriteUInt64LittleEndian(span[8..], ((ulong)(uint)list[i].Symbol << 32) | list[i].Type);
            BinaryPrimitives.WriteInt64LittleEndian(span[16..], list[i].Addend);
        }
        return bytes;
    }

    private sealed class StringTable
    {
        private readonly MemoryStream _bytes = new();
        private readonly Dictionary<string, uint> _offsets = new();

        public StringTable() => _bytes.WriteByte(0);

        public uint Add(string s)
        {
            if (_offsets.TryGetValue(s, out uint at))
                return at;
            at = (uint)_bytes.Length;
            var b = Encoding.UTF8.GetBytes(s);
            _bytes.Write(b);
            _bytes.WriteByte(0);
            _offsets[s] = at;
            return at;
        }

        public byte[] ToArray() => _bytes.ToArray();
    }
}
