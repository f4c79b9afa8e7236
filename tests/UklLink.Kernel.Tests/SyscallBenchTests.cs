using System.Globalization;
using System.Text.RegularExpressions;
using Xunit.Abstractions;

namespace UklLink.Kernel.Tests;

/// <summary>
/// bench/syscall/run in a tiny configuration (three calls, 200 iterations, two repetitions, one round), so the
/// benchmark cannot rot unnoticed: both modes produce numbers, the numbers are sane and the two ways of counting
/// (the -icount TSC and the single-stepped trace) agree. No speed target is asserted (docs/benchmarks.md has those).
/// </summary>
public sealed class SyscallBenchTests(ITestOutputHelper output)
{
    private static readonly string[] Calls = ["getppid", "read64", "write64"];

    /// <summary>One row of results-*.tsv: the call's cost per call natively and as the UKL app.</summary>
    private sealed record Row(string Call, double Native, double Ukl);

    private static Dictionary<string, Row> Results(string tsv)
    {
        Assert.True(File.Exists(tsv), $"{tsv} was not written");
        var lines = File.ReadAllLines(tsv);
        Assert.Equal("kind\tcall\tnative\tnative_lo\tnative_hi\tukl\tukl_lo\tukl_hi\tratio", lines[0]);
        return lines.Skip(1).Select(l => l.Split('\t'))
            .Select(f => new Row(f[1], double.Parse(f[2], CultureInfo.InvariantCulture), double.Parse(f[5], CultureInfo.InvariantCulture)))
            .ToDictionary(r => r.Call);
    }

    [Fact]
    public void TinyRunGivesSaneCountsWallTimesAndTracesForBothModes()
    {
        var outDir = BenchScript.Run("syscall",
            ["--n", "200", "--reps", "2", "--rounds", "1", "--calls", string.Join(' ', Calls), "--timeout", "300"],
            TimeSpan.FromMinutes(20), output);

        // Both programs ran in the same boot, each in the mode it detected itself (CPL 3 and CPL 0).
        var console = File.ReadAllText(Path.Combine(outDir, "console-icount.log"));
        Assert.Matches(new Regex(@"^SYSBENCH-RUN native 3 200 2\r?$", RegexOptions.Multiline), console);
        Assert.Matches(new Regex(@"^SYSBENCH-RUN ukl 0 200 2\r?$", RegexOptions.Multiline), console);

        var icount = Results(Path.Combine(outDir, "results-icount.tsv"));
        // Under -icount shift=0 the TSC counts guest instructions: the empty loop is 3 instructions per iteration
        // (add, cmp, jne) plus the rdtsc framing spread over 200 iterations.
        Assert.InRange(icount["empty-per-iteration"].Native, 3.0, 3.5);
        Assert.InRange(icount["empty-per-iteration"].Ukl, 3.0, 3.5);
        foreach (var call in Calls)
        {
            Assert.InRange(icount[call].Native, 50, 5000);
            Assert.InRange(icount[call].Ukl, 50, 5000);
        }
        // Copying 64 bytes costs something on top of a call that copies nothing, in both modes.
        Assert.True(icount["read64"].Native > icount["getppid"].Native, "native read64 <= getppid");
        Assert.True(icount["read64"].Ukl > icount["getppid"].Ukl, "UKL read64 <= getppid");

        var wall = Results(Path.Combine(outDir, "results-wall.tsv"));
        foreach (var call in Calls)
        {
            Assert.InRange(wall[call].Native, 1, 1e7);
            Assert.InRange(wall[call].Ukl, 1, 1e7);
        }

        // The traces: the native round trip goes through the syscall entry, the UKL one through ukl-link's
        // trampoline and the kernel's UKL entry and never executes `syscall`; both reach the getppid handler.
        var native = File.ReadAllText(Path.Combine(outDir, "trace-native-getppid.txt"));
        var ukl = File.ReadAllText(Path.Combine(outDir, "trace-ukl-getppid.txt"));
        Assert.Matches(new Regex(@"\| syscall\s*$", RegexOptions.Multiline), native);
        Assert.Contains("entry_SYSCALL_64+", native);
        Assert.Contains("__x64_sys_getppid+", native);
        Assert.DoesNotMatch(new Regex(@"\| syscall\s*$", RegexOptions.Multiline), ukl);
        Assert.DoesNotContain(" entry_SYSCALL_64+", ukl);
        Assert.Contains(" trampoline ", ukl);
        Assert.Contains("ukl_entry_SYSCALL_64+", ukl);
        Assert.Contains("__x64_sys_getppid+", ukl);
        // Stepped and counted, the same path: the trace length is within a few instructions of the -icount count
        // (which also includes the loop's argument set-up and result check).
        static int Steps(string trace) => int.Parse(Regex.Match(trace, @": (\d+) instructions").Groups[1].Value);
        output.WriteLine($"trace native {Steps(native)}, UKL {Steps(ukl)}; icount native {icount["getppid"].Native}, UKL {icount["getppid"].Ukl}");
        Assert.InRange(Steps(native), icount["getppid"].Native - 15, icount["getppid"].Native + 15);
        Assert.InRange(Steps(ukl), icount["getppid"].Ukl - 15, icount["getppid"].Ukl + 15);
        // The read64 traces reach the /dev/zero driver in both modes, and count like the -icount run too.
        var nativeRead = File.ReadAllText(Path.Combine(outDir, "trace-native-read64.txt"));
        var uklRead = File.ReadAllText(Path.Combine(outDir, "trace-ukl-read64.txt"));
        Assert.Contains("read_zero+", nativeRead);
        Assert.Contains("read_zero+", uklRead);
        Assert.InRange(Steps(nativeRead), icount["read64"].Native - 15, icount["read64"].Native + 15);
        Assert.InRange(Steps(uklRead), icount["read64"].Ukl - 15, icount["read64"].Ukl + 15);
        Assert.Equal(2, Regex.Matches(File.ReadAllText(Path.Combine(outDir, "trace-summary.md")), @"\| \*\*total\*\* \|").Count);

        Directory.Delete(outDir, recursive: true);
    }

