using System.Buffers.Binary;
using System.IO.Hashing;
using System.Text;
using UklLink.Inputs;

namespace UklLink.Boot;

/// <summary>A setup header field's value in an image.</summary>
public sealed record HeaderValue(SetupHeaderField Field, ulong Value, bool Defined);

/// <summary>
/// What a bzImage says about itself: the setup header by field, the protected-mode part's size, CRC trailer,
/// kernel_info, the payload's format and, for an image ukl-link wrote, the payload's program headers.
/// </summary>
public sealed class BootImageInfo
{
    private BootImageInfo(string name) => Name = name;

    public string Name { get; }

    public long FileSize { get; private set; }

    public int SetupSize { get; private set; }

    public IReadOnlyList<HeaderValue> Header { get; private set; } = [];

    public ushort Version { get; private set; }

    public string? KernelVersion { get; private set; }

    /// <summary>Stored CRC trailer and the value computed over the file before it.</summary>
    public uint StoredCrc { get; private set; }

    public uint ComputedCrc { get; private set; }

    public bool CrcMatches => StoredCrc == ComputedCrc;

    public KernelInfo? KernelInfo { get; private set; }

    /// <summary>"ukl-link boot stub N" when the protected-mode part starts with ukl-link's stub, else null.</summary>
    public string? StubMarker { get; private set; }

    /// <summary>The payload's format from its magic number ("ELF", "gzip", "LZ4", ...), or null without a payload.</summary>
    public string? PayloadFormat { get; private set; }

    /// <summary>Program headers of an uncompressed ELF payload (PT_LOAD and PT_NOTE), else empty.</summary>
    public IReadOnlyList<(uint Type, LoadSegment Segment)> PayloadSegments { get; private set; } = [];

    public ulong Value(SetupHeaderField field) => Header.First(h => h.Field == field).Value;

    public static bool LooksLikeBzImage(ReadOnlySpan<byte> head) =>
        head.Length >= 0x206 &&
        BinaryPrimitives.ReadUInt16LittleEndian(head[0x1FE..]) == SetupHeader.BootFlagMagic &&
        BinaryPrimitives.ReadUInt32LittleEndian(head[0x202..]) == SetupHeader.HeaderMagic;

    public static BootImageInfo Read(string path)
    {
        using var stream = InputFiles.OpenRead(path);
        return Read(stream, path);
    }

