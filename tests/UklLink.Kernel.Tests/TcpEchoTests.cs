using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using Xunit.Abstractions;

namespace UklLink.Kernel.Tests;

/// <summary>
/// samples/tcp_echo, linked into the reference kernel and started as /UKL in the background by the init script, with
/// the guest's port 7000 forwarded to a host port: host clients (C# sockets) get their bytes back through QEMU's user
/// networking. The init script waits on a second forwarded port (nc -l) and then stops the server with SIGTERM.
/// </summary>
public sealed class TcpEchoTests(ITestOutputHelper output)
{
    private const int Clients = 50;
    private const int Size = 64 * 1024;

    private static readonly Regex ExitLine =
        new(@"tcp_echo: exit accepted (\d+) closed (\d+) echoed (\d+) resets (\d+)\n");

    internal static string Script => """
        #!/bin/sh
        mount -t proc proc /proc; mount -t devtmpfs devtmpfs /dev 2>/dev/null
        ifconfig lo 127.0.0.1 up
        ifconfig eth0 10.0.2.15 netmask 255.255.255.0 up
        /UKL 7000 & srv=$!
        # The test connects here when it is done (or the run times out).
        nc -l -p 7001 > /tmp/ctl
        echo "UKL-CTL: $(cat /tmp/ctl)"
        kill -TERM $srv; wait $srv; s=$?
        echo "UKL-STATUS=$s"
        guest-exit $s
        """;

    /// <summary>Sends <paramref name="data"/> while reading the echo, half-closes, reads to EOF; returns the echo.</summary>
    internal static async Task<byte[]> Exchange(Socket socket, byte[] data, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        var send = Task.Run(async () =>
        {
            for (int off = 0; off < data.Length;)
                off += await socket.SendAsync(data.AsMemory(off, Math.Min(8192, data.Length - off)), SocketFlags.None, cts.Token);
            socket.Shutdown(SocketShutdown.Send);
        });
        var got = new MemoryStream();
        var buf = new byte[16384];
        for (int n; (n = await socket.ReceiveAsync(buf, SocketFlags.None, cts.Token)) > 0;)
            got.Write(buf, 0, n);
        await send;
        return got.ToArray();
    }

