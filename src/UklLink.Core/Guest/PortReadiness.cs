using System.Net.Sockets;

namespace UklLink.Guest;

/// <summary>
/// When a watched guest port is ready: its socket listens (the init reports it), and, when the port is forwarded, a
/// connection from the host has reached it. QEMU's user networking accepts a host connection at once but can take
/// seconds to deliver the first ones to a freshly booted guest; so the host keeps a probe connection open until the
/// init sees it arrive (the application sees one connection that closes without data, as from a health check).
/// </summary>
public sealed class PortReadiness(int guestPort, PortForward? forward) : IDisposable
{
    private TcpClient? _probe;

    public int GuestPort { get; } = guestPort;

    public PortForward? Forward { get; } = forward;

    /// <summary>True once ready; otherwise (re)opens the probe connection as needed.</summary>
    public bool Poll(GuestReport report)
    {
        if (!report.Listening.Contains(GuestPort))
            return false;
        if (Forward is null || report.Reachable?.Contains(GuestPort) == true)
        {
            Dispose();
            return true;
        }
        if (_probe is null)
        {
            var probe = new TcpClient();
            try
            {
                probe.Connect(Forward.HostAddress, Forward.HostPort);
                _probe = probe;
            }
            catch (SocketException)
            {
                probe.Dispose();
            }
        }
        return false;
    }

    public void Dispose()
    {
        _probe?.Dispose();
        _probe = null;
    }
}
