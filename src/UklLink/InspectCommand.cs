using System.CommandLine;
using System.Globalization;
using System.Text;
using UklLink.Boot;
using UklLink.Inputs;
using UklLink.Kernel;

namespace UklLink.Cli;

/// <summary><c>ukl-link inspect</c>: show a bzImage's setup header by field, or a vmlinux's segments, slots and descriptor.</summary>
public static class InspectCommand
{
    public static Command Create(GlobalOptions global, TextWriter stdout)
    {
        var file = new Argument<string>("FILE")
        {
            Description = "A bzImage (from kbuild or ukl-link pack) or a vmlinux",
        };
        var command = new Command("inspect", """
            Show what a boot image or kernel says about itself. For a bzImage: every setup header field by name
            (boot protocol 2.15), the CRC-32 trailer, kernel_info, the payload and the loader (ukl-link's stub or the
            kbuild decompressor). For a vmlinux: its PT_LOAD segments and entry, its slots and its ukl_descriptor.

            Examples:
              ukl-link inspect bzImage
              ukl-link inspect vmlinux
            Exit status: 0 shown, 2 usage error or unreadable input.
            """)
        {
            file,
        };
        command.SetAction(parse =>
        {
            _ = global;
            string path = parse.GetValue(file)!;
            var text = new StringBuilder();
            if (IsElf(path))
                DescribeVmlinux(path, text);
            else
                DescribeBzImage(BootImageInfo.Read(path), text);
            stdout.Write(text.ToString());
            return ExitCodes.Success;
        });
        return command;
    }

    private static bool IsElf(string path)
    {
        using var s = InputFiles.OpenRead(path);
        Span<byte> head = stackalloc byte[4];
        int n = s.ReadAtLeast(head, 4, throwOnEndOfStream: false);
        return ElfHeader.HasElfMagic(head[..n]);
    }

    private static string Hex(ulong v) => "0x" + v.ToString("x", CultureInfo.InvariantCulture);

    internal static void DescribeBzImage(BootImageInfo info, StringBuilder o)
    {
        o.AppendLine(CultureInfo.InvariantCulture, $"{info.Name}: bzImage, boot protocol {SetupHeader.FormatVersion(info.Version)}, {info.FileSize} bytes");
        if (info.KernelVersion is not null)
            o.AppendLine(CultureInfo.InvariantCulture, $"  kernel version  {info.KernelVersion}");
        ulong syssize = info.Value(SetupHeader.Syssize);
        long pm = info.FileSize - info.SetupSize;
        o.AppendLine(CultureInfo.InvariantCulture, $"  real-mode part  {info.SetupSize} bytes (setup_sects {info.Value(SetupHeader.SetupSects)})");
        o.AppendLine(CultureInfo.InvariantCulture, $"  protected mode  {pm} bytes{((ulong)pm == syssize * 16 ? "" : $" (syssize says {syssize * 16})")}");
        o.AppendLine(CultureInfo.InvariantCulture, $"  loader          {info.StubMarker ?? "kbuild decompressor (no ukl-link stub marker)"}");
        o.AppendLine(CultureInfo.InvariantCulture, $"  payload         {(info.PayloadFormat is null ? "none" : $"{info.PayloadFormat} at {Hex(info.Value(SetupHeader.PayloadOffset))}, {info.Value(SetupHeader.PayloadLength)} bytes")}");
        o.AppendLine(CultureInfo.InvariantCulture, $"  CRC-32 trailer  {Hex(info.StoredCrc)} ({(info.CrcMatches ? "matches" : $"MISMATCH: computed {Hex(info.ComputedCrc)}")})");
        if (info.KernelInfo is { } ki)
            o.AppendLine(CultureInfo.InvariantCulture, $"  kernel_info     LToP, size {ki.SizeFixed}, size_total {ki.SizeTotal}, setup_type_max {Hex(ki.SetupTypeMax)}");
        o.AppendLine("setup header:");
        foreach (var h in info.Header)
        {
            if (!h.Defined)
                continue;
            string decoded = h.Field.Name switch
            {
                "version" => SetupHeader.FormatVersion(h.Value),
                "loadflags" => SetupHeader.DescribeLoadFlags(h.Value),
                "xloadflags" => SetupHeader.DescribeXLoadFlags(h.Value),
                "header" => "\"HdrS\"",
                "syssize" => $"{h.Value * 16} bytes",
                "setup_sects" or "cmdline_size" or "init_size" or "payload_length" => h.Value.ToString(CultureInfo.InvariantCulture),
                _ => "",
            };
            string line = string.Create(CultureInfo.InvariantCulture, $"  {Hex((ulong)h.Field.Offset),-6} {h.Field.Name,-22} {Hex(h.Value),-20} {decoded}");
            o.AppendLine(line.TrimEnd());
        }
        if (info.PayloadSegments.Count > 0)
        {
            o.AppendLine("payload program headers:");
            foreach (var (type, s) in info.PayloadSegments)
            {
                string kind = type switch { 1 => "LOAD", 4 => "NOTE", _ => Hex(type) };
                o.AppendLine(CultureInfo.InvariantCulture, $"  {kind,-5} offset {Hex(s.FileOffset),-10} paddr {Hex(s.PhysicalAddress),-10} vaddr {Hex(s.VirtualAddress)} filesz {Hex(s.FileSize)} memsz {Hex(s.MemorySize)} {s.FlagString}");
            }
        }
    }

