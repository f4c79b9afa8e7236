using System.Buffers.Binary;
using UklLink.Tooling;

namespace UklLink.Guest;

/// <summary>The host's static busybox (Debian's busybox-static), the guest's shell and tools, with its applet list.</summary>
public sealed record Busybox(string Path, byte[] Image, IReadOnlyList<string> Applets)
{
    private static readonly string[] Candidates = ["/bin/busybox", "/usr/bin/busybox"];

    public static Busybox Find(string? explicitPath = null)
    {
        string? path = explicitPath ?? Candidates.FirstOrDefault(File.Exists);
        if (path is null || !File.Exists(path))
            throw new GuestException("busybox is not installed; the guest's init needs the static one: apt-get install busybox-static");
        byte[] image = File.ReadAllBytes(path);
        if (HasInterpreter(image))
            throw new GuestException($"{path} is linked dynamically; the guest has no shared libraries: apt-get install busybox-static");
        var r = ExternalCommand.Run(path, ["--list-full"]);
        if (r.ExitCode != 0)
            throw new GuestException($"{path} --list-full failed; reinstall busybox-static");
        var applets = r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return new Busybox(path, image, applets);
    }

    /// <summary>True when the ELF file has a PT_INTERP program header (it needs a dynamic loader).</summary>
    private static bool HasInterpreter(byte[] elf)
    {
        if (elf.Length < 64 || elf[0] != 0x7f || elf[1] != (byte)'E' || elf[4] != 2)
            return false;
        ulong phoff = BinaryPrimitives.ReadUInt64LittleEndian(elf.AsSpan(32));
        int phentsize = BinaryPrimitives.ReadUInt16LittleEndian(elf.AsSpan(54));
        int phnum = BinaryPrimitives.ReadUInt16LittleEndian(elf.AsSpan(56));
        for (int i = 0; i < phnum; i++)
        {
            ulong at = phoff + (ulong)(i * phentsize);
            if (at + 4 > (ulong)elf.Length)
                break;
            if (BinaryPrimitives.ReadUInt32LittleEndian(elf.AsSpan((int)at)) == 3)
                return true;
        }
        return false;
    }
}
