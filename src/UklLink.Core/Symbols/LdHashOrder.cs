using System.Text;
using UklLink.Inputs;
using UklLink.LinkerScript;

namespace UklLink.Symbols;

/// <summary>
/// The order in which GNU ld 2.40 walks its global symbol table (<c>elf_link_hash_traverse</c>), which decides the
/// order of everything ld allocates per symbol: .got entries, IFUNC PLT entries and their .igot.plt slots, and the
/// IRELATIVE relocations in .rela.iplt. ld's table is bfd's string hash table (bfd/hash.c): 4051 buckets to start
/// with, a new entry goes to the head of its bucket's chain, and when the count passes 3/4 of the size the table grows
/// to the next prime of a fixed list, moving runs of equal-hash entries bucket by bucket to the heads of their new
/// chains. A traversal visits buckets in index order and each chain from its head. So the order follows from the
/// names ld inserts and the order it inserts them in, which this class replays: the entry symbol, the linker
/// script's plain assignments, every global symbol of every loaded object in load order (symbol-table order within
/// an object), then the kernel's global symbols (<c>--just-symbols</c> comes last), then what ld itself adds late.
/// </summary>
public sealed class LdHashOrder
{
    private const int InitialSize = 4051;

    /// <summary>bfd's higher_prime_number list: the sizes the table grows through.</summary>
    private static readonly int[] Primes =
    [
        31, 61, 127, 251, 509, 1021, 2039, 4093, 8191, 16381, 32749, 65521, 131071, 262139, 524287, 1048573, 2097143,
        4194301, 8388593, 16777213, 33554393, 67108859, 134217689, 268435399, 536870909, 1073741789, 2147483647,
    ];

    private readonly Dictionary<string, int> _index = new(StringComparer.Ordinal);
    private readonly List<ulong> _hashes = new();
    private readonly List<int> _next = new();
    private int[] _heads = NewBuckets(InitialSize);
    private Dictionary<string, int>? _rank;

    /// <summary>
    /// Replays what ld inserts during a link: <paramref name="entry"/> (an undefined symbol before any input is read),
    /// the script's plain and HIDDEN assignments (the script comes first on ld's command line; PROVIDE creates
    /// nothing), each loaded object's global symbols in load order, the kernel's global symbols, then the names ld
    /// defines itself after reading its inputs (<paramref name="late"/>: _GLOBAL_OFFSET_TABLE_, __GNU_EH_FRAME_HDR).
    /// </summary>
    public static LdHashOrder Replay(string entry, IEnumerable<Assignment> scriptAssignments, IEnumerable<ObjectFile> loadOrder,
        IEnumerable<string> kernelGlobals, IEnumerable<string> late)
    {
        var table = new LdHashOrder();
        table.Insert(entry);
        table.InsertAll(scriptAssignments.Where(a => a.Kind is AssignmentKind.Plain or AssignmentKind.Hidden).Select(a => a.Symbol));
        foreach (var obj in loadOrder)
            foreach (var symbol in obj.Symbols)
                if (!symbol.IsLocal && symbol.Name.Length > 0)
                    table.Insert(symbol.Name);
        table.InsertAll(kernelGlobals);
        table.InsertAll(late);
        return table;
    }

    /// <summary>Entries in the table.</summary>
    public int Count => _hashes.Count;

    /// <summary>Buckets in the table now.</summary>
    public int Size => _heads.Length;

    /// <summary>Looks a name up with create=true, as ld does when it reads a symbol: new names go in, known ones do nothing.</summary>
    public void Insert(string name)
    {
        if (_index.ContainsKey(name))
            return;
        _rank = null;
        int entry = _hashes.Count;
        ulong hash = Hash(name);
        _index[name] = entry;
        _hashes.Add(hash);
        int bucket = (int)(hash % (ulong)_heads.Length);
        _next.Add(_heads[bucket]);
        _heads[bucket] = entry;
        if (Count > _heads.Length * 3L / 4)
            Grow();
    }

    public void InsertAll(IEnumerable<string> names)
    {
        foreach (var name in names)
            Insert(name);
    }

    /// <summary>The position of <paramref name="name"/> in a traversal, or int.MaxValue for a name never inserted.</summary>
    public int Rank(string name)
    {
        _rank ??= Traverse();
        return _rank.TryGetValue(name, out int r) ? r : int.MaxValue;
    }

    /// <summary>Every name in traversal order.</summary>
    public IEnumerable<string> Order()
    {
        var names = new string[Count];
        foreach (var (name, entry) in _index)
            names[entry] = name;
        for (int bucket = 0; bucket < _heads.Length; bucket++)
            for (int e = _heads[bucket]; e >= 0; e = _next[e])
                yield return names[e];
    }

    private Dictionary<string, int> Traverse()
    {
        var rank = new Dictionary<string, int>(Count, StringComparer.Ordinal);
        foreach (var name in Order())
            rank[name] = rank.Count;
        return rank;
    }

    /// <summary>bfd_hash_insert's growth: runs of equal hashes keep their order and go to the head of the new chain.</summary>
    private void Grow()
    {
        int size = Primes.FirstOrDefault(p => p > _heads.Length);
        if (size == 0)
            return;
        var heads = NewBuckets(size);
        for (int bucket = 0; bucket < _heads.Length; bucket++)
        {
            while (_heads[bucket] >= 0)
            {
                int chain = _heads[bucket], chainEnd = chain;
                while (_next[chainEnd] >= 0 && _hashes[_next[chainEnd]] == _hashes[chain])
                    chainEnd = _next[chainEnd];
                _heads[bucket] = _next[chainEnd];
                int target = (int)(_hashes[chain] % (ulong)size);
                _next[chainEnd] = heads[target];
                heads[target] = chain;
            }
        }
        _heads = heads;
    }

    private static int[] NewBuckets(int size)
    {
        var heads = new int[size];
        Array.Fill(heads, -1);
        return heads;
    }

    /// <summary>bfd_hash_hash: over the name's bytes, then its length; 64-bit unsigned long arithmetic.</summary>
    public static ulong Hash(string name)
    {
        ulong hash = 0;
        int length = 0;
        Span<byte> buffer = stackalloc byte[256];
        var bytes = Encoding.UTF8.GetByteCount(name) <= buffer.Length ? buffer[..Encoding.UTF8.GetBytes(name, buffer)] : Encoding.UTF8.GetBytes(name);
        foreach (byte c in bytes)
        {
            hash += c + ((ulong)c << 17);
            hash ^= hash >> 2;
            length++;
        }
        hash += (ulong)length + ((ulong)length << 17);
        hash ^= hash >> 2;
        return hash;
    }
}
