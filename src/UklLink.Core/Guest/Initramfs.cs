using System.IO.Compression;
using System.Reflection;

namespace UklLink.Guest;

/// <summary>
/// The guest's root file system for <c>ukl-link run</c> and <c>image</c>: busybox with a link per applet, the
/// generated /init (<see cref="GuestInit"/>), the /UKL placeholder, /etc (<see cref="GuestEtc"/>), and the user's
/// files and directories (which win over the generated ones).
/// </summary>
public static class Initramfs
{
    private static readonly string[] Directories =
        ["bin", "sbin", "usr/bin", "usr/sbin", "dev", "proc", "sys", "tmp", "etc", "root", "run", "mnt", "var", "var/tmp", "home"];

    /// <summary>
    /// guest-exit N: the status to QEMU's isa-debug-exit (port 0xf4; QEMU exits with 2N+1) through /dev/port, the same
    /// helper as kernel/mkinitramfs's; only returns where that device is missing.
    /// </summary>
    private const string GuestExit = """
        #!/bin/sh
        # guest-exit N: report status N to the host through isa-debug-exit (port 0xf4).
        n="${1:-0}"
        [ -e /dev/port ] || mount -t devtmpfs devtmpfs /dev 2>/dev/null
        printf "\\$(printf %03o "$((n & 255))")" | dd of=/dev/port bs=1 seek=244 count=1 2>/dev/null

        """;

    public static byte[] Build(GuestSpec spec, Busybox busybox)
    {
        var cpio = new Cpio();
        foreach (var d in Directories)
            cpio.Directory(d);
        cpio.Directory("tmp", 0x3FF); // 1777
        cpio.CharDevice("dev/console", 5, 1);
        cpio.CharDevice("dev/null", 1, 3, 0x1B6);
        cpio.CharDevice("dev/ttyS0", 4, 64);
        cpio.CharDevice("dev/ttyS1", 4, 65);
        cpio.File("bin/busybox", busybox.Image, 0x1ED);
        foreach (var applet in busybox.Applets)
        {
            string p = applet.Trim('/');
            if (p != "bin/busybox")
                cpio.Symlink(p, "/bin/busybox");
        }
        cpio.File("bin/guest-exit", GuestExit, 0x1ED);
        cpio.File("init", GuestInit.Script(spec), 0x1ED);
        cpio.File("UKL", Placeholder, 0x1ED);
        foreach (var (path, text) in GuestEtc.Files(spec))
            cpio.File(path, text);
        foreach (var (host, guest) in spec.Directories)
            AddDirectory(cpio, host, guest);
        foreach (var (host, guest) in spec.Files)
            cpio.File(guest, ReadHostFile(host, "--file"), Permissions(host));
        return cpio.ToArray();
    }

    /// <summary>Writes the archive, gzip-compressed when <paramref name="gzip"/> (QEMU and the kernel take either).</summary>
    public static void Write(string path, byte[] cpio, bool gzip)
    {
        Output.AtomicFile.Write(path, s =>
        {
            if (!gzip)
            {
                s.Write(cpio);
                return;
            }
            using var z = new GZipStream(s, CompressionLevel.Optimal, leaveOpen: true);
            z.Write(cpio);
        });
    }

    /// <summary>Checks a <c>HOST[:GUEST]</c> argument and returns the pair; the guest path defaults to /BASENAME.</summary>
    public static (string Host, string Guest) ParseMapping(string spec, string option, bool directory)
    {
        string host = spec, guest;
        int colon = spec.LastIndexOf(':');
        if (colon > 0 && colon + 1 < spec.Length && spec[colon + 1] == '/')
        {
            host = spec[..colon];
            guest = spec[(colon + 1)..];
        }
        else if (colon >= 0)
        {
            throw new GuestException($"{option} {spec}: the guest path after ':' must be absolute, e.g. {option} {spec[..colon]}:/etc/app.conf");
        }
        else
        {
            guest = "/" + Path.GetFileName(Path.TrimEndingDirectorySeparator(host));
        }
        if (directory ? !System.IO.Directory.Exists(host) : !File.Exists(host))
            throw new GuestException(directory && File.Exists(host)
                ? $"{option} {host}: is a file; use --file for files"
                : !directory && System.IO.Directory.Exists(host)
                    ? $"{option} {host}: is a directory; use --dir for directories"
                    : $"{option} {host}: no such {(directory ? "directory" : "file")}");
        if (guest.EndsWith('/') && !directory)
            guest += Path.GetFileName(host);
        return (host, guest);
    }

    private static void AddDirectory(Cpio cpio, string host, string guest)
    {
        cpio.Directory(guest, Permissions(host));
        foreach (var entry in new DirectoryInfo(host).EnumerateFileSystemInfos("*", SearchOption.TopDirectoryOnly))
        {
            string target = guest.TrimEnd('/') + "/" + entry.Name;
            if (entry.LinkTarget is { } link)
                cpio.Symlink(target, link);
            else if (entry is DirectoryInfo)
                AddDirectory(cpio, entry.FullName, target);
            else
                cpio.File(target, ReadHostFile(entry.FullName, "--dir"), Permissions(entry.FullName));
        }
    }

    private static byte[] ReadHostFile(string path, string option)
    {
        try
        {
            return File.ReadAllBytes(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new GuestException($"{option} {path}: cannot read it ({ex.Message})");
        }
    }

    private static uint Permissions(string path) =>
        OperatingSystem.IsWindows() ? 0x1A4 : (uint)File.GetUnixFileMode(path) & 0xFFF;

    private static string Placeholder
    {
        get
        {
            using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream("guest/UKL")
                ?? throw new InvalidOperationException("the /UKL placeholder is not embedded in UklLink.Core");
            using var reader = new StreamReader(stream);
            return reader.ReadToEnd();
        }
    }
}