    /// <summary>
    /// The same tiny run with `--link-args --bypass` (patch 0022): the single-stepped getppid and read round trips of
    /// the UKL app go through the bypass entries and their bodies in ukl_bypass.c, never through do_syscall_64 or the
    /// __x64_sys_* wrappers, and the -icount counts show the shorter path (below native's).
    /// </summary>
    [Fact]
    public void BypassRunTakesTheBypassEntriesAtRunTime()
    {
        string[] calls = ["getppid", "read64"];
        var outDir = BenchScript.Run("syscall",
            ["--icount", "--trace", "--n", "200", "--reps", "2", "--rounds", "1", "--calls", string.Join(' ', calls),
             "--link-args", "--bypass", "--timeout", "300"],
            TimeSpan.FromMinutes(20), output);

        var map = File.ReadAllText(Path.Combine(outDir, "obj", "syscall-app.map"));
        Assert.Contains("bypass ukl_bypass_110", map);
        Assert.Contains("bypass ukl_bypass_0", map);

        var ppid = File.ReadAllText(Path.Combine(outDir, "trace-ukl-getppid.txt"));
        Assert.Contains(" trampoline ", ppid);
        Assert.Contains("ukl_bypass_110+", ppid);
        Assert.Contains("ukl_bypass_getppid+", ppid);
        Assert.DoesNotContain("do_syscall_64+", ppid);
        Assert.DoesNotContain("__x64_sys_getppid+", ppid);
        Assert.DoesNotContain("syscall_exit_to_user_mode+", ppid);
        var read = File.ReadAllText(Path.Combine(outDir, "trace-ukl-read64.txt"));
        Assert.Contains("ukl_bypass_0+", read);
        Assert.Contains("ukl_bypass_read+", read);
        Assert.Contains("read_zero+", read);
        Assert.DoesNotContain("do_syscall_64+", read);

        var icount = Results(Path.Combine(outDir, "results-icount.tsv"));
        output.WriteLine($"getppid native {icount["getppid"].Native} UKL --bypass {icount["getppid"].Ukl}; read64 native {icount["read64"].Native} UKL --bypass {icount["read64"].Ukl}");
        Assert.True(icount["getppid"].Ukl < icount["getppid"].Native, "getppid with --bypass is not shorter than native");
        Assert.True(icount["read64"].Ukl < icount["read64"].Native, "read64 with --bypass is not shorter than native");

        Directory.Delete(outDir, recursive: true);
    }
}
