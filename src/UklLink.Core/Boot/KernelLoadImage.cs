using UklLink.Inputs;

namespace UklLink.Boot;

/// <summary>
/// What a boot loader needs from a vmlinux: its PT_LOAD segments by physical address, its PT_NOTE segments and the
/// physical address of its 64-bit entry (startup_64). Only the ELF header and program headers are read; the segment
/// bytes stay in the stream until the writer copies them.
/// </summary>
public sealed class KernelLoadImage
{
    /// <summary>The stub's identity map covers the low 4 GiB; everything it touches must lie below.</summary>
    public const ulong AddressLimit = 0x1_0000_0000;

    /// <summary>The kernel may not be loaded below 1 MiB (BIOS, real-mode setup, boot_params live there).</summary>
    public const ulong LowestAddress = 0x100000;

    /// <summary>Enough for any kernel; the stub's segment table has a fixed budget.</summary>
    public const int MaxSegments = 32;

    private const uint PT_LOAD = 1;
    private const uint PT_NOTE = 4;

    private KernelLoadImage(string name, long fileLength, ulong entry, IReadOnlyList<LoadSegment> segments, IReadOnlyList<LoadSegment> notes)
    {
        Name = name;
        FileLength = fileLength;
        EntryPhysical = entry;
        Segments = segments;
        Notes = notes;
    }

    public string Name { get; }

    public long FileLength { get; }

    /// <summary>Physical address of the kernel's 64-bit entry (e_entry of a vmlinux is phys_startup_64).</summary>
    public ulong EntryPhysical { get; }

    /// <summary>PT_LOAD segments with a non-zero memory size, in physical-address order, not overlapping.</summary>
    public IReadOnlyList<LoadSegment> Segments { get; }

    /// <summary>PT_NOTE segments that lie inside a PT_LOAD's file bytes (kept in the payload's program headers).</summary>
    public IReadOnlyList<LoadSegment> Notes { get; }

    /// <summary>Lowest physical address of the kernel (its runtime start, pref_address).</summary>
    public ulong PhysicalStart => Segments[0].PhysicalAddress;

    /// <summary>End of the kernel's memory image (highest p_paddr + p_memsz): _end.</summary>
    public ulong PhysicalEnd => Segments.Max(s => s.PhysicalEnd);

    /// <summary>Bytes of the file-backed image from the lowest to the highest byte written from the file.</summary>
    public ulong FileBackedSpan => Segments.Where(s => s.FileSize > 0).Select(s => s.PhysicalFileEnd).DefaultIfEmpty(PhysicalStart).Max() - PhysicalStart;

    public static KernelLoadImage Read(string path)
    {
        using var file = MappedFile.Open(path);
        return Read(file.All, path);
    }

    /// <summary>Reads and checks the headers. Throws <see cref="InputException"/> naming the file and the problem.</summary>
    public static KernelLoadImage Read(Stream stream, string name)
    {
        using var file = MappedFile.Of(stream, name);
        return Read(file.All, name);
    }

    /// <summary>The same on a mapped file, through the shared ELF reader (<see cref="ElfImage"/>).</summary>
    public static KernelLoadImage Read(FileRegion file, string name)
    {
        ulong length = file.Length;
        var elf = ElfImage.ReadVmlinux(file, name);
        var header = elf.Header;
        if (header.ProgramHeaderCount == 0)
            throw new InputException(name, "not a loadable kernel: no program headers");

        var table = elf.ProgramHeaderTable;
        var loads = new List<LoadSegment>();
        var notes = new List<LoadSegment>();
        for (int i = 0; i < header.ProgramHeaderCount; i++)
        {
            var seg = LoadSegment.Read(table.Slice(i * LoadSegment.Size64, LoadSegment.Size64), out uint type);
            if (type != PT_LOAD && type != PT_NOTE)
                continue;
            if (seg.FileSize > 0 && !file.Contains(seg.FileOffset, seg.FileSize))
                throw new InputException(name, $"truncated or corrupt: program header {i} (file offset 0x{seg.FileOffset:x}, size 0x{seg.FileSize:x}) extends past the end of the file (0x{length:x} bytes)");
            if (type == PT_NOTE)
            {
                notes.Add(seg);
                continue;
            }
            if (seg.MemorySize == 0)
                continue;
            if (seg.FileSize > seg.MemorySize)
                throw new InputException(name, $"corrupt program header {i}: p_filesz 0x{seg.FileSize:x} exceeds p_memsz 0x{seg.MemorySize:x}");
            if (seg.PhysicalAddress < LowestAddress || seg.PhysicalAddress >= AddressLimit || seg.MemorySize > AddressLimit - seg.PhysicalAddress)
                throw new InputException(name, $"not a bootable kernel: PT_LOAD {i} at physical 0x{seg.PhysicalAddress:x} size 0x{seg.MemorySize:x} is outside [1 MiB, 4 GiB) (is this a vmlinux, with physical load addresses?)");
            loads.Add(seg);
        }
        if (loads.Count == 0)
            throw new InputException(name, "not a loadable kernel: no PT_LOAD segment with contents");
        if (loads.Count > MaxSegments)
            throw new InputException(name, $"too many PT_LOAD segments ({loads.Count}; the boot image supports {MaxSegments})");
        loads.Sort((a, b) => a.PhysicalAddress.CompareTo(b.PhysicalAddress));
        for (int i = 1; i < loads.Count; i++)
        {
            if (loads[i].PhysicalAddress < loads[i - 1].PhysicalEnd)
                throw new InputException(name, $"corrupt program headers: PT_LOAD segments overlap at physical 0x{loads[i].PhysicalAddress:x}");
        }

        ulong entry = header.Entry;
        // vmlinux's e_entry is the physical startup_64; accept a virtual one too and translate it.
        var holder = loads.FirstOrDefault(s => entry >= s.PhysicalAddress && entry < s.PhysicalFileEnd);
        if (holder is null)
        {
            var virt = loads.FirstOrDefault(s => entry >= s.VirtualAddress && entry - s.VirtualAddress < s.FileSize);
            if (virt is null)
                throw new InputException(name, $"not a bootable kernel: entry point 0x{entry:x} is not inside a PT_LOAD segment's file bytes");
            entry = virt.PhysicalAddress + (entry - virt.VirtualAddress);
        }

        var keptNotes = notes.Where(n => n.FileSize > 0 && loads.Any(l =>
            n.FileOffset >= l.FileOffset && n.FileOffset + n.FileSize <= l.FileOffset + l.FileSize)).ToList();
        return new KernelLoadImage(name, (long)length, entry, loads, keptNotes);
    }
}
