using UklLink.Diagnostics;

namespace UklLink.Kernel;

/// <summary>
/// Whether a kernel image speaks a slot ABI version this ukl-link knows (docs/slot-abi.md): a descriptor of the known version and size and all
/// eight slot symbols. validate and link ask the same question; the first problem is reported as UKL012.
/// </summary>
public static class SlotAbiCheck
{
    /// <summary>The kernel's slots and descriptor, or null after reporting why the kernel cannot take an application.</summary>
    public static (IReadOnlyList<Slot> Slots, SlotDescriptor Descriptor)? Check(KernelImage kernel, FindingBag bag)
    {
        var where = new Location(kernel.Path, Symbol: SlotAbi.DescriptorSymbol);
        var descriptor = kernel.ReadDescriptor();
        if (descriptor is null)
        {
            bag.Report(Rules.KernelNotUkl, new Location(kernel.Path), $"kernel has no {SlotAbi.DescriptorSymbol} symbol: it was not built with CONFIG_UNIKERNEL_LINUX");
            return null;
        }
        var slots = kernel.GetSlots(out var missing);
        if (missing.Count > 0)
        {
            bag.Report(Rules.KernelNotUkl, where, $"kernel has a descriptor but lacks slot symbols: {string.Join(", ", missing)}");
            return null;
        }
        if (!SlotAbi.SupportedVersions.Contains(descriptor.AbiVersion))
        {
            bag.Report(Rules.KernelNotUkl, where, $"kernel speaks slot ABI version {descriptor.AbiVersion}; this ukl-link supports versions {string.Join(" and ", SlotAbi.SupportedVersions)}",
                "use the ukl-link release that matches the kernel, or rebuild the kernel from this project's kernel/ patches");
            return null;
        }
        if (descriptor.Size != SlotAbi.DescriptorSize || descriptor.SymbolSize != SlotAbi.DescriptorSize)
        {
            bag.Report(Rules.KernelNotUkl, where, $"kernel's {SlotAbi.DescriptorSymbol} is {descriptor.Size} bytes (symbol size {descriptor.SymbolSize}); slot ABI v{descriptor.AbiVersion} defines {SlotAbi.DescriptorSize}");
            return null;
        }
        return (slots, descriptor);
    }
}
