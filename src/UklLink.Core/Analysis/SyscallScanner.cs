using Iced.Intel;
using UklLink.Inputs;

namespace UklLink.Analysis;

/// <summary>
/// Finds `syscall` instructions by decoding each code region from its start (a linear sweep that resynchronises at
/// every symbol), so the bytes 0F 05 inside another instruction or in data are not counted.
/// </summary>
public static class SyscallScanner
{
    public static IReadOnlyList<ulong> FindSyscalls(InputSection section, IReadOnlyList<CodeRegion> regions)
    {
        var sites = new List<ulong>();
        var data = section.Data;
        foreach (var region in regions)
        {
            var reader = new ByteArrayCodeReader(data, (int)region.Start, (int)(region.End - region.Start));
            var decoder = Decoder.Create(64, reader, region.Start);
            while (decoder.IP < region.End)
            {
                decoder.Decode(out var instr);
                if (instr.IsInvalid)
                    continue; // undecodable byte: the decoder has consumed it; carry on after it
                if (instr.Code == Code.Syscall)
                    sites.Add(instr.IP);
            }
        }
        return sites;
    }
}
