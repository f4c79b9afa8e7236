namespace UklLink.X86_64;

/// <summary>
/// What GNU ld puts in the gaps between input sections of a code output section that has no explicit fill: the
/// longest x86 NOP (10 bytes, nopw %cs:0L(%rax,%rax,1)) repeated, then one NOP of the remaining length.
/// </summary>
public static class CodeFill
{
    private static readonly byte[][] Nops =
    {
        new byte[] { 0x90 },
        new byte[] { 0x66, 0x90 },
        new byte[] { 0x0f, 0x1f, 0x00 },
        new byte[] { 0x0f, 0x1f, 0x40, 0x00 },
        new byte[] { 0x0f, 0x1f, 0x44, 0x00, 0x00 },
        new byte[] { 0x66, 0x0f, 0x1f, 0x44, 0x00, 0x00 },
        new byte[] { 0x0f, 0x1f, 0x80, 0x00, 0x00, 0x00, 0x00 },
        new byte[] { 0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00 },
        new byte[] { 0x66, 0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00 },
        new byte[] { 0x66, 0x2e, 0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00 },
    };

    public static void Fill(Span<byte> gap)
    {
        while (gap.Length >= 10)
        {
            Nops[9].CopyTo(gap);
            gap = gap[10..];
        }
        if (gap.Length > 0)
            Nops[gap.Length - 1].CopyTo(gap);
    }
}
