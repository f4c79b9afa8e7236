using System.Buffers;
using System.Collections;
using System.Diagnostics.CodeAnalysis;
using System.IO.Hashing;
using System.Numerics;
using System.Text;
using UklLink.Inputs;
using static UklLink.Inputs.ElfConstants;

namespace UklLink.Kernel;

/// <summary>
/// The kernel's defined symbols, looked up by name in place: an open-addressing table of symbol-table indices keyed by
/// a hash of the name's bytes in the mapped string table. A vmlinux has ~100k symbols of which a link asks for a few
/// hundred, so no string or dictionary entry is made for the others (building one took most of reading the kernel).
/// For each name the first defined symbol wins, as it did for the dictionary this replaces.
/// </summary>
internal sealed class KernelSymbolTable
{
    private readonly ElfImage _elf;
    private readonly SectionHeader _symtab;
    private readonly SectionHeader _strtab;
    private readonly int[] _slots; // symbol index + 1; 0 is empty
    private readonly int _mask;

    /// <summary>Indexes the defined symbols of <paramref name="symtab"/> that <paramref name="keep"/> accepts.</summary>
    public KernelSymbolTable(ElfImage elf, SectionHeader symtab, Func<ElfImage.Symbol, bool> keep)
    {
        _elf = elf;
        _symtab = symtab;
        _strtab = elf.Sections[(int)symtab.Link];
        var symbols = elf.Bytes(symtab);
        var strings = elf.Bytes(_strtab);
        int n = symbols.Length / ElfImage.SymbolSize;
        int size = (int)BitOperations.RoundUpToPowerOf2((uint)Math.Max(16, n * 2));
        _slots = new int[size];
        _mask = size - 1;
        for (int i = 1; i < n; i++)
        {
            var e = new ElfImage.Symbol(symbols.Slice(i * ElfImage.SymbolSize, ElfImage.SymbolSize));
            uint nameOffset = e.NameOffset;
            ushort shndx = e.SectionIndex;
            if (nameOffset == 0 || nameOffset >= (uint)strings.Length || shndx == SHN_UNDEF)
                continue;
            if (!(shndx == SHN_ABS || shndx < elf.Sections.Count) || !keep(e))
                continue;
            var name = ElfImage.CStringBytes(strings, nameOffset);
            int slot = (int)Hash(name) & _mask;
            while (true)
            {
                int at = _slots[slot];
                if (at == 0)
                {
                    _slots[slot] = i + 1;
                    Count++;
                    break;
                }
                if (NameOf(at - 1, strings).SequenceEqual(name))
                    break; // the first definition of a name wins
                slot = (slot + 1) & _mask;
            }
        }
    }

    public int Count { get; }

    private static ulong Hash(ReadOnlySpan<byte> name) => XxHash3.HashToUInt64(name);

    private ReadOnlySpan<byte> NameOf(int index, ReadOnlySpan<byte> strings) =>
        ElfImage.CStringBytes(strings, new ElfImage.Symbol(_elf.Bytes(_symtab).Slice(index * ElfImage.SymbolSize, ElfImage.SymbolSize)).NameOffset);

    /// <summary>The symbol-table index of <paramref name="name"/>, or -1.</summary>
    public int Find(string name)
    {
        int max = Encoding.UTF8.GetMaxByteCount(name.Length);
        byte[]? rented = max > 512 ? ArrayPool<byte>.Shared.Rent(max) : null;
        Span<byte> buffer = rented ?? stackalloc byte[512];
        try
        {
            var key = buffer[..Encoding.UTF8.GetBytes(name, buffer)];
            var strings = _elf.Bytes(_strtab);
            int slot = (int)Hash(key) & _mask;
            while (_slots[slot] is var at and not 0)
            {
                if (NameOf(at - 1, strings).SequenceEqual(key))
                    return at - 1;
                slot = (slot + 1) & _mask;
            }
            return -1;
        }
        finally
        {
            if (rented is not null)
                ArrayPool<byte>.Shared.Return(rented);
        }
    }

    public KernelSymbol Get(int index)
    {
        var e = new ElfImage.Symbol(_elf.Bytes(_symtab).Slice(index * ElfImage.SymbolSize, ElfImage.SymbolSize));
        return new KernelSymbol(ElfImage.CString(_elf.Bytes(_strtab), e.NameOffset), e.Value, e.Size, e.Type, e.Bind);
    }

    /// <summary>Every indexed symbol, in symbol-table order (only for callers that list them all).</summary>
    public IEnumerable<KernelSymbol> All()
    {
        var indices = _slots.Where(s => s != 0).Select(s => s - 1).Order().ToList();
        foreach (int i in indices)
            yield return Get(i);
    }

    /// <summary>The table as the dictionary <see cref="KernelImage.GlobalSymbols"/> has always been.</summary>
    public sealed class Dictionary(KernelSymbolTable table) : IReadOnlyDictionary<string, KernelSymbol>
    {
        public KernelSymbol this[string key] => TryGetValue(key, out var v) ? v : throw new KeyNotFoundException(key);
        public IEnumerable<string> Keys => table.All().Select(s => s.Name);
        public IEnumerable<KernelSymbol> Values => table.All();
        public int Count => table.Count;
        public bool ContainsKey(string key) => table.Find(key) >= 0;

        public bool TryGetValue(string key, [MaybeNullWhen(false)] out KernelSymbol value)
        {
            int i = table.Find(key);
            value = i >= 0 ? table.Get(i) : default;
            return i >= 0;
        }

        public IEnumerator<KeyValuePair<string, KernelSymbol>> GetEnumerator() =>
            table.All().Select(s => KeyValuePair.Create(s.Name, s)).GetEnumerator();

        IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
    }
}
