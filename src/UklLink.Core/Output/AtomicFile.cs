namespace UklLink.Output;

/// <summary>
/// Writes an output file through a temporary file in the same directory and a rename, so a failure (or a kill)
/// never leaves a partially written output behind.
/// </summary>
public static class AtomicFile
{
    public static void Write(string path, Action<Stream> write) =>
        Replace(path, temp =>
        {
            using var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None);
            write(stream);
            stream.Flush(flushToDisk: true);
        });

    /// <summary>
    /// Like <see cref="Write(string, Action{Stream})"/>, but the temporary file starts as a copy of
    /// <paramref name="copyFrom"/> (the kernel copies it, without passing the bytes through this process) and
    /// <paramref name="edit"/> changes it in place through a read-write stream.
    /// </summary>
    public static void Edit(string path, string copyFrom, Action<FileStream> edit) =>
        Replace(path, temp =>
        {
            File.Copy(copyFrom, temp, overwrite: false);
            using var stream = new FileStream(temp, FileMode.Open, FileAccess.ReadWrite, FileShare.None);
            edit(stream);
            stream.Flush(flushToDisk: true);
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
