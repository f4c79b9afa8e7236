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
            sb.AppendLine($"Syscall rewrite: {rw.Found} sites found, {rw.Patched} jump to a trampoline, {rw.Fallbacks} int $0x{UklLink.Kernel.SlotAbi.SyscallTrapVector:x} fallback, {rw.Untouched} left unchanged");
            sb.AppendLine($"Trampolines enter the kernel with: {UklLink.Rewrite.SyscallEntryForms.Describe(result.EntryForm)}");
            foreach (var t in result.Trampolines)
                sb.AppendLine($"{t.Address,16:x} {t.Size,8:x}  trampoline for {t.Site} at 0x{t.SiteAddress:x}");
        }
        sb.AppendLine();
        sb.AppendLine("Symbols");
        foreach (var s in symbols.OrderBy(s => s.Address).ThenBy(s => s.Name, StringComparer.Ordinal))
            sb.AppendLine($"{s.Address,16:x} {s.Size,8:x} {(s.Bind == 0 ? "l" : "g")} {s.Name}");
        return sb.ToString();
    }

    public static string FormatJson(LayoutResult layout, IReadOnlyList<OutputSymbol> symbols, LinkResult result, ulong phdr, int phnum)
    {
        var doc = new
        {
            entry = Hex(result.Entry),
            phdr = new { address = Hex(phdr), count = phnum },
            sections = layout.Sections.Select(os => new
            {
                name = os.Name,
                address = Hex(os.Address),
                size = os.Size,
                alignment = os.Alignment,
                slot = os.Slot?.Name.Role,
                inputs = os.Pieces.Select(p => new { name = p.Describe(), address = Hex(p.Address), size = p.Size, alignment = p.Alignment }),
            }),
            syscallRewrite = result.Rewrite is { } rw ? new
            {
                found = rw.Found,
                patched = rw.Patched,
                intFallback = rw.Fallbacks,
                untouched = rw.Untouched,
                entry = UklLink.Rewrite.SyscallEntryForms.Describe(result.EntryForm),
                trampolines = result.Trampolines.Select(t => new { address = Hex(t.Address), size = t.Size, site = t.Site, siteAddress = Hex(t.SiteAddress) }),
            } : null,
            symbols = symbols.OrderBy(s => s.Address).ThenBy(s => s.Name, StringComparer.Ordinal)
                .Select(s => new { name = s.Name, address = Hex(s.Address), size = s.Size, binding = s.Bind == 0 ? "local" : s.Bind == 2 ? "weak" : "global" }),
        };
        return JsonSerializer.Serialize(doc, new JsonSerializerOptions { WriteIndented = true }) + "\n";
    }

    private static string Hex(ulong v) => $"0x{v:x}";
}
