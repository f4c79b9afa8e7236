namespace UklLink.Dwarf;

internal enum DwarfValueKind
{
    None,
    Unsigned,
    Signed,
    String,
    /// <summary>Index into .debug_str_offsets (DW_FORM_strx*); resolved later against DW_AT_str_offsets_base.</summary>
    StrIndex,
    Block,
    /// <summary>A string offset (in U) that could not be resolved (section missing, offset out of range, unterminated).</summary>
    BadString,
}

internal readonly record struct DwarfValue(DwarfValueKind Kind, ulong U = 0, long S = 0, string? Str = null)
{
    public static readonly DwarfValue None = new(DwarfValueKind.None);
    public static DwarfValue Unsigned(ulong v) => new(DwarfValueKind.Unsigned, U: v);
    public static DwarfValue Signed(long v) => new(DwarfValueKind.Signed, S: v);
    public static DwarfValue Text(string? s) => s is null ? None : new(DwarfValueKind.String, Str: s);
    public static DwarfValue StrIndex(ulong i) => new(DwarfValueKind.StrIndex, U: i);
    public static DwarfValue Block(ulong length) => new(DwarfValueKind.Block, U: length);
    public static DwarfValue StringAt(byte[]? section, ulong offset) =>
        DwarfCursor.StringAt(section, offset) is { } s ? new(DwarfValueKind.String, Str: s) : new(DwarfValueKind.BadString, U: offset);

    public bool TryGetUnsigned(out ulong value)
    {
        switch (Kind)
        {
            case DwarfValueKind.Unsigned:
                value = U;
                return true;
            case DwarfValueKind.Signed:
                value = unchecked((ulong)S);
                return true;
            default:
                value = 0;
                return false;
        }
    }
}

/// <summary>Per-unit parameters needed to decode attribute forms.</summary>
internal readonly record struct DwarfFormContext(int Version, int AddressSize, int OffsetSize, DwarfSections Sections);

internal static class DwarfForms
{
    public const ulong Addr = 0x01, Block2 = 0x03, Block4 = 0x04, Data2 = 0x05, Data4 = 0x06, Data8 = 0x07,
        String = 0x08, Block = 0x09, Block1 = 0x0a, Data1 = 0x0b, Flag = 0x0c, Sdata = 0x0d, Strp = 0x0e,
        Udata = 0x0f, RefAddr = 0x10, Ref1 = 0x11, Ref2 = 0x12, Ref4 = 0x13, Ref8 = 0x14, RefUdata = 0x15,
        Indirect = 0x16, SecOffset = 0x17, Exprloc = 0x18, FlagPresent = 0x19, Strx = 0x1a, Addrx = 0x1b,
        RefSup4 = 0x1c, StrpSup = 0x1d, Data16 = 0x1e, LineStrp = 0x1f, RefSig8 = 0x20, ImplicitConst = 0x21,
        Loclistx = 0x22, Rnglistx = 0x23, RefSup8 = 0x24, Strx1 = 0x25, Strx2 = 0x26, Strx3 = 0x27, Strx4 = 0x28,
        Addrx1 = 0x29, Addrx2 = 0x2a, Addrx3 = 0x2b, Addrx4 = 0x2c,
        GnuAddrIndex = 0x1f01, GnuStrIndex = 0x1f02, GnuRefAlt = 0x1f20, GnuStrpAlt = 0x1f21;

    /// <summary>
    /// Reads (or skips) one attribute value of the given form. Throws <see cref="DwarfFormatException"/>
    /// on truncation or an unknown form (the unit's layout cannot be known past it).
    /// </summary>
    public static DwarfValue Read(DwarfCursor c, ulong form, long implicitConst, in DwarfFormContext ctx, int depth = 0)
    {
        switch (form)
        {
            case Addr:
                return DwarfValue.Unsigned(c.UN(ctx.AddressSize));
            case Block1:
            {
                ulong n = c.U8();
                c.Skip(n);
                return DwarfValue.Block(n);
            }
            case Block2:
            {
                ulong n = c.U16();
                c.Skip(n);
                return DwarfValue.Block(n);
            }
            case Block4:
            {
                ulong n = c.U32();
                c.Skip(n);
                return DwarfValue.Block(n);
            }
            case Block:
            case Exprloc:
            {
                ulong n = c.Uleb();
                c.Skip(n);
                return DwarfValue.Block(n);
            }
            case Data1:
            case Ref1:
            case Flag:
                return DwarfValue.Unsigned(c.U8());
            case Data2:
            case Ref2:
                return DwarfValue.Unsigned(c.U16());
            case Data4:
            case Ref4:
            case RefSup4:
                return DwarfValue.Unsigned(c.U32());
            case Data8:
            case Ref8:
            case RefSig8:
            case RefSup8:
                return DwarfValue.Unsigned(c.U64());
            case Data16:
                c.Skip(16);
                return DwarfValue.Block(16);
            case String:
                return DwarfValue.Text(c.CString());
            case Sdata:
                return DwarfValue.Signed(c.Sleb());
            case Udata:
            case RefUdata:
            case Addrx:
            case Loclistx:
            case Rnglistx:
            case GnuAddrIndex:
                return DwarfValue.Unsigned(c.Uleb());
            case Strp:
                return DwarfValue.StringAt(ctx.Sections.Str, c.Offset(ctx.OffsetSize));
            case LineStrp:
                return DwarfValue.StringAt(ctx.Sections.LineStr, c.Offset(ctx.OffsetSize));
            case StrpSup:
            case GnuStrpAlt:
                // string lives in a supplementary object file we do not have
                c.Offset(ctx.OffsetSize);
                return DwarfValue.None;
            case RefAddr:
                return DwarfValue.Unsigned(ctx.Version <= 2 ? c.UN(ctx.AddressSize) : c.Offset(ctx.OffsetSize));
            case SecOffset:
            case GnuRefAlt:
                return DwarfValue.Unsigned(c.Offset(ctx.OffsetSize));
            case FlagPresent:
                return DwarfValue.Unsigned(1);
            case ImplicitConst:
                return DwarfValue.Signed(implicitConst);
            case Strx:
            case GnuStrIndex:
                return DwarfValue.StrIndex(c.Uleb());
            case Strx1:
                return DwarfValue.StrIndex(c.U8());
            case Strx2:
                return DwarfValue.StrIndex(c.U16());
            case Strx3:
                return DwarfValue.StrIndex(c.U24());
            case Strx4:
                return DwarfValue.StrIndex(c.U32());
            case Addrx1:
                return DwarfValue.Unsigned(c.U8());
            case Addrx2:
                return DwarfValue.Unsigned(c.U16());
            case Addrx3:
                return DwarfValue.Unsigned(c.U24());
            case Addrx4:
                return DwarfValue.Unsigned(c.U32());
            case Indirect:
            {
                ulong actual = c.Uleb();
                if (depth > 4 || actual == Indirect)
                    throw new DwarfFormatException("nested DW_FORM_indirect");
                return Read(c, actual, implicitConst, ctx, depth + 1);
            }
            default:
                throw new DwarfFormatException($"unknown attribute form 0x{form:x}");
        }
    }
}
