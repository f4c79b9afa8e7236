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
/// The kernel's defined symbols, looked up by name in place: open-addressing tables of symbol-table indices keyed by a
/// hash of the name's bytes in the mapped string table. A vmlinux has ~100k symbols of which a link asks for a few
/// hundred, so no string or dictionary entry is made for the others (building one took most of reading the kernel).
/// Two tables share one pass and one hash per name: every defined symbol (<see cref="FindAny"/>, for slot bounds,
/// which may be local) and the global, weak and unique ones (<see cref="FindGlobal"/>, for binding). In each, the
/// first symbol of a name wins, as it did in the dictionaries this replaces.
/// </summary>
internal sealed class KernelSymbolTable
{
    private readonly ElfImage _elf;
    private readonly SectionHeader _symtab;
    private readonly SectionHeader _strtab;
    private readonly int[] _any, _global; // symbol index + 1; 0 is empty
    private readonly int _mask;

    public KernelSymbolTable(ElfImage elf, SectionHeader symtab)
    {
        _elf = elf;
        _symtab = symtab;
        _strtab = elf.Sections[(int)symtab.Link];
        var symbols = elf.Bytes(symtab);
        var strings = elf.Bytes(_strtab);
        int n = symbols.Length / ElfImage.SymbolSize;
        int size = (int)BitOperations.RoundUpToPowerOf2((uint)Math.Max(16, n * 2));
        _any = new int[size];
        _global = new int[size];
        _mask = size - 1;
        for (int i = 1; i < n; i++)
        {
            var e = new ElfImage.Symbol(symbols.Slice(i * ElfImage.SymbolSize, ElfImage.SymbolSize));
            uint nameOffset = e.NameOffset;
            ushort shndx = e.SectionIndex;
            if (nameOffset == 0 || nameOffset >= (uint)strings.Length || shndx == SHN_UNDEF)
                continue;
            if (!(shndx == SHN_ABS || shndx < elf.Sections.Count))
                continue;
            var name = ElfImage.CStringBytes(strings, nameOffset);
            int hash = (int)Hash(name);
            if (Insert(_any, hash, i, name, symbols, strings))
                AnyCount++;
            if (e.Bind is STB_GLOBAL or STB_WEAK or STB_GNU_UNIQUE && Insert(_global, hash, i, name, symbols, strings))
                GlobalCount++;
        }
    }

    public int AnyCount { get; }

    public int GlobalCount { get; }

    private bool Insert(int[] table, int hash, int index, ReadOnlySpan<byte> name, ReadOnlySpan<byte> symbols, ReadOnlySpan<byte> strings)
    {
        for (int slot = hash & _mask; ; slot = (slot + 1) & _mask)
        {
            int at = table[slot];
            if (at == 0)
            {
                table[slot] = index + 1;
                return true;
            }
            if (NameOf(at - 1, symbols, strings).SequenceEqual(name))
                return false; // the first symbol of a name wins
        }
    }

    private static ulong Hash(ReadOnlySpan<byte> name) => XxHash3.HashToUInt64(name);

    private static ReadOnlySpan<byte> NameOf(int index, ReadOnlySpan<byte> symbols, ReadOnlySpan<byte> strings) =>
        ElfImage.CStringBytes(strings, new ElfImage.Symbol(symbols.Slice(index * ElfImage.SymbolSize, ElfImage.SymbolSize)).NameOffset);

    /// <summary>The symbol-table index of the first defined symbol named <paramref name="name"/>, or -1.</summary>
    public int FindAny(string name) => Find(_any, name);

    /// <summary>The symbol-table index of the first defined global, weak or unique symbol named <paramref name="name"/>, or -1.</summary>
    public int FindGlobal(string name) => Find(_global, name);

    private int Find(int[] table, string name)
    {
        int max = Encoding.UTF8.GetMaxByteCount(name.Length);
        byte[]? rented = max > 512 ? ArrayPool<byte>.Shared.Rent(max) : null;
        Span<byte> buffer = rented ?? stackalloc byte[512];
        try
        {
            var key = buffer[..Encoding.UTF8.GetBytes(name, buffer)];
            var symbols = _elf.Bytes(_symtab);
            var strings = _elf.Bytes(_strtab);
            for (int slot = (int)Hash(key) & _mask; table[slot] is var at and not 0; slot = (slot + 1) & _mask)
            {
                if (NameOf(at - 1, symbols, strings).SequenceEqual(key))
                    return at - 1;
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
    public IEnumerable<KernelSymbol> AllGlobals()
    {
        var indices = _global.Where(s => s != 0).Select(s => s - 1).Order().ToList();
        foreach (int i in indices)
            yield return Get(i);
    }

    /// <summary>The global symbols as the dictionary <see cref="KernelImage.GlobalSymbols"/> has always been.</summary>
    public sealed class GlobalDictionary(KernelSymbolTable table) : IReadOnlyDictionary<string, KernelSymbol>
    {
        public KernelSymbol this[string key] => TryGetValue(key, out var v) ? v : throw new KeyNotFoundException(key);
        public IEnumerable<string> Keys => table.AllGlobals().Select(s => s.Name);
        public IEnumerable<KernelSymbol> Values => table.AllGlobals();
        public int Count => table.GlobalCount;
        public bool ContainsKey(string key) => table.FindGlobal(key) >= 0;

        public bool TryGetValue(string key, [MaybeNullWhen(false)] out KernelSymbol value)
        {
            int i = table.FindGlobal(key);
            value = i >= 0 ? table.Get(i) : default;
            return i >= 0;
        }

        public IEnumerator<KeyValuePair<string, KernelSymbol>> GetEnumerator() =>
            table.AllGlobals().Select(s => KeyValuePair.Create(s.Name, s)).GetEnumerator();

        IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
    }
}
