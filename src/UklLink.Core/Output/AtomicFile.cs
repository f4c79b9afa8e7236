using Microsoft.Win32.SafeHandles;

namespace UklLink.Output;

/// <summary>
/// Writes an output file so that a failure, a full disk or a kill (even SIGKILL) never leaves a partially written
/// output or a temporary file behind: the bytes go to an unnamed file in the same directory that replaces the output
/// by a rename only once complete (<see cref="TemporaryFile"/>). The data is not forced to disk before the rename (no
/// fsync, as ld, lld and mold do not): that guards only against a power cut and costs more than a small link.
/// </summary>
public static class AtomicFile
{
    public static void Write(string path, Action<Stream> write) =>
        Replace(path, temp => write(temp.Stream));

    /// <summary>
    /// Like <see cref="Write(string, Action{Stream})"/>, for writers that place bytes at offsets themselves
    /// (<see cref="RandomAccess"/>, <see cref="FileCopy"/>): <paramref name="write"/> gets the file's handle; the file
    /// gets the permissions of <paramref name="modeFrom"/> when given (a linked kernel keeps the input kernel's mode).
    /// </summary>
    public static void WriteAt(string path, Action<SafeFileHandle> write, string? modeFrom = null) =>
        Replace(path, temp =>
        {
            if (modeFrom is not null)
                temp.CopyModeFrom(modeFrom);
            write(temp.Stream.SafeFileHandle);
        });

    public static void WriteText(string path, string text) =>
        Write(path, s =>
        {
            var bytes = new System.Text.UTF8Encoding(false).GetBytes(text);
            s.Write(bytes);
        });

    private static void Replace(string path, Action<TemporaryFile> produce)
    {
        string full = Path.GetFullPath(path);
        if (Directory.Exists(full))
            throw new IOException($"{path}: is a directory");
        string dir = Path.GetDirectoryName(full) ?? ".";
        if (!Directory.Exists(dir))
            throw new IOException($"{path}: directory {dir} does not exist");
        using var temp = TemporaryFile.Create(full);
        try
        {
            produce(temp);
            temp.Commit();
        }
        catch (IOException ex) when (IsStorageFailure(ex) && !ex.Message.Contains(path, StringComparison.Ordinal))
        {
            // The unnamed file has no path for .NET to put in the message: say which output could not be written.
            throw new IOException($"{path}: {ex.Message}", ex);
        }
    }

    /// <summary>errno values of a write that the storage refused: EIO, EFBIG, ENOSPC, EROFS, EDQUOT.</summary>
    private static bool IsStorageFailure(IOException ex) => ex.HResult is 5 or 27 or 28 or 30 or 122;
}