    internal static async Task<byte[]> Echo(int port, byte[] data, TimeSpan timeout)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(IPAddress.Loopback, port);
        return await Exchange(socket, data, timeout);
    }

    /// <summary>
    /// Opens a connection that the guest server has accepted: one byte goes there and back. QEMU's user networking
    /// (slirp) resets some connections of a burst of simultaneous connects before they reach the guest (seen with the
    /// same server built as an ordinary static binary too), so connections are opened one after the other and a
    /// connection reset before the first echo is retried. Returns the socket and the number of retries.
    /// </summary>
    internal static async Task<(Socket Socket, int Retries)> Open(int port, byte first)
    {
        for (int retries = 0; ; retries++)
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                await socket.ConnectAsync(IPAddress.Loopback, port, cts.Token);
                await socket.SendAsync(new[] { first }, SocketFlags.None, cts.Token);
                var one = new byte[1];
                if (await socket.ReceiveAsync(one, SocketFlags.None, cts.Token) == 1 && one[0] == first)
                    return (socket, retries);
                socket.Dispose();
            }
            catch (Exception ex) when (retries < 5 && ex is SocketException or OperationCanceledException)
            {
                socket.Dispose();
            }
            await Task.Delay(100);
        }
    }

    /// <summary>Waits until the server echoes: slirp accepts on the host before anything listens in the guest.</summary>
    internal static async Task<bool> WaitForServer(int port, Task boot, TimeSpan within)
    {
        var deadline = DateTime.UtcNow + within;
        var ping = "ping"u8.ToArray();
        while (DateTime.UtcNow < deadline && !boot.IsCompleted)
        {
            try
            {
                if ((await Echo(port, ping, TimeSpan.FromSeconds(5))).AsSpan().SequenceEqual(ping))
                    return true;
            }
            catch (Exception ex) when (ex is SocketException or IOException or OperationCanceledException)
            {
            }
            await Task.Delay(250);
        }
        return false;
    }

    internal static async Task Stop(int controlPort)
    {
        for (int i = 0; i < 20; i++)
        {
            try
            {
                using var c = new TcpClient();
                await c.ConnectAsync(IPAddress.Loopback, controlPort);
                await c.GetStream().WriteAsync("stop\n"u8.ToArray());
                return;
            }
            catch (SocketException)
            {
                await Task.Delay(250);
            }
        }
    }

    [Fact]
    public async Task FiftyConcurrentClientsGetTheirBytesBackAndTheServerSurvivesAbortedClients()
    {
        var linked = SampleBuild.Link("tcp_echo", s => output.WriteLine(s));
        int port = SampleBuild.FreePort(), control = SampleBuild.FreePort();
        var opts = new QemuOptions
        {
            Network = true,
            HostForwards = [(port, 7000), (control, 7001)],
            TimeoutSeconds = 180,
            ExtraFiles = [(SampleBuild.Placeholder, "/UKL")],
        };
        var boot = Task.Run(() => QemuHarness.Boot(linked, Script, opts));
        try
        {
            Assert.True(await WaitForServer(port, boot, TimeSpan.FromSeconds(90)), "the server never echoed");

            // 50 concurrent connections, 64 KiB of random bytes each, sent and echoed at the same time.
            var rng = new Random(7);
            var payloads = Enumerable.Range(0, Clients).Select(_ =>
            {
                var b = new byte[Size];
                rng.NextBytes(b);
                return b;
            }).ToArray();
            var sw = Stopwatch.StartNew();
            var sockets = new List<Socket>();
            int retries = 0;
            foreach (var p in payloads)
            {
                var (socket, tries) = await Open(port, p[0]);
                sockets.Add(socket);
                retries += tries;
            }
            var connect = sw.Elapsed;
            sw.Restart();
            var echoes = await Task.WhenAll(sockets.Select((socket, i) =>
                Exchange(socket, payloads[i][1..], TimeSpan.FromSeconds(90))));
            sw.Stop();
            foreach (var socket in sockets)
                socket.Dispose();
            for (int i = 0; i < Clients; i++)
                Assert.True(echoes[i].AsSpan().SequenceEqual(payloads[i].AsSpan(1)),
                    $"client {i}: got {echoes[i].Length + 1} bytes, not its {Size} bytes back");
            output.WriteLine($"{Clients} connections opened one by one in {connect.TotalSeconds:F2}s " +
                             $"({retries} reset by slirp before reaching the guest and retried)");
            output.WriteLine($"{Clients} x {Size / 1024} KiB echoed in {sw.Elapsed.TotalSeconds:F2}s " +
                             $"({2.0 * Clients * Size / 1048576 / sw.Elapsed.TotalSeconds:F1} MiB/s both ways)");

            // Clients that disconnect mid-transfer: abortive close (RST) after part of the data, an ordinary close
            // with the echo unread, and a close after reading only part of the echo.
            var aborted = new List<Task>();
            for (int i = 0; i < 10; i++)
            {
                int kind = i % 3;
                aborted.Add(Task.Run(async () =>
                {
                    using var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                    await s.ConnectAsync(IPAddress.Loopback, port);
                    await s.SendAsync(payloads[0].AsMemory(0, 24 * 1024 + 1000 * kind), SocketFlags.None);
                    if (kind == 2)
                        await s.ReceiveAsync(new byte[1000], SocketFlags.None);
                    if (kind == 0)
                        s.LingerState = new LingerOption(true, 0);
                    s.Close();
                }));
            }
            await Task.WhenAll(aborted);
            await Task.Delay(1000);

            // The server survived: a fresh connection still echoes.
            var fresh = payloads[1];
            var again = await Echo(port, fresh, TimeSpan.FromSeconds(60));
            Assert.True(again.AsSpan().SequenceEqual(fresh), $"after the aborted clients: got {again.Length} bytes");
        }
        finally
        {
            await Stop(control);
            output.WriteLine((await boot).ToString());
        }

        var r = await boot;
        Assert.False(r.TimedOut, r.ToString());
        Assert.Contains("tcp_echo: listening on port 7000", r.Console);
        var exit = ExitLine.Match(r.Console);
        Assert.True(exit.Success, r.ToString());
        // Every accepted connection was closed again (no leaked fds), and at least the 50 + 1 echo clients came. Not
        // every aborted client does: slirp accepts on the host at once and connects to the guest afterwards, so a
        // client that resets before that connection is made never reaches the guest's accept (as the retries above).
        Assert.Equal(exit.Groups[1].Value, exit.Groups[2].Value);
        Assert.True(long.Parse(exit.Groups[1].Value) >= Clients + 1, exit.Value);
        Assert.True(long.Parse(exit.Groups[3].Value) >= (Clients + 1L) * Size, exit.Value);
        // The aborted clients reached the error path (EPIPE/ECONNRESET on the server's read or write).
        Assert.True(long.Parse(exit.Groups[4].Value) >= 1, exit.Value);
        Assert.Contains("UKL-STATUS=0", r.Console);
        Assert.Equal(0, r.ExitStatus);
        Assert.DoesNotContain("Oops", r.Console);
        Assert.DoesNotContain("WARNING", r.Console);
        Assert.DoesNotContain("BUG", r.Console);
    }
}
