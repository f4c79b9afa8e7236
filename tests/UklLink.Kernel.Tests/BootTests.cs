using System.Globalization;
using System.Text.RegularExpressions;
using ELFSharp.ELF;
using ELFSharp.ELF.Sections;
using Xunit.Abstractions;

namespace UklLink.Kernel.Tests;

/// <summary>(a), (b), (d): the reference kernel boots under QEMU TCG and maps its slots as documented.</summary>
public sealed partial class BootTests(ITestOutputHelper output)
{
    private const int Status = 42;

    private static string MarkerScript(string marker, int status, string body = "") => $"""
        #!/bin/sh
        mount -t proc proc /proc
        mount -t sysfs sysfs /sys
        mount -t devtmpfs devtmpfs /dev 2>/dev/null
        {body}
        echo "{marker}"
        guest-exit {status}
        """;

    private QemuResult BootAndLog(string kernel, string script, QemuOptions? options = null)
    {
        var r = QemuHarness.Boot(kernel, script, options);
        output.WriteLine($"{Path.GetFileName(kernel)}: status={r.ExitStatus?.ToString() ?? "none"} " +
                         $"timedOut={r.TimedOut} wall={r.Elapsed.TotalSeconds:F2}s");
        return r;
    }

    [Fact]
    public void BzImageBootsToInitAndReportsStatus()
    {
        var m = KernelBuild.Ensure();
        var marker = "UKL-BZIMAGE-" + Guid.NewGuid().ToString("N")[..8];
        var r = BootAndLog(m.BzImage, MarkerScript(marker, Status));
        Assert.False(r.TimedOut, r.ToString());
        Assert.Contains(marker, r.Console);
        Assert.Equal(Status, r.ExitStatus);
        Assert.Contains("ukl: no application linked", r.Console);
    }

    [Fact]
    public void VmlinuxBootsThroughPvhToInit()
    {
        var m = KernelBuild.Ensure();
        var marker = "UKL-PVH-" + Guid.NewGuid().ToString("N")[..8];
        var r = BootAndLog(m.Vmlinux, MarkerScript(marker, Status + 1));
        Assert.False(r.TimedOut, r.ToString());
        Assert.Contains(marker, r.Console);
        Assert.Equal(Status + 1, r.ExitStatus);
    }

    [Fact]
    public void HarnessReportsATimeout()
    {
        var m = KernelBuild.Ensure();
        var r = BootAndLog(m.BzImage, MarkerScript("UKL-NEVER", 7, "echo UKL-SLEEPING; sleep 1000"),
            new QemuOptions { TimeoutSeconds = 8 });
        Assert.True(r.TimedOut, r.ToString());
        Assert.Null(r.ExitStatus);
        Assert.DoesNotContain("UKL-NEVER", r.Console);
    }

    /// <summary>The e1000 and QEMU user networking work: the guest fetches a token from a host listener.</summary>
    [Fact]
    public async Task GuestReachesTheHostThroughUserNetworking()
    {
        var m = KernelBuild.Ensure();
        var token = "UKL-NET-" + Guid.NewGuid().ToString("N")[..8];
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        var port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        var server = Task.Run(async () =>
        {
            using var client = await listener.AcceptTcpClientAsync();
            var bytes = System.Text.Encoding.ASCII.GetBytes(token + "\n");
            await client.GetStream().WriteAsync(bytes);
        });
        var body = $"""
            ifconfig lo 127.0.0.1 up
            ifconfig eth0 10.0.2.15 netmask 255.255.255.0 up
            route add default gw 10.0.2.2
            nc -w 5 10.0.2.2 {port} < /dev/null
            """;
        var r = BootAndLog(m.BzImage, MarkerScript("UKL-NET-DONE", 5, body),
            new QemuOptions { Network = true, TimeoutSeconds = 60 });
        Assert.False(r.TimedOut, r.ToString());
        Assert.Equal(5, r.ExitStatus);
        Assert.Contains("e1000", r.Console);
        var finished = await Task.WhenAny(server, Task.Delay(TimeSpan.FromSeconds(5)));
        Assert.True(finished == server, "the guest never connected to the host");
        await server;
        Assert.Contains(token, r.Console);
    }

    /// <summary>A host client reaches a guest server through --hostfwd on 127.0.0.1 (what later demos rely on).</summary>
    [Fact]
    public async Task HostReachesAGuestServerThroughHostForward()
    {
        var m = KernelBuild.Ensure();
        var token = "UKL-FWD-" + Guid.NewGuid().ToString("N")[..8];
        int hostPort;
        using (var probe = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0))
        {
            probe.Start();
            hostPort = ((System.Net.IPEndPoint)probe.LocalEndpoint).Port;
        }
        var body = $"""
            ifconfig lo 127.0.0.1 up
            ifconfig eth0 10.0.2.15 netmask 255.255.255.0 up
            # Serve until a client acknowledges the token (an abandoned early connection gets no ACK).
            while true; do echo {token} | nc -l -p 7000 > /tmp/got; grep -q ACK /tmp/got && break; done
            """;
        var boot = Task.Run(() => BootAndLog(m.BzImage, MarkerScript("UKL-FWD-DONE", 6, body),
            new QemuOptions { HostForwards = [(hostPort, 7000)], TimeoutSeconds = 60 }));

