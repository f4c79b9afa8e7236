using System.Text;
using System.Text.Json;
using UklLink.Layout;

namespace UklLink.Linking;

/// <summary>The link map: every output section, every piece in it with address and size, and every symbol.</summary>
public static class LinkMap
{
    public static string FormatText(LayoutResult layout, IReadOnlyList<OutputSymbol> symbols, LinkResult result, ulong phdr, int phnum)
    {
        var sb = new StringBuilder();
        sb.AppendLine($"# ukl-link link map");
        sb.AppendLine($"entry 0x{result.Entry:x16}");
        sb.AppendLine($"phdr  0x{phdr:x16} {phnum} headers");
        sb.AppendLine();
        sb.AppendLine("             VMA     Size Align Out     In");
        foreach (var os in layout.Sections)
        {
            sb.AppendLine($"{os.Address,16:x} {os.Size,8:x} {os.Alignment,5} {os.Name}  [{os.Slot?.Name.Role ?? "?"} slot]");
            foreach (var p in os.Pieces)
                sb.AppendLine($"{p.Address,16:x} {p.Size,8:x} {p.Alignment,5}         {p.Describe()}");
        }
        if (result.Rewrite is { } rw)
        {
            sb.AppendLine();
            sb.AppendLine($"Syscall rewrite: {rw.Found} sites found, {rw.Patched} jump to a trampoline ({rw.Bypassed} through a bypass entry), {rw.Fallbacks} int $0x{UklLink.Kernel.SlotAbi.SyscallTrapVector:x} fallback, {rw.Untouched} left unchanged");
            sb.AppendLine($"Trampolines enter the kernel with: {UklLink.Rewrite.SyscallEntryForms.Describe(result.EntryForm)}");
            foreach (var t in result.Trampolines)
                sb.AppendLine($"{t.Address,16:x} {t.Size,8:x}  trampoline for {t.Site} at 0x{t.SiteAddress:x}, {t.DescribeNumber()}"
                    + (t.Bypass ? $", bypass {t.Entry}" : ""));
        }
        sb.AppendLine();
        sb.AppendLine("Symbols");
        foreach (var s in symbols.OrderBy(s => s.Address).ThenBy(s => s.Name, StringComparer.Ordinal))
            sb.AppendLine($"{s.Address,16:x} {s.Size,8:x} {(s.Bind == 0 ? "l" : "g")} {s.Name}");
        return sb.ToString();
    }

    /// <summary>
    /// The same map as JSON. Written with <see cref="Utf8JsonWriter"/> rather than by serializing anonymous objects,
    /// so the NativeAOT build needs no reflection.
    /// </summary>
    public static string FormatJson(LayoutResult layout, IReadOnlyList<OutputSymbol> symbols, LinkResult result, ulong phdr, int phnum)
    {
        var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteString("entry", Hex(result.Entry));
            w.WriteStartObject("phdr");
            w.WriteString("address", Hex(phdr));
            w.WriteNumber("count", phnum);
            w.WriteEndObject();
            w.WriteStartArray("sections");
            foreach (var os in layout.Sections)
            {
                w.WriteStartObject();
                w.WriteString("name", os.Name);
                w.WriteString("address", Hex(os.Address));
                w.WriteNumber("size", os.Size);
                w.WriteNumber("alignment", os.Alignment);
                w.WriteString("slot", os.Slot?.Name.Role);
                w.WriteStartArray("inputs");
                foreach (var p in os.Pieces)
                {
                    w.WriteStartObject();
                    w.WriteString("name", p.Describe());
                    w.WriteString("address", Hex(p.Address));
                    w.WriteNumber("size", p.Size);
                    w.WriteNumber("alignment", p.Alignment);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
                w.WriteEndObject();
            }
            w.WriteEndArray();
            if (result.Rewrite is { } rw)
            {
                w.WriteStartObject("syscallRewrite");
                w.WriteNumber("found", rw.Found);
                w.WriteNumber("patched", rw.Patched);
                w.WriteNumber("intFallback", rw.Fallbacks);
                w.WriteNumber("untouched", rw.Untouched);
                w.WriteNumber("bypassed", rw.Bypassed);
                w.WriteString("entry", UklLink.Rewrite.SyscallEntryForms.Describe(result.EntryForm));
                w.WriteStartArray("trampolines");
                foreach (var t in result.Trampolines)
                {
                    w.WriteStartObject();
                    w.WriteString("address", Hex(t.Address));
                    w.WriteNumber("size", t.Size);
                    w.WriteString("site", t.Site);
                    w.WriteString("siteAddress", Hex(t.SiteAddress));
                    if (t.Number is { } n)
                        w.WriteNumber("syscall", n);
                    else
                        w.WriteNull("syscall");
                    w.WriteString("enters", t.Entry);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
                w.WriteEndObject();
            }
            else
            {
                w.WriteNull("syscallRewrite");
            }
            w.WriteStartArray("symbols");
            foreach (var s in symbols.OrderBy(s => s.Address).ThenBy(s => s.Name, StringComparer.Ordinal))
            {
                w.WriteStartObject();
                w.WriteString("name", s.Name);
                w.WriteString("address", Hex(s.Address));
                w.WriteNumber("size", s.Size);
                w.WriteString("binding", s.Bind == 0 ? "local" : s.Bind == 2 ? "weak" : "global");
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray()) + "\n";
    }

    private static string Hex(ulong v) => $"0x{v:x}";
}