    public static BootImageInfo Read(Stream stream, string name)
    {
        long length = stream.Length;
        var head = new byte[(int)Math.Min(length, 0x8000)];
        stream.Position = 0;
        stream.ReadExactly(head);
        if (!LooksLikeBzImage(head))
            throw new InputException(name, "not a bzImage (no boot flag 0xAA55 at 0x1fe and \"HdrS\" at 0x202)");
        var info = new BootImageInfo(name) { FileSize = length };
        info.Version = BinaryPrimitives.ReadUInt16LittleEndian(head.AsSpan(0x206));
        int headerEnd = Math.Min(SetupHeader.HeaderEnd(head), head.Length);
        info.Header = SetupHeader.Fields
            .Select(f => new HeaderValue(f, f.Offset + f.Size <= headerEnd ? f.Read(head) : 0,
                f.Offset + f.Size <= headerEnd && f.MinVersion <= Math.Max(info.Version, (ushort)0x0200)))
            .ToList();
        info.SetupSize = SetupHeader.RealModeSize(head[0x1F1]);
        if (info.SetupSize > length)
            throw new InputException(name, $"truncated bzImage: {length} bytes, less than its {info.SetupSize}-byte real-mode part");
        int kv = (int)SetupHeader.KernelVersion.Read(head) + 0x200;
        if (kv > 0x200 && kv < head.Length)
        {
            int end = Array.IndexOf(head, (byte)0, kv);
            if (end > kv)
                info.KernelVersion = Encoding.ASCII.GetString(head, kv, Math.Min(end - kv, 256));
        }

        // CRC trailer over the whole file.
        if (length >= info.SetupSize + 4)
        {
            var crc = new Crc32();
            var buffer = new byte[1 << 20];
            stream.Position = 0;
            long left = length - 4;
            while (left > 0)
            {
                int n = stream.Read(buffer, 0, (int)Math.Min(left, buffer.Length));
                if (n == 0) break;
                crc.Append(buffer.AsSpan(0, n));
                left -= n;
            }
            info.ComputedCrc = ~crc.GetCurrentHashAsUInt32();
            Span<byte> trailer = stackalloc byte[4];
            stream.Position = length - 4;
            stream.ReadExactly(trailer);
            info.StoredCrc = BinaryPrimitives.ReadUInt32LittleEndian(trailer);
        }

        long pm = info.SetupSize;
        // Marker of ukl-link's stub.
        var marker = ReadAt(stream, pm + BootImageLayout.MarkerOffset, BootImageLayout.MarkerSize);
        if (marker is not null)
        {
            string text = Encoding.ASCII.GetString(marker).TrimEnd('\0');
            if (text.StartsWith(LoaderStub.MarkerPrefix, StringComparison.Ordinal))
                info.StubMarker = text;
        }
        if (info.Version >= 0x020F)
        {
            uint kio = (uint)SetupHeader.KernelInfoOffset.Read(head);
            var ki = kio == 0 ? null : ReadAt(stream, pm + kio, global::UklLink.Boot.KernelInfo.Size);
            if (ki is not null && global::UklLink.Boot.KernelInfo.TryParse(ki, out var parsed))
                info.KernelInfo = parsed;
        }
        if (info.Version >= 0x0208)
        {
            uint po = (uint)SetupHeader.PayloadOffset.Read(head);
            uint pl = (uint)SetupHeader.PayloadLength.Read(head);
            if (po != 0 && pl != 0)
            {
                var magic = ReadAt(stream, pm + po, (int)Math.Min(pl, 64u));
                if (magic is not null)
                {
                    info.PayloadFormat = DescribeMagic(magic);
                    if (info.PayloadFormat == "ELF")
                        info.PayloadSegments = ReadPayloadProgramHeaders(stream, pm + po, pl);
                }
            }
        }
        return info;
    }

    private static string DescribeMagic(ReadOnlySpan<byte> m)
    {
        if (ElfHeader.HasElfMagic(m)) return "ELF";
        if (m.Length >= 2 && m[0] == 0x1F && (m[1] == 0x8B || m[1] == 0x9E)) return "gzip";
        if (m.Length >= 2 && m[0] == 0x42 && m[1] == 0x5A) return "bzip2";
        if (m.Length >= 2 && m[0] == 0x5D && m[1] == 0x00) return "LZMA";
        if (m.Length >= 2 && m[0] == 0xFD && m[1] == 0x37) return "XZ";
        if (m.Length >= 2 && m[0] == 0x02 && m[1] == 0x21) return "LZ4";
        if (m.Length >= 2 && m[0] == 0x28 && m[1] == 0xB5) return "ZSTD";
        return "unknown";
    }

    private static List<(uint, LoadSegment)> ReadPayloadProgramHeaders(Stream stream, long at, uint length)
    {
        var list = new List<(uint, LoadSegment)>();
        var h = ReadAt(stream, at, 64);
        if (h is null || h[4] != 2 || h[5] != 1)
            return list;
        ulong phoff = BinaryPrimitives.ReadUInt64LittleEndian(h.AsSpan(32));
        int phnum = BinaryPrimitives.ReadUInt16LittleEndian(h.AsSpan(56));
        if (phoff >= length || (ulong)phnum * 56 > length - phoff || phnum > 256)
            return list;
        var table = ReadAt(stream, at + (long)phoff, phnum * 56);
        if (table is null)
            return list;
        for (int i = 0; i < phnum; i++)
        {
            var segment = LoadSegment.Read(table.AsSpan(i * LoadSegment.Size64, LoadSegment.Size64), out uint type);
            list.Add((type, segment));
        }
        return list;
    }

    private static byte[]? ReadAt(Stream stream, long offset, int count)
    {
        if (offset < 0 || offset + count > stream.Length)
            return null;
        var b = new byte[count];
        stream.Position = offset;
        stream.ReadExactly(b);
        return b;
    }
}
