using static UklLink.Inputs.ElfConstants;

namespace UklLink.Inputs;

/// <summary>A symbol-table entry of an input object.</summary>
public sealed class InputSymbol
{
    internal InputSymbol(ObjectFile file, int index, string name, byte bind, byte type, byte visibility, uint sectionIndex,
        InputSection? section, ulong value, ulong size)
    {
        File = file;
        Index = index;
        Name = name;
        Bind = bind;
        Type = type;
        Visibility = visibility;
        SectionIndex = sectionIndex;
        Section = section;
        Value = value;
        Size = size;
    }

    /// <summary>A symbol the linker makes for its own relocations (index -1): a section symbol or a global name.</summary>
    internal static InputSymbol Synthetic(ObjectFile file, string name, byte bind, byte type, InputSection? section) =>
        new(file, -1, name, bind, type, STV_DEFAULT, section is null ? SHN_UNDEF : 0xfff0u, section, 0, 0);

    public ObjectFile File { get; }
    public int Index { get; }
    public string Name { get; }
    public byte Bind { get; }
    public byte Type { get; }
    public byte Visibility { get; }

    /// <summary>st_shndx (extended indices already resolved): a section index or SHN_UNDEF/SHN_ABS/SHN_COMMON.</summary>
    public uint SectionIndex { get; }

    public InputSection? Section { get; }
    public ulong Value { get; }
    public ulong Size { get; }

    public bool IsLocal => Bind == STB_LOCAL;
    public bool IsWeak => Bind == STB_WEAK;
    public bool IsUndefined => SectionIndex == SHN_UNDEF;
    public bool IsCommon => SectionIndex == SHN_COMMON;
    public bool IsAbsolute => SectionIndex == SHN_ABS;
    public bool IsDefined => !IsUndefined;

    /// <summary>Name to print: section symbols are nameless in ELF, so they print as their section's name.</summary>
    public string DisplayName => Type == STT_SECTION && Section is not null ? Section.Name : Name;

    public override string ToString() => DisplayName;
}
