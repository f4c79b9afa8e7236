using System.Buffers.Binary;
using System.Text;

namespace UklLink.Dwarf;

/// <summary>Raised internally on malformed/truncated data; never escapes <see cref="DwarfInfo.Read"/>.</summary>
internal sealed class DwarfFormatException(string message) : Exception(message);

/// <summary>Bounds-checked little-endian reader over a window [Pos, End) of a byte array.</summary>
internal sealed class DwarfCursor
{
    public readonly byte[] Data;
    public readonly int End;
    public int Pos;

    public DwarfCursor(byte[] data, int start, int end)
    {
        if (start < 0 || end < start || end > data.Length)
            throw new DwarfFormatException($"invalid window [0x{start:x}, 0x{end:x}) of {data.Length} bytes");
        Data = data;
        Pos = start;
        End = end;
    }

    public int Remaining => End - Pos;
    public bool AtEnd => Pos >= End;

    private void Need(int n)
    {
        if (n < 0 || End - Pos < n)
            throw new DwarfFormatException($"truncated data at offset 0x{Pos:x} (need {n} bytes, {Math.Max(0, End - Pos)} left)");
    }

    public byte U8()
    {
        Need(1);
        return Data[Pos++];
    }

    public ushort U16()
    {
        Need(2);
        var v = BinaryPrimitives.ReadUInt16LittleEndian(Data.AsSpan(Pos, 2));
        Pos += 2;
        return v;
    }

    public uint U24()
    {
        Need(3);
        uint v = Data[Pos] | ((uint)Data[Pos + 1] << 8) | ((uint)Data[Pos + 2] << 16);
        Pos += 3;
        return v;
    }

    public uint U32()
    {
        Need(4);
        var v = BinaryPrimitives.ReadUInt32LittleEndian(Data.AsSpan(Pos, 4));
        Pos += 4;
        return v;
    }

    public ulong U64()
    {
        Need(8);
        var v = BinaryPrimitives.ReadUInt64LittleEndian(Data.AsSpan(Pos, 8));
        Pos += 8;
        return v;
    }

    /// <summary>Reads an unsigned little-endian value of <paramref name="size"/> bytes (bytes beyond 8 are skipped).</summary>
    public ulong UN(int size)
    {
        Need(size);
        ulong v = 0;
        for (int i = 0; i < size; i++)
        {
            if (i < 8)
                v |= (ulong)Data[Pos + i] << (8 * i);
        }
        Pos += size;
        return v;
    }

    public ulong Offset(int offsetSize) => offsetSize == 8 ? U64() : U32();

    public ulong Uleb()
    {
        ulong result = 0;
        int shift = 0;
        while (true)
        {
            byte b = U8();
            if (shift < 64)
                result |= (ulong)(b & 0x7f) << shift;
            shift += 7;
            if ((b & 0x80) == 0)
                return result;
        }
    }

    public long Sleb()
    {
        long result = 0;
        int shift = 0;
        byte b;
        do
        {
            b = U8();
            if (shift < 64)
                result |= (long)(b & 0x7f) << shift;
            shift += 7;
        } while ((b & 0x80) != 0);
        if (shift < 64 && (b & 0x40) != 0)
            result |= -1L << shift;
        return result;
    }

    public string CString()
    {
        int idx = Array.IndexOf(Data, (byte)0, Pos, End - Pos);
        if (idx < 0)
            throw new DwarfFormatException($"unterminated string at offset 0x{Pos:x}");
        var s = Encoding.UTF8.GetString(Data, Pos, idx - Pos);
        Pos = idx + 1;
        return s;
    }

    public void Skip(ulong n)
    {
        if (n > (ulong)Math.Max(0, End - Pos))
            throw new DwarfFormatException($"truncated data at offset 0x{Pos:x} (skip of {n} bytes, {Math.Max(0, End - Pos)} left)");
        Pos += (int)n;
    }

    /// <summary>A sub-window of <paramref name="length"/> bytes starting at the current position (which is advanced past it).</summary>
    public DwarfCursor Slice(ulong length)
    {
        int start = Pos;
        Skip(length);
        return new DwarfCursor(Data, start, Pos);
    }

    /// <summary>Reads a NUL-terminated string at <paramref name="offset"/> of a whole section; null if impossible.</summary>
    public static string? StringAt(byte[]? section, ulong offset)
    {
        if (section is null || offset >= (ulong)section.Length)
            return null;
        int start = (int)offset;
        int idx = Array.IndexOf(section, (byte)0, start);
        if (idx < 0)
            return null;
        return Encoding.UTF8.GetString(section, start, idx - start);
    }
}
