using System.Text;

namespace UklLink.Guest;

/// <summary>
/// A "newc" cpio archive as the kernel unpacks an initramfs: entries written directly (no root needed for device
/// nodes), owner root, fixed timestamps, so the same inputs give the same bytes. A later entry for a path replaces an
/// earlier one (user files over the generated /etc ones).
/// </summary>
public sealed class Cpio
{
    private const uint ModeDirectory = 0x4000, ModeFile = 0x8000, ModeSymlink = 0xA000, ModeCharDevice = 0x2000;

    private readonly Dictionary<string, (uint Mode, byte[] Data, uint Major, uint Minor)> _entries = new(StringComparer.Ordinal);
    private readonly List<string> _order = [];

    public void Directory(string path, uint permissions = 0x1ED /* 0755 */)
    {
        var parts = Normalize(path).Split('/', StringSplitOptions.RemoveEmptyEntries);
        for (int i = 1; i <= parts.Length; i++)
        {
            string p = string.Join('/', parts.Take(i));
            bool last = i == parts.Length;
            if (last || !_entries.TryGetValue(p, out var existing) || (existing.Mode & 0xF000) != ModeDirectory)
                Add(p, ModeDirectory | (last ? permissions & 0xFFF : 0x1ED), []);
        }
    }

    public void File(string path, byte[] data, uint permissions = 0x1A4 /* 0644 */)
    {
        Parent(path);
        Add(Normalize(path), ModeFile | (permissions & 0xFFF), data);
    }

    public void File(string path, string text, uint permissions = 0x1A4) => File(path, Encoding.UTF8.GetBytes(text), permissions);

    public void Symlink(string path, string target)
    {
        Parent(path);
        Add(Normalize(path), ModeSymlink | 0x1FF, Encoding.UTF8.GetBytes(target));
    }

    public void CharDevice(string path, uint major, uint minor, uint permissions = 0x180 /* 0600 */)
    {
        Parent(path);
        Add(Normalize(path), ModeCharDevice | permissions, [], major, minor);
    }

    public bool Contains(string path) => _entries.ContainsKey(Normalize(path));

    /// <summary>The archive: entries in the order they were first added, then the trailer.</summary>
    public byte[] ToArray()
    {
        using var ms = new MemoryStream();
        uint ino = 300000;
        foreach (var name in _order)
        {
            var (mode, data, major, minor) = _entries[name];
            Write(ms, name, ++ino, mode, data, major, minor, (mode & 0xF000) == ModeDirectory ? 2u : 1u);
        }
        Write(ms, "TRAILER!!!", 0, 0, [], 0, 0, 1);
        return ms.ToArray();
    }

    private void Parent(string path)
    {
        string n = Normalize(path);
        int slash = n.LastIndexOf('/');
        if (slash > 0)
            Directory(n[..slash]);
    }

    private void Add(string name, uint mode, byte[] data, uint major = 0, uint minor = 0)
    {
        if (!_entries.ContainsKey(name))
            _order.Add(name);
        _entries[name] = (mode, data, major, minor);
    }

    private static string Normalize(string path) => path.Trim('/');

    private static void Write(Stream s, string name, uint ino, uint mode, byte[] data, uint major, uint minor, uint nlink)
    {
        var nameBytes = Encoding.UTF8.GetBytes(name + "\0");
        var header = new StringBuilder("070701");
        foreach (uint field in new uint[] { ino, mode, 0, 0, nlink, 0, (uint)data.Length, 0, 0, major, minor, (uint)nameBytes.Length, 0 })
            header.Append(field.ToString("X8"));
        s.Write(Encoding.ASCII.GetBytes(header.ToString()));
        s.Write(nameBytes);
        Pad(s);
        s.Write(data);
        Pad(s);
    }

    private static void Pad(Stream s)
    {
        while (s.Position % 4 != 0)
            s.WriteByte(0);
    }
}
