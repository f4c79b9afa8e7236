using UklLink.Kernel;
using static UklLink.Inputs.ElfConstants;

namespace UklLink.Layout;

/// <summary>
/// An output section of the application image: a named, contiguous address range inside one slot, made of pieces
/// (input sections and linker-made content) in script order.
/// </summary>
public sealed class OutputSection
{
    internal OutputSection(string name) => Name = name;

    public string Name { get; }
    public ulong Address { get; internal set; }
    public ulong Size { get; internal set; }
    public ulong Alignment { get; internal set; } = 1;

    /// <summary>Union of the pieces' SHF_* flags.</summary>
    public ulong Flags { get; internal set; }

    /// <summary>The fill pattern for gaps between pieces (from <c>=FILL</c>; zero bytes by default).</summary>
    public byte[] Fill { get; internal set; } = { 0 };

    /// <summary>True when the script gave <c>=FILL</c>; code sections without one get NOPs between pieces, as in ld.</summary>
    public bool HasExplicitFill { get; internal set; }

    public Slot? Slot { get; internal set; }
    public List<Piece> Pieces { get; } = new();

    public bool IsTls => (Flags & SHF_TLS) != 0;

    /// <summary>True when no piece has file contents (.bss, .tbss).</summary>
    public bool IsNoBits => Pieces.Count > 0 && Pieces.All(p => p.IsNoBits);

    public ulong End => Address + Size;

    public override string ToString() => $"{Name} 0x{Address:x}+0x{Size:x}";
}
