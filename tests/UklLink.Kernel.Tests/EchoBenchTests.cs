using System.Globalization;
using System.Text.RegularExpressions;
using Xunit.Abstractions;

namespace UklLink.Kernel.Tests;

/// <summary>
/// bench/echo/run in a tiny configuration (one round, one second per measurement, 20 connections), so the
/// side-by-side benchmark cannot rot unnoticed: the native server and the UKL app both answer the load generator
/// (which checks every echoed byte) from the host and from inside the guest in the same boot, both exit cleanly on
/// SIGTERM, and the table has a number for each. No speed is asserted (docs/benchmarks.md "echo" has the measurements).
/// </summary>
public sealed partial class EchoBenchTests(ITestOutputHelper output)
{
    [GeneratedRegex(@"^tcp_echo: exit accepted (\d+) closed \d+ echoed (\d+) resets \d+\r?$", RegexOptions.Multiline)]
    private static partial Regex ExitLine();

    [Fact]
    public void TinyRunMeasuresBothServersInOneBoot()
    {
        var outDir = BenchScript.Run("echo",
            ["--rounds", "1", "--seconds", "1", "--connections", "20", "--timeout", "600"], TimeSpan.FromMinutes(15), output);

        // One row per client placement (host, guest), server and message size, each with a positive rate.
        var rows = File.ReadAllLines(Path.Combine(outDir, "results.tsv"));
        Assert.Equal("client\tround\tmode\tsize\tround_trips_per_s\tmib_per_s", rows[0]);
        var seen = rows.Skip(1).Select(l => l.Split('\t'))
            .Select(f => (Client: f[0], Mode: f[2], Size: f[3], Rate: double.Parse(f[4], CultureInfo.InvariantCulture)))
            .ToList();
        Assert.Equal(8, seen.Count);
        foreach (var client in new[] { "host", "guest" })
        {
            foreach (var mode in new[] { "native", "ukl" })
            {
                foreach (var size in new[] { "64", "16384" })
                {
                    var row = Assert.Single(seen, r => r.Client == client && r.Mode == mode && r.Size == size);
                    Assert.True(row.Rate > 0, $"{client} client, {mode} {size} B: {row.Rate} round trips/s");
                }
            }
        }

        // Both servers ran in the guest, served the 4 x 20 connections (plus the readiness probe) and echoed at
        // least the bytes of the round trips counted, then exited 0 on SIGTERM.
        var console = File.ReadAllText(Path.Combine(outDir, "console.log"));
        Assert.Matches(new Regex(@"^ECHO-EXIT native 0\r?$", RegexOptions.Multiline), console);
        Assert.Matches(new Regex(@"^ECHO-EXIT ukl 0\r?$", RegexOptions.Multiline), console);
        var exits = ExitLine().Matches(console);
        Assert.Equal(2, exits.Count);
        foreach (Match exit in exits)
        {
            Assert.True(long.Parse(exit.Groups[1].Value, CultureInfo.InvariantCulture) >= 81, exit.Value);
            Assert.True(long.Parse(exit.Groups[2].Value, CultureInfo.InvariantCulture) >= 16384, exit.Value);
        }

        var table = File.ReadAllText(Path.Combine(outDir, "table.md"));
        foreach (var where in new[] { "host, through QEMU's NIC", "in the guest, loopback" })
        {
            foreach (var size in new[] { "64 B", "16 KiB" })
            {
                Assert.Matches(new Regex($@"^\| {Regex.Escape(where)} \| {size} \| \d+ \(\d+-\d+\) \| \d+ \(\d+-\d+\) \| \d+\.\d\d \|$",
                    RegexOptions.Multiline), table);
            }
        }
    }
}
