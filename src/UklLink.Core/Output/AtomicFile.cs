namespace UklLink.Output;

/// <summary>
/// Writes an output file so that a failure, a full disk or a kill (even SIGKILL) never leaves a partially written
/// output or a temporary file behind: the bytes go to an unnamed file in the same directory that replaces the output
/// by a rename only once complete and on disk (<see cref="TemporaryFile"/>).
/// </summary>
public static class AtomicFile
{
    public static void Write(string path, Action<Stream> write) =>
        Replace(path, temp => write(temp.Stream));

    /// <summary>
    /// Like <see cref="Write(string, Action{Stream})"/>, but the file starts as a copy of <paramref name="copyFrom"/>
    /// (copied by the kernel, without passing the bytes through this process, and with its permissions) and
    /// <paramref name="edit"/> changes it in place through a read-write stream.
    /// </summary>
    public static void Edit(string path, string copyFrom, Action<FileStream> edit) =>
        Replace(path, temp =>
        {
            temp.CopyModeFrom(copyFrom);
            temp.CopyFrom(copyFrom);
            edit(temp.Stream);
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
