using UklLink.Inputs;
using static UklLink.Inputs.ElfConstants;

namespace UklLink.Layout;

/// <summary>
/// Something placed in an output section: an input section, or content the linker makes. <see cref="Output"/> and
/// <see cref="Address"/> (and a linker-made piece's final <see cref="Size"/>) are the layout pass's answer, set once
/// by it; no pass before layout reads them.
/// </summary>
public abstract class Piece
{
    public OutputSection? Output { get; internal set; }
    public ulong Address { get; internal set; }
    public abstract ulong Size { get; }
    public abstract ulong Alignment { get; }
    public abstract ulong Flags { get; }
    public abstract bool IsNoBits { get; }

    /// <summary>Name for the link map.</summary>
    public abstract string Describe();
}

/// <summary>An input section placed as is (its relocations are applied in place).</summary>
public sealed class InputPiece : Piece
{
    internal InputPiece(InputSection section, ulong size)
    {
        Section = section;
        Size = size;
    }

    public InputSection Section { get; }

    /// <summary>The size in the output: the section's, unless a content transform changed it.</summary>
    public override ulong Size { get; }
    public override ulong Alignment => Math.Max(1, Section.Alignment);
    public override ulong Flags => Section.Flags;
    public override bool IsNoBits => Section.IsNoBits;
    public override string Describe() => $"{Section.File.DisplayName}:({Section.Name})";
}

/// <summary>Content made by the linker: the GOT, COMMON symbols, merged strings, BYTE/LONG data, trampolines.</summary>
public sealed class SyntheticPiece : Piece
{
    private readonly ulong _flags;

    internal SyntheticPiece(string name, ulong size, ulong alignment, ulong flags, bool noBits)
    {
        Name = name;
        SizeValue = size;
        AlignmentValue = Math.Max(1, alignment);
        _flags = flags;
        NoBits = noBits;
    }

    public string Name { get; }

    internal ulong SizeValue { get; set; }
    internal ulong AlignmentValue { get; set; }
    internal bool NoBits { get; }

    /// <summary>The bytes, produced once addresses are known (null for NOBITS).</summary>
    public byte[]? Data { get; internal set; }

    public override ulong Size => SizeValue;
    public override ulong Alignment => AlignmentValue;
    public override ulong Flags => _flags;
    public override bool IsNoBits => NoBits;
    public override string Describe() => Name;

    internal static SyntheticPiece Bss(string name, ulong size, ulong alignment) =>
        new(name, size, alignment, SHF_ALLOC | SHF_WRITE, noBits: true);
}
