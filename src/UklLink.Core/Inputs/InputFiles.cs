namespace UklLink.Inputs;

/// <summary>Opens input files read-only, turning every file-system problem into one clear <see cref="InputException"/>.</summary>
public static class InputFiles
{
    public static FileStream OpenRead(string path, string? displayName = null)
    {
        string name = displayName ?? path;
        if (Directory.Exists(path))
            throw new InputException(name, "is a directory, not a file");
        if (!File.Exists(path))
            throw new InputException(name, displayName is null ? "no such file" : $"no such file: {path}");
        try
        {
            return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 4096, FileOptions.RandomAccess);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new InputException(name, $"cannot open: {ex.Message}");
        }
    }
}
