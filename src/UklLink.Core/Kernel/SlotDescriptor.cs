namespace UklLink.Kernel;

/// <summary>The descriptor as found in a kernel image (see docs/slot-abi.md).</summary>
public sealed record SlotDescriptor(ulong Address, ulong SymbolSize, ulong Magic, uint AbiVersion, uint Size, ulong StackSize,
    ulong Features = 0)
{
    public bool HasApplication => Magic != 0;

    /// <summary>The kernel delivers events off the application's stack: red-zone code is safe (slot ABI v2 feature).</summary>
    public bool RedZoneSafe => AbiVersion >= 2 && (Features & SlotAbi.Features.EventStack) != 0;

    /// <summary>The data and bss slots are per process, copy-on-write (slot ABI v2 feature).</summary>
    public bool PerProcessData => AbiVersion >= 2 && (Features & SlotAbi.Features.PerProcessData) != 0;

    /// <summary>The kernel has direct entries for known syscall numbers (slot ABI v2 feature).</summary>
    public bool Bypass => AbiVersion >= 2 && (Features & SlotAbi.Features.Bypass) != 0;

    /// <summary>The features as validate's kernel note names them ("none" for a v1 kernel or an empty word).</summary>
    public string FeatureText
    {
        get
        {
            var names = new List<string>();
            if (RedZoneSafe)
                names.Add("event stack (red-zone safe)");
            if (PerProcessData)
                names.Add("per-process data");
            if (Bypass)
                names.Add("bypass");
            return names.Count == 0 ? "none" : string.Join(", ", names);
        }
    }
}
