using System.Text;

namespace UklLink.Inputs;

/// <summary>
/// Reads the member list of a System V / GNU <c>ar</c> archive (regular or thin, with or without the "/" or "/SYM64/"
/// symbol index, GNU "//" long names or BSD "#1/len" names). Only headers are read; member bytes stay in the file.
/// ukl-link finds what each member defines from its own symbol table, so the archive index is not needed.
/// </summary>
public static class ArchiveReader
{
    public const string Magic = "!<arch>\n";
    public const string ThinMagic = "!<thin>\n";
    private const int HeaderSize = 60;

    public static bool HasArchiveMagic(ReadOnlySpan<byte> head) =>
        head.Length >= 8 && (head[..8].SequenceEqual("!<arch>\n"u8) || head[..8].SequenceEqual("!<thin>\n"u8));

    public static IReadOnlyList<ArchiveMember> ReadMembers(Stream stream, string path)
    {
        using var file = MappedFile.Of(stream, path);
        return ReadMembers(file.All, path);
    }

    /// <summary>Reads the member headers of a mapped archive; throws <see cref="InputException"/> for a corrupt one.</summary>
    public static IReadOnlyList<ArchiveMember> ReadMembers(FileRegion file, string path)
    {
        long length = (long)file.Length;
        var magic = file.Head(8);
        if (magic.Length != 8 || !HasArchiveMagic(magic))
            throw new InputException(path, "not an ar archive (bad magic)");
        bool thin = magic.SequenceEqual("!<thin>\n"u8);
        string directory = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path)) ?? ".";

        var members = new List<ArchiveMember>();
        byte[]? longNames = null;
        long pos = 8;
        while (pos < length)
        {
            if (length - pos < HeaderSize)
                throw new InputException(path, $"truncated archive: member header at offset {pos} is cut off");
            var header = file.Span((ulong)pos, HeaderSize);
            if (header[58] != (byte)'`' || header[59] != (byte)'\n')
                throw new InputException(path, $"corrupt archive: bad member header at offset {pos}");
            string rawName = Encoding.ASCII.GetString(header[..16]).TrimEnd(' ');
            long size = ParseDecimal(header.Slice(48, 10), path, pos);
            long dataPos = pos + HeaderSize;

            bool isSpecial = rawName is "/" or "/SYM64/" or "//" or "__.SYMDEF" or "__.SYMDEF SORTED";
            // In a thin archive only the index and the long-name table are stored inline.
            bool inline = !thin || isSpecial;
            if (inline && size > length - dataPos)
                throw new InputException(path, $"truncated archive: member '{rawName}' at offset {pos} claims {size} bytes but only {length - dataPos} remain");

            if (rawName == "//")
            {
                longNames = file.Span((ulong)dataPos, (ulong)size).ToArray();
            }
            else if (!isSpecial)
            {
                string name = rawName;
                long bsdNameLength = 0;
                if (rawName.StartsWith("#1/", StringComparison.Ordinal))
                {
                    // BSD ar stores the name in front of the member's bytes; a thin archive has no member bytes to hold it.
                    if (thin)
                        throw new InputException(path, $"corrupt archive: BSD-style member name '{rawName}' in a thin archive at offset {pos}");
                    bsdNameLength = ParseDecimal(Encoding.ASCII.GetBytes(rawName[3..]), path, pos);
                    if (bsdNameLength > size)
                        throw new InputException(path, $"corrupt archive: BSD member name longer than the member at offset {pos}");
                    name = Encoding.UTF8.GetString(file.Span((ulong)dataPos, (ulong)bsdNameLength)).TrimEnd('\0');
                }
                else if (rawName.Length > 1 && rawName[0] == '/' && char.IsAsciiDigit(rawName[1]))
                {
                    name = LongName(longNames, rawName, path, pos);
                }
                else if (rawName.EndsWith('/'))
                {
                    name = rawName[..^1];
                }

                if (thin)
                {
                    string external = System.IO.Path.IsPathRooted(name) ? name : System.IO.Path.Combine(directory, name);
                    members.Add(new ArchiveMember(name, 0, size, external));
                }
                else
                {
                    members.Add(new ArchiveMember(name, dataPos + bsdNameLength, size - bsdNameLength, null));
                }
            }

            long next = dataPos + (inline ? size : 0);
            pos = next + (next & 1); // members are 2-byte aligned
        }
        return members;
    }

    private static string LongName(byte[]? table, string rawName, string path, long pos)
    {
        if (table is null)
            throw new InputException(path, $"corrupt archive: member at offset {pos} uses a long name but there is no '//' table");
        long offset = ParseDecimal(Encoding.ASCII.GetBytes(rawName[1..]), path, pos);
        if (offset >= table.Length)
            throw new InputException(path, $"corrupt archive: long-name offset {offset} at offset {pos} is outside the name table");
        int end = (int)offset;
        while (end < table.Length && table[end] != (byte)'\n')
            end++;
        string name = Encoding.UTF8.GetString(table, (int)offset, end - (int)offset);
        return name.EndsWith('/') ? name[..^1] : name;
    }

    private static long ParseDecimal(ReadOnlySpan<byte> field, string path, long pos)
    {
        long value = 0;
        bool any = false;
        foreach (byte b in field)
        {
            if (b == (byte)' ')
            {
                if (any) break;
                continue;
            }
            if (b < (byte)'0' || b > (byte)'9' || value > long.MaxValue / 10 - 10)
                throw new InputException(path, $"corrupt archive: bad number in member header at offset {pos}");
            value = value * 10 + (b - '0');
            any = true;
        }
        if (!any)
            throw new InputException(path, $"corrupt archive: empty number in member header at offset {pos}");
        return value;
    }
}
