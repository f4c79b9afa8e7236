using System.Diagnostics;
using System.Net;
using System.Text.RegularExpressions;
using UklLink.Guest;
using Xunit;

namespace UklLink.Tests;

/// <summary>
/// HostForwardBacklog raises another process's listen backlog (QEMU listens on forwarded ports with a backlog of 1).
/// The stand-in for QEMU is a child process that listens with backlog 1, as libslirp does; `ss` reads the backlog back
/// (Send-Q of a listening socket).
/// </summary>
public sealed class HostForwardBacklogTests
{
    [Fact]
    public void TheBacklogOfAChildsListeningSocketBecomes128()
    {
        using var listener = Listener(out int port);
        Assert.Equal(1, Backlog(port));
        var problems = HostForwardBacklog.Raise(listener.Process.Id, [new PortForward(IPAddress.Loopback, port, 80, false)], TimeSpan.FromSeconds(10));
        Assert.Empty(problems);
        Assert.Equal(HostForwardBacklog.DefaultBacklog, Backlog(port));
        // The socket is still the child's and still accepts.
        using var client = new System.Net.Sockets.TcpClient();
        client.Connect(IPAddress.Loopback, port);
        Assert.Equal("accepted", listener.Process.StandardOutput.ReadLine());
    }

    [Fact]
    public void APortNobodyListensOnIsOneLineNamingThePort()
    {
        using var listener = Listener(out int port);
        int other = port == 65535 ? port - 1 : port + 1;
        var problems = HostForwardBacklog.Raise(listener.Process.Id, [new PortForward(IPAddress.Loopback, other, 80, false)], TimeSpan.FromMilliseconds(300));
        var line = Assert.Single(problems);
        Assert.Contains($"127.0.0.1:{other}", line);
        Assert.Contains("backlog stays 1", line);
    }

    private static Child Listener(out int port)
    {
        var psi = new ProcessStartInfo("python3") { RedirectStandardOutput = true, UseShellExecute = false };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add("import socket,sys\ns=socket.socket(); s.bind(('127.0.0.1',0)); s.listen(1)\n" +
                             "print(s.getsockname()[1], flush=True)\nc,_=s.accept(); print('accepted', flush=True)\nsys.stdin.read()\n");
        psi.RedirectStandardInput = true;
        var child = new Child(Process.Start(psi)!);
        port = int.Parse(child.Process.StandardOutput.ReadLine()!);
        return child;
    }

    /// <summary>The listen backlog of 127.0.0.1:port as `ss -ltn` reports it (Send-Q of a listening socket).</summary>
    private static int Backlog(int port)
    {
        var psi = new ProcessStartInfo("ss", $"-Hltn sport = :{port}") { RedirectStandardOutput = true, UseShellExecute = false };
        using var ss = Process.Start(psi)!;
        string text = ss.StandardOutput.ReadToEnd();
        ss.WaitForExit();
        var m = Regex.Match(text, @"LISTEN\s+\d+\s+(\d+)\s+127\.0\.0\.1:" + port);
        Assert.True(m.Success, $"ss shows no listener on port {port}:\n{text}");
        return int.Parse(m.Groups[1].Value);
    }

    private sealed class Child(Process process) : IDisposable
    {
        public Process Process { get; } = process;

        public void Dispose()
        {
            try { Process.Kill(); } catch (InvalidOperationException) { }
            Process.Dispose();
        }
    }
}
