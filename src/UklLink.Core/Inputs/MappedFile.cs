using System.IO.MemoryMappedFiles;

namespace UklLink.Inputs;

/// <summary>
/// A whole input file mapped read-only into memory (or, when it is small or a stream that is not a file, held as an
/// array): readers
/// decode headers, symbols and relocations straight from its bytes and section contents are spans over it, so
/// nothing is read into buffers or copied up front. The owner disposes it when the link no longer needs any of its
/// bytes; a read after that fails with <see cref="ObjectDisposedException"/> instead of touching unmapped memory.
/// </summary>
public sealed unsafe class MappedFile : IDisposable
{
    private readonly MemoryMappedFile? _map;
    private readonly MemoryMappedViewAccessor? _view;
    private readonly byte[]? _array;
    private byte* _base;
    private volatile bool _disposed;

    private MappedFile(string name, long length, MemoryMappedFile? map, MemoryMappedViewAccessor? view, byte[]? array)
    {
        Name = name;
        Length = length;
        _map = map;
        _view = view;
        _array = array;
        if (view is not null)
        {
            view.SafeMemoryMappedViewHandle.AcquirePointer(ref _base);
            _base += view.PointerOffset;
        }
    }

    /// <summary>The file as messages name it.</summary>
    public string Name { get; }

    public long Length { get; }

    /// <summary>Opens and maps <paramref name="path"/>; every file-system problem is one <see cref="InputException"/>.</summary>
    public static MappedFile Open(string path, string? displayName = null)
    {
        var stream = InputFiles.OpenRead(path, displayName);
        try
        {
            return Map(stream, displayName ?? path, leaveOpen: false);
        }
        catch
        {
            stream.Dispose();
            throw;
        }
    }

    /// <summary>
    /// A file stream is mapped (the stream stays the caller's); any other stream is read into an array, so callers
    /// that hold a stream (tests, the boot-image writer) use the same readers.
    /// </summary>
    public static MappedFile Of(Stream stream, string name)
    {
        if (stream is FileStream file)
            return Map(file, name, leaveOpen: true);
        var bytes = new byte[stream.Length];
        stream.Position = 0;
        stream.ReadExactly(bytes);
        return OfBytes(bytes, name);
    }

    public static MappedFile OfBytes(byte[] bytes, string name) => new(name, bytes.Length, null, null, bytes);

    private static MappedFile Map(FileStream stream, string name, bool leaveOpen)
    {
        long length;
        try
        {
            length = stream.Length;
        }
        catch (IOException ex)
        {
            throw new InputException(name, $"cannot read: {ex.Message}");
        }
        if (length == 0)
        {
            if (!leaveOpen)
                stream.Dispose();
            return OfBytes(Array.Empty<byte>(), name);
        }
        if (length <= ReadLimit && !leaveOpen)
            return Read(stream, name, length);
        MemoryMappedFile? map = null;
        try
        {
            map = MemoryMappedFile.CreateFromFile(stream, null, 0, MemoryMappedFileAccess.Read, HandleInheritability.None, leaveOpen);
            var view = map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
            return new MappedFile(name, length, map, view, null);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException)
        {
            map?.Dispose();
            // Not mappable (a pipe, a special file): read it instead.
            try
            {
                stream.Position = 0;
                var bytes = new byte[length];
                stream.ReadExactly(bytes);
                if (!leaveOpen)
                    stream.Dispose();
                return OfBytes(bytes, name);
            }
            catch (Exception again) when (again is IOException or NotSupportedException or OutOfMemoryException)
            {
                throw new InputException(name, $"cannot read: {ex.Message}");
            }
        }
    }

    /// <summary>
    /// Files up to this size are read into an array with one system call instead of being mapped. A typical object is
    /// tens of KiB: mapping it costs a page fault per page and, when the link ends, an munmap that flushes the TLBs of
    /// every CPU the process ran on, which measured as a tenth of a 200-object link. Big files (the kernel, archives)
    /// are mapped, where reading only the pages a link touches is what saves time and memory.
    /// </summary>
    public const long ReadLimit = 1 << 20;

    private static MappedFile Read(FileStream stream, string name, long length)
    {
        using (stream)
        {
            // On the pinned heap: the collector never copies these (inputs live as long as the link) nor counts them
            // against gen0's budget, which the per-relocation and per-symbol objects need.
            var bytes = GC.AllocateUninitializedArray<byte>((int)length, pinned: true);
            try
            {
                stream.ReadExactly(bytes);
            }
            catch (Exception ex) when (ex is IOException or EndOfStreamException)
            {
                throw new InputException(name, $"cannot read: {ex.Message}");
            }
            return OfBytes(bytes, name);
        }
    }

    /// <summary>True when <paramref name="length"/> bytes at <paramref name="offset"/> lie inside the file (overflow-safe).</summary>
    public bool Contains(ulong offset, ulong length) => offset <= (ulong)Length && length <= (ulong)Length - offset;

    /// <summary>
    /// The bytes at <paramref name="offset"/>; the caller has checked the range (<see cref="Contains"/>). A range past
    /// the end or over 2 GiB is a bug in the caller, not bad input, and throws <see cref="ArgumentOutOfRangeException"/>.
    /// </summary>
    public ReadOnlySpan<byte> Span(ulong offset, ulong length)
    {
        if (!Contains(offset, length) || length > int.MaxValue)
            throw new ArgumentOutOfRangeException(nameof(length), $"{Name}: 0x{length:x} bytes at 0x{offset:x} are outside the file (0x{Length:x} bytes)");
        if (_disposed)
            throw new ObjectDisposedException(Name);
        if (_array is not null)
            return _array.AsSpan((int)offset, (int)length);
        return new ReadOnlySpan<byte>(_base + offset, (int)length);
    }

    /// <summary>A view of part of the file (an archive member) that readers treat as a file of its own.</summary>
    public FileRegion Region(ulong offset, ulong length) =>
        Contains(offset, length) ? new FileRegion(this, offset, length)
            : throw new ArgumentOutOfRangeException(nameof(length), $"{Name}: region outside the file");

    public FileRegion All => new(this, 0, (ulong)Length);

    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        if (_view is not null)
        {
            _view.SafeMemoryMappedViewHandle.ReleasePointer();
            _view.Dispose();
        }
        _map?.Dispose();
    }
}

/// <summary>
/// A range of a <see cref="MappedFile"/> read as a file of its own: an object on disk is its whole file, an archive
/// member the bytes of the member. Offsets are relative to the region's start and bounds-checked against its end.
/// </summary>
public readonly struct FileRegion
{
    public FileRegion(MappedFile file, ulong start, ulong length)
    {
        File = file;
        Start = start;
        Length = length;
    }

    public MappedFile File { get; }
    public ulong Start { get; }
    public ulong Length { get; }

    public bool Contains(ulong offset, ulong length) => offset <= Length && length <= Length - offset;

    /// <summary>Bytes of the region; the caller has checked the range with <see cref="Contains"/>.</summary>
    public ReadOnlySpan<byte> Span(ulong offset, ulong length) =>
        Contains(offset, length) ? File.Span(Start + offset, length)
            : throw new ArgumentOutOfRangeException(nameof(length), $"{File.Name}: 0x{length:x} bytes at 0x{offset:x} are outside the region (0x{Length:x} bytes)");

    /// <summary>Up to <paramref name="count"/> bytes from the start (fewer when the region is shorter).</summary>
    public ReadOnlySpan<byte> Head(int count) => Span(0, Math.Min((ulong)count, Length));
}
