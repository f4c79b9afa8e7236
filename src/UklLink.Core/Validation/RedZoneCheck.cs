using UklLink.Analysis;
using UklLink.Diagnostics;
using UklLink.Inputs;
using UklLink.Kernel;

namespace UklLink.Validation;

/// <summary>
/// UKL002 (code that uses the red zone) and UKL003 (compile units built without -mno-red-zone) for one object, shared
/// by validate and link so that both judge the same inputs the same way. How serious a finding is depends on the kernel
/// and on whether the link includes the object (<see cref="SeverityFor"/>): with a kernel that delivers events on its
/// own stack (slot ABI v2, <see cref="SlotDescriptor.RedZoneSafe"/>) the red zone is fine; otherwise it is an error in
/// every object the link includes (objects and pulled archive members) and a note in archive members it leaves out.
/// </summary>
public sealed class RedZoneCheck(Locator locator, CodeMaps maps)
{
    /// <summary>Why a finding is only a note, appended to its message.</summary>
    public enum Reason
    {
        /// <summary>The finding is an error: the object is linked into a kernel that is not red-zone safe.</summary>
        None,

        /// <summary>The kernel is red-zone safe.</summary>
        KernelIsRedZoneSafe,

        /// <summary>The link does not pull this archive member in.</summary>
        NotLinked,
    }

    /// <summary>
    /// The severity of the object's red-zone findings: note when the kernel is red-zone safe or the link leaves the object
    /// out, error otherwise (also without a kernel, which may be any kernel).
    /// </summary>
    public static (Severity Severity, Reason Reason) SeverityFor(SlotDescriptor? kernel, bool linked) =>
        kernel is { RedZoneSafe: true } ? (Severity.Note, Reason.KernelIsRedZoneSafe)
        : !linked ? (Severity.Note, Reason.NotLinked)
        : (Severity.Error, Reason.None);

    /// <summary>
    /// Reports the red-zone use in the object's executable sections that <paramref name="includeSection"/> accepts (all
    /// of them when null), and its compile units built without -mno-red-zone.
    /// </summary>
    public void Check(ObjectFile obj, Severity severity, Reason reason, FindingBag bag, Func<InputSection, bool>? includeSection = null)
    {
        string why = reason switch
        {
            Reason.KernelIsRedZoneSafe => "; fine for this kernel, which delivers interrupts on its own stack (slot ABI v2 event stack)",
            Reason.NotLinked => "; the link does not include this archive member",
            _ => "",
        };
        foreach (var section in obj.AllSections)
        {
            if (!section.IsExecutable || !section.IsAlloc || section.IsNoBits || includeSection?.Invoke(section) == false)
                continue;
            foreach (var (region, uses) in RedZoneAnalyzer.Analyze(maps.For(section)))
            {
                var first = uses[0];
                long deepest = uses.Max(u => u.BytesBelow);
                string more = uses.Count > 1 ? $" ({uses.Count} instructions, up to {deepest} bytes below %rsp)" : "";
                Report(bag, Rules.RedZoneUse, severity, locator.At(section, first.Offset),
                    $"{region.Name} uses the red zone: `{first.Instruction}` accesses {first.BytesBelow} bytes below %rsp{more}{why}");
            }
        }

        var map = locator.SourceMapOf(obj);
        if (map is null)
            return;
        foreach (var cu in map.CompileUnits)
        {
            string? producer = cu.Producer;
            // GCC records its switches in DW_AT_producer (-grecord-gcc-switches, on by default); the assembler and
            // producers that record no switches say nothing about the red zone.
            if (producer is null || !producer.StartsWith("GNU ", StringComparison.Ordinal) || producer.StartsWith("GNU AS", StringComparison.Ordinal) || !producer.Contains(" -", StringComparison.Ordinal))
                continue;
            if (producer.Contains("-mno-red-zone", StringComparison.Ordinal))
                continue;
            Report(bag, Rules.RedZoneFlagMissing, severity, new Location(obj.Path, obj.Member, SourceFile: cu.Name),
                $"{cu.Name ?? "compile unit"} was compiled without -mno-red-zone (producer: \"{producer}\"){why}");
        }
    }

    private static void Report(FindingBag bag, Rule rule, Severity severity, Location location, string message) =>
        bag.Add(new Finding(rule, severity, location, message, severity == Severity.Error ? rule.Hint : null));
}