        string received = "";
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(50);
        while (!received.Contains(token) && DateTime.UtcNow < deadline && !boot.IsCompleted)
        {
            try
            {
                using var client = new System.Net.Sockets.TcpClient();
                await client.ConnectAsync(System.Net.IPAddress.Loopback, hostPort);
                var stream = client.GetStream();
                                var buffer = new byte[256];
                int n = await stream.ReadAsync(buffer).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
                received = System.Text.Encoding.ASCII.GetString(buffer, 0, n);
                if (received.Contains(token))
                    await stream.WriteAsync(System.Text.Encoding.ASCII.GetBytes("ACK\n"));
            }
            catch (Exception ex) when (ex is System.Net.Sockets.SocketException or IOException or TimeoutException)
            {
            }
            if (!received.Contains(token))
                await Task.Delay(250);
        }
        var r = await boot;
        Assert.Contains(token, received);
        Assert.False(r.TimedOut, r.ToString());
        Assert.Equal(6, r.ExitStatus);
    }

    /// <summary>
    /// (d) The kernel's own page table dump (CONFIG_PTDUMP_DEBUGFS) shows the text slot
    /// read-only and executable, the rodata slot read-only and NX, data and bss
    /// writable and NX, in the running guest (after mark_rodata_ro).
    /// </summary>
    [Fact]
    public void SlotsAreMappedWithTheirSectionPermissions()
    {
        var m = KernelBuild.Ensure();
        var body = """
            mount -t debugfs debugfs /sys/kernel/debug
            echo UKL-PTDUMP-BEGIN
            cat /sys/kernel/debug/page_tables/kernel
            echo UKL-PTDUMP-END
            """;
        var r = BootAndLog(m.BzImage, MarkerScript("UKL-PTDUMP-DONE", 0, body));
        Assert.False(r.TimedOut, r.ToString());
        Assert.Equal(0, r.ExitStatus);
        var begin = r.Console.IndexOf("UKL-PTDUMP-BEGIN\n", StringComparison.Ordinal);
        var end = r.Console.IndexOf("UKL-PTDUMP-END", StringComparison.Ordinal);
        Assert.True(begin >= 0 && end > begin, "no page table dump in the console:\n" + r);
        var ranges = Ptdump.Parse(r.Console[begin..end]);
        Assert.NotEmpty(ranges);

        var syms = SlotSymbols(m.Vmlinux);
        AssertMapping(ranges, syms, "text", writable: false, executable: true);
        AssertMapping(ranges, syms, "rodata", writable: false, executable: false);
        AssertMapping(ranges, syms, "data", writable: true, executable: false);
        AssertMapping(ranges, syms, "bss", writable: true, executable: false);
    }

    private static Dictionary<string, ulong> SlotSymbols(string vmlinux)
    {
        using var elf = ELFReader.Load(vmlinux);
        var symtab = (SymbolTable<ulong>)elf.GetSection(".symtab");
        return symtab.Entries
            .Where(s => s.Name.StartsWith("__ukl_", StringComparison.Ordinal) && s.Name.Contains("_slot_"))
            .GroupBy(s => s.Name)
            .ToDictionary(g => g.Key, g => g.First().Value);
    }

    private static void AssertMapping(List<PtdumpRange> ranges, Dictionary<string, ulong> syms, string slot,
        bool writable, bool executable)
    {
        var start = syms[$"__ukl_{slot}_slot_start"];
        var end = syms[$"__ukl_{slot}_slot_end"];
        var covered = start;
        foreach (var r in ranges.Where(r => r.End > start && r.Start < end).OrderBy(r => r.Start))
        {
            Assert.True(r.Start <= covered, $"{slot} slot: hole at 0x{covered:x} before {r.Line}");
            Assert.True(r.Writable == writable,
                $"{slot} slot mapped {(r.Writable ? "RW" : "ro")}, want {(writable ? "RW" : "ro")}: {r.Line}");
            Assert.True(r.Executable == executable,
                $"{slot} slot mapped {(r.Executable ? "x" : "NX")}, want {(executable ? "x" : "NX")}: {r.Line}");
            covered = Math.Max(covered, r.End);
        }
        Assert.True(covered >= end, $"{slot} slot [0x{start:x},0x{end:x}) not fully mapped (up to 0x{covered:x})");
    }
}
