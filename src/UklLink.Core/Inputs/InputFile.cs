namespace UklLink.Inputs;

/// <summary>One command-line input, in the order given.</summary>
public abstract record InputFile(string Path);

/// <summary>A relocatable object named on the command line: always part of the link.</summary>
public sealed record ObjectInput(ObjectFile Object) : InputFile(Object.Path);

/// <summary>An archive: its members join the link when they define a symbol that is still undefined.</summary>
public sealed record ArchiveInput(string ArchivePath, bool Thin, IReadOnlyList<ObjectFile> Members, IReadOnlyList<RejectedInput> RejectedMembers)
    : InputFile(ArchivePath);

/// <summary>An ELF file (or archive member) that is not a 64-bit little-endian x86-64 relocatable object.</summary>
public sealed record RejectedInput(string RejectedPath, string? Member, ElfHeader Header) : InputFile(RejectedPath)
{
    public string DisplayName => Member is null ? RejectedPath : $"{RejectedPath}({Member})";

    public string Reason
    {
        get
        {
            var h = Header;
            if (h.Class != ElfHeader.Class64)
                return $"is {h.ClassName}, expected ELF64";
            if (h.Data != ElfHeader.DataLittleEndian)
                return $"is {h.DataName}, expected little-endian";
            if (h.Machine != ElfHeader.MachineX86_64)
                return $"is for {h.MachineName}, expected x86-64";
            return $"is {h.TypeName}, expected a relocatable object (ET_REL)";
        }
    }

    /// <summary>The concrete fix for <see cref="Reason"/>: the flag or command that gives a usable object.</summary>
    public string Fix
    {
        get
        {
            var h = Header;
            if (h.Class != ElfHeader.Class64 && h.Machine is ElfHeader.MachineX86_64 or 3)
                return "rebuild it for x86-64: drop -m32/-mx32 (gcc -m64 -c)";
            if (h.Class != ElfHeader.Class64 || h.Data != ElfHeader.DataLittleEndian || h.Machine != ElfHeader.MachineX86_64)
                return $"rebuild it with a compiler for x86-64 (gcc -c on x86-64, or x86_64-linux-gnu-gcc -c), not one for {h.MachineName}";
            return h.Type == ElfHeader.TypeRelocatable ? "pass objects compiled for x86-64 with -c (or partially linked with ld -r)"
                : "pass the objects it was linked from (gcc -c output), or combine them with ld -r -o app.o a.o b.o; not a linked executable or shared library";
        }
    }
}
