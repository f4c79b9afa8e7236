using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace UklLink.Output;

/// <summary>
/// The few Linux file calls .NET does not offer: an unnamed file in a directory (O_TMPFILE), giving it a name
/// (linkat through /proc/self/fd). In-kernel copies are <see cref="FileCopy"/>'s.
/// </summary>
internal static class LinuxFiles
{
    private const int O_RDWR = 2, O_CLOEXEC = 0x80000, O_DIRECTORY = 0x10000, O_TMPFILE = 0x400000 | O_DIRECTORY;
    private const int AT_FDCWD = -100, AT_SYMLINK_FOLLOW = 0x400;

    /// <summary>The flag values above are x86-64's (and the generic ones); other architectures take the named path.</summary>
    public static bool Available { get; } =
        OperatingSystem.IsLinux() && RuntimeInformation.ProcessArchitecture == Architecture.X64 && Directory.Exists("/proc/self/fd");

    /// <summary>An unnamed regular file in <paramref name="directory"/>, or null when the filesystem cannot make one.</summary>
    public static SafeFileHandle? OpenUnnamed(string directory)
    {
        int fd = open(directory, O_TMPFILE | O_RDWR | O_CLOEXEC, 0x1b6 /* 0666, less the umask */);
        return fd < 0 ? null : new SafeFileHandle(fd, ownsHandle: true);
    }

    /// <summary>Gives the unnamed file <paramref name="handle"/> the name <paramref name="path"/> (which must not exist).</summary>
    public static void Link(SafeFileHandle handle, string path)
    {
        if (linkat(AT_FDCWD, $"/proc/self/fd/{handle.DangerousGetHandle()}", AT_FDCWD, path, AT_SYMLINK_FOLLOW) != 0)
            throw new IOException($"{path}: cannot create the file: {Marshal.GetLastPInvokeErrorMessage()}");
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int open([MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags, int mode);

    [DllImport("libc", SetLastError = true)]
    private static extern int linkat(int olddirfd, [MarshalAs(UnmanagedType.LPUTF8Str)] string oldpath, int newdirfd,
        [MarshalAs(UnmanagedType.LPUTF8Str)] string newpath, int flags);
}
