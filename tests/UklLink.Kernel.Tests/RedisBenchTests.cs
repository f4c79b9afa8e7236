using System.Globalization;
using System.Text.RegularExpressions;
using Xunit.Abstractions;

namespace UklLink.Kernel.Tests;

/// <summary>
/// bench/redis/run with the client in the guest, in a tiny configuration (one round, 1000 requests per test), so the
/// in-guest half of the side-by-side benchmark cannot rot unnoticed: Debian's redis-benchmark runs inside the guest
/// with the shared libraries the script copies, each server is the executable it should be, every test gives a
/// number for both, and both servers exit 0 after SHUTDOWN. (The host-client half is what
/// RedisTests.NativeAndRingZeroRedisBothCompleteTheBenchmarkWith50Connections covers.) No speed is asserted.
/// </summary>
public sealed class RedisBenchTests(ITestOutputHelper output)
{
    [Fact]
    public void TinyRunWithTheClientInTheGuestMeasuresBothServers()
    {
        RedisTests.EnsureRedisTools();
        var outDir = BenchScript.Run("redis",
            ["--client", "guest", "--rounds", "1", "--requests", "1000", "--timeout", "900"], TimeSpan.FromMinutes(30), output);

        var rows = File.ReadAllLines(Path.Combine(outDir, "results.tsv"));
        Assert.Equal("client\tround\tmode\ttest\tpipeline\trps", rows[0]);
        var seen = rows.Skip(1).Select(l => l.Split('\t')).ToList();
        Assert.Equal(8, seen.Count);
        foreach (var mode in new[] { "native", "ukl" })
        {
            foreach (var test in new[] { "SET", "GET" })
            {
                foreach (var pipeline in new[] { "1", "16" })
                {
                    var row = Assert.Single(seen, f => f[0] == "guest" && f[2] == mode && f[3] == test && f[4] == pipeline);
                    Assert.True(double.Parse(row[5], CultureInfo.InvariantCulture) > 0, string.Join(' ', row));
                }
            }
        }
        var console = File.ReadAllText(Path.Combine(outDir, "console.log"));
        Assert.Matches(new Regex(@"^REDIS-GUEST-EXE 0 native executable:/redis-native\r?$", RegexOptions.Multiline), console);
        Assert.Matches(new Regex(@"^REDIS-GUEST-EXE 0 ukl executable:/UKL\r?$", RegexOptions.Multiline), console);
        Assert.Matches(new Regex(@"^BENCH-EXIT native 0\r?$", RegexOptions.Multiline), console);
        Assert.Matches(new Regex(@"^BENCH-EXIT ukl 0\r?$", RegexOptions.Multiline), console);
        var table = File.ReadAllText(Path.Combine(outDir, "table.md"));
        Assert.Matches(new Regex(@"^\| in the guest, loopback \| GET \(pipelined 16\) \| \d+ \(\d+-\d+\) \| \d+ \(\d+-\d+\) \| \d+\.\d\d \|$",
            RegexOptions.Multiline), table);
    }
}
