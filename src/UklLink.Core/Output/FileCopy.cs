using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using UklLink.Inputs;

namespace UklLink.Output;

/// <summary>
/// Copies the first bytes of one file into another inside the kernel, so the bytes never pass through this process:
/// <c>copy_file_range(2)</c> (which file systems with shared extents turn into a reflink), and where the system call
/// is missing or refuses the pair of files, a plain write of the source's mapped bytes.
/// </summary>
public static partial class FileCopy
{
    /// <summary>How the last copy was made ("copy_file_range" or "write"), for -v and the benchmarks.</summary>
    public static string LastMethod { get; private set; } = "";

    /// <summary>Writes <paramref name="length"/> bytes from the start of <paramref name="source"/> to the start of <paramref name="target"/>.</summary>
    public static void CopyPrefix(string sourcePath, MappedFile source, SafeFileHandle target, long length)
    {
        if (length == 0)
            return;
        if (OperatingSystem.IsLinux() && TryCopyFileRange(sourcePath, target, length))
        {
            LastMethod = "copy_file_range";
            return;
        }
        const int Chunk = 1 << 24;
        for (long at = 0; at < length; at += Chunk)
            RandomAccess.Write(target, source.Span((ulong)at, (ulong)Math.Min(Chunk, length - at)), at);
        LastMethod = "write";
    }

    private static bool TryCopyFileRange(string sourcePath, SafeFileHandle target, long length)
    {
        using var source = File.OpenHandle(sourcePath, FileMode.Open, FileAccess.Read, FileShare.Read);
        long inOffset = 0, outOffset = 0;
        bool refused = true; // until the first byte is copied, any error means "use the fallback"
        while (inOffset < length)
        {
            nint n = copy_file_range((int)source.DangerousGetHandle(), ref inOffset, (int)target.DangerousGetHandle(), ref outOffset,
                (nuint)(length - inOffset), 0);
            if (n > 0)
            {
                refused = false;
                continue;
            }
            if (n == 0)
                throw new IOException($"{sourcePath}: file ended at byte {inOffset} while copying {length} bytes");
            int errno = Marshal.GetLastPInvokeError();
            if (errno == EINTR)
                continue;
            if (refused && errno is ENOSYS or EXDEV or EINVAL or EOPNOTSUPP or EBADF or EPERM)
                return false;
            throw new IOException($"copying {sourcePath}: copy_file_range failed ({Marshal.GetPInvokeErrorMessage(errno)})");
        }
        return true;
    }

    private const int EPERM = 1, EINTR = 4, EBADF = 9, EXDEV = 18, EINVAL = 22, ENOSYS = 38, EOPNOTSUPP = 95;

    [LibraryImport("libc", EntryPoint = "copy_file_range", SetLastError = true)]
    private static partial nint copy_file_range(int fdIn, ref long offIn, int fdOut, ref long offOut, nuint length, uint flags);
}
