using Microsoft.Win32.SafeHandles;

namespace UklLink.Output;

/// <summary>
/// Writes an output file through a temporary file in the same directory and a rename, so a failure (or a kill)
/// never leaves a partially written output behind. The data is not forced to disk before the rename (no fsync, as
/// ld, lld and mold do not): that would guard only against a power cut, and costs more than the rest of a small link.
/// </summary>
public static class AtomicFile
{
    public static void Write(string path, Action<Stream> write) =>
        Replace(path, temp =>
        {
            using var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None);
            write(stream);
        });

    /// <summary>
    /// Like <see cref="Write(string, Action{Stream})"/>, for writers that place bytes at offsets themselves
    /// (<see cref="RandomAccess"/>, <see cref="FileCopy"/>): <paramref name="write"/> gets the temporary file's handle.
    /// </summary>
    public static void WriteAt(string path, Action<SafeFileHandle> write) =>
        Replace(path, temp =>
        {
            using var handle = File.OpenHandle(temp, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None);
            write(handle);
        });

    public static void WriteText(string path, string text) =>
        Write(path, s =>
        {
            var bytes = new System.Text.UTF8Encoding(false).GetBytes(text);
            s.Write(bytes);
        });

    /// <summary>Runs <paramref name="produce"/> on a fresh temporary path next to <paramref name="path"/>, then renames.</summary>
    private static void Replace(string path, Action<string> produce)
    {
        string full = Path.GetFullPath(path);
        if (Directory.Exists(full))
            throw new IOException($"{path}: is a directory");
        string dir = Path.GetDirectoryName(full) ?? ".";
        if (!Directory.Exists(dir))
            throw new IOException($"{path}: directory {dir} does not exist");
        string temp = Path.Combine(dir, $".{Path.GetFileName(full)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        try
        {
            produce(temp);
            File.Move(temp, full, overwrite: true);
        }
        catch
        {
            try { File.Delete(temp); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            throw;
        }
    }
}
