using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.Win32.SafeHandles;

namespace UklLink.Output;

/// <summary>
/// An output being written in the directory of its final path. On Linux it is an unnamed file (O_TMPFILE): until
/// <see cref="Commit"/> no name refers to it, so a kill (SIGKILL, OOM) or a full disk leaves nothing behind;
/// the kernel frees the inode when the last descriptor closes. Commit names it ".NAME.PID.RANDOM.tmp" (linkat) and
/// renames that over the final path, so a reader sees the old file or the new one, never a partial one. Where
/// O_TMPFILE is not supported the file has that temporary name from the start. Either way a kill can leave a
/// named temporary file (between linkat and rename, or always on the fallback); the next write of the same output
/// removes those whose process is gone (<see cref="RemoveStale"/>).
/// </summary>
internal sealed partial class TemporaryFile : IDisposable
{
    private readonly string _final;
    private readonly string _staging;
    private readonly bool _unnamed;
    private bool _committed;

    private TemporaryFile(string final, string staging, FileStream stream, bool unnamed)
    {
        _final = final;
        _staging = staging;
        Stream = stream;
        _unnamed = unnamed;
    }

    public FileStream Stream { get; }

    /// <summary>Creates the file for <paramref name="finalPath"/>, after removing stale temporary files of that output.</summary>
    public static TemporaryFile Create(string finalPath)
    {
        string dir = Path.GetDirectoryName(finalPath) ?? ".";
        string name = Path.GetFileName(finalPath);
        RemoveStale(dir, name);
        string staging = Path.Combine(dir, $".{name}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        if (LinuxFiles.Available && LinuxFiles.OpenUnnamed(dir) is { } handle)
            return new TemporaryFile(finalPath, staging, new FileStream(handle, FileAccess.ReadWrite), unnamed: true);
        var stream = new FileStream(staging, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None);
        return new TemporaryFile(finalPath, staging, stream, unnamed: false);
    }

    /// <summary>Gives the file the permissions of <paramref name="path"/> (a copied kernel keeps its mode).</summary>
    public void CopyModeFrom(string path)
    {
        if (!OperatingSystem.IsWindows())
            File.SetUnixFileMode(Stream.SafeFileHandle, File.GetUnixFileMode(path));
    }

    /// <summary>Puts the file in place of the final path (no fsync: see <see cref="AtomicFile"/>).</summary>
    public void Commit()
    {
        Stream.Flush();
        if (_unnamed)
            LinuxFiles.Link(Stream.SafeFileHandle, _staging);
        Stream.Dispose();
        try
        {
            File.Move(_staging, _final, overwrite: true);
        }
        catch
        {
            TryDelete(_staging);
            throw;
        }
        _committed = true;
    }

    public void Dispose()
    {
        Stream.Dispose();
        if (!_committed && !_unnamed)
            TryDelete(_staging);
    }

    /// <summary>
    /// Removes ".NAME.PID.RANDOM.tmp" files in <paramref name="dir"/> left by a process that no longer runs (killed
    /// between naming and renaming, or on a filesystem without O_TMPFILE). A running writer's file is left alone.
    /// </summary>
    public static void RemoveStale(string dir, string name)
    {
        if (!OperatingSystem.IsLinux() || !Directory.Exists("/proc/self"))
            return; // without /proc there is no telling a live writer from a dead one
        IEnumerable<string> candidates;
        try
        {
            candidates = Directory.EnumerateFiles(dir, $".{name}.*.tmp").ToList();
        }
        catch (IOException)
        {
            return;
        }
        catch (UnauthorizedAccessException)
        {
            return;
        }
        foreach (var path in candidates)
        {
            var m = StaleName().Match(Path.GetFileName(path));
            if (!m.Success || m.Groups["name"].Value != name)
                continue;
            int pid = int.Parse(m.Groups["pid"].Value, CultureInfo.InvariantCulture);
            if (pid != Environment.ProcessId && !Directory.Exists($"/proc/{pid}"))
                TryDelete(path);
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    [GeneratedRegex(@"^\.(?<name>.+)\.(?<pid>[0-9]{1,9})\.[0-9a-f]{32}\.tmp$")]
    private static partial Regex StaleName();
}