    internal static void DescribeVmlinux(string path, StringBuilder o)
    {
        var load = KernelLoadImage.Read(path);
        o.AppendLine(CultureInfo.InvariantCulture, $"{path}: vmlinux (x86-64 ET_EXEC), {load.FileLength} bytes, entry (physical) {Hex(load.EntryPhysical)}");
        o.AppendLine(CultureInfo.InvariantCulture, $"  memory image    {Hex(load.PhysicalStart)}-{Hex(load.PhysicalEnd)} ({load.PhysicalEnd - load.PhysicalStart} bytes, {load.FileBackedSpan} from the file)");
        o.AppendLine("segments:");
        foreach (var s in load.Segments)
            o.AppendLine(CultureInfo.InvariantCulture, $"  LOAD  paddr {Hex(s.PhysicalAddress),-10} vaddr {Hex(s.VirtualAddress)} filesz {Hex(s.FileSize),-10} memsz {Hex(s.MemorySize),-10} {s.FlagString}");

        using var kernel = KernelImage.Load(path);
        var slots = kernel.GetSlots(out var missing);
        if (slots.Count == 0)
        {
            o.AppendLine("slots: none (not a UKL kernel)");
        }
        else
        {
            o.AppendLine("slots:");
            foreach (var s in slots)
                o.AppendLine(CultureInfo.InvariantCulture, $"  {s.Name.Role,-7} {Hex(s.Start)}-{Hex(s.End)} {s.Size} bytes");
            foreach (var m in missing)
                o.AppendLine(CultureInfo.InvariantCulture, $"  missing symbol {m}");
        }
        var d = kernel.ReadDescriptor();
        if (d is null)
        {
            o.AppendLine("descriptor: none (no ukl_descriptor symbol)");
            return;
        }
        string magic = d.Magic == 0 ? "0 (no application linked)"
            : d.Magic == SlotAbi.AppMagic ? $"{Hex(d.Magic)} (\"UKLAPP01\": application linked)"
            : $"{Hex(d.Magic)} (invalid)";
        o.AppendLine(CultureInfo.InvariantCulture, $"descriptor: {SlotAbi.DescriptorSymbol} at {Hex(d.Address)} ({d.SymbolSize} bytes)");
        o.AppendLine(CultureInfo.InvariantCulture, $"  magic          {magic}");
        o.AppendLine(CultureInfo.InvariantCulture, $"  abi_version    {d.AbiVersion}");
        o.AppendLine(CultureInfo.InvariantCulture, $"  size           {d.Size}");
        o.AppendLine(CultureInfo.InvariantCulture, $"  stack_size     {Hex(d.StackSize)}");
    }
}
