using System.Text.RegularExpressions;

namespace UklLink.Kernel.Tests;

/// <summary>What a guest console says about the kernel's health: oopses, BUGs, warnings, lockups, stalls.</summary>
internal static partial class KernelConsole
{
    /// <summary>
    /// Console lines that mean the kernel went wrong: an oops or BUG, a WARN_ON, a fault in kernel mode, a panic, a
    /// soft or hard lockup, a hung task, an RCU stall. An OOM report or a user segfault line is not one of them.
    /// </summary>
    [GeneratedRegex(@"^.*(Oops|BUG:|WARNING:|general protection fault|double fault|stack segment|Kernel panic|soft lockup|hard LOCKUP|blocked for more than|rcu.*stall|invalid opcode).*$", RegexOptions.Multiline)]
    private static partial Regex ProblemLine();

    public static IReadOnlyList<string> Problems(string console) =>
        ProblemLine().Matches(console).Select(m => m.Value.Trim()).ToList();

    [GeneratedRegex(@"^MEM-(\S+) MemAvailable:\s+(\d+) kB", RegexOptions.Multiline)]
    private static partial Regex MemLine();

    /// <summary>The guest's "MEM-TAG MemAvailable: N kB" lines (init scripts print them), in order, in KiB.</summary>
    public static IReadOnlyList<(string Tag, long KiB)> Memory(string console) =>
        MemLine().Matches(console).Select(m => (m.Groups[1].Value, long.Parse(m.Groups[2].Value))).ToList();

    /// <summary>The shell line that prints one: <c>echo "MEM-TAG $(grep MemAvailable /proc/meminfo)"</c>.</summary>
    public static string MemoryProbe(string tag) => $"echo \"MEM-{tag} $(grep MemAvailable /proc/meminfo)\"";
}
