using System.Globalization;
using System.Net;

namespace UklLink.Guest;

/// <summary>A host port forwarded to a guest port through QEMU's user networking (<c>-p [ADDR:]HOST:GUEST[/tcp|/udp]</c>).</summary>
public sealed record PortForward(IPAddress HostAddress, int HostPort, int GuestPort, bool Udp)
{
    public string Protocol => Udp ? "udp" : "tcp";

    /// <summary>QEMU's hostfwd rule.</summary>
    public string HostFwd => $"hostfwd={Protocol}:{HostAddress}:{HostPort}-:{GuestPort}";

    public override string ToString() => $"{HostAddress}:{HostPort} -> guest {GuestPort}/{Protocol}";

    /// <summary>Parses docker's spelling: <c>8080:80</c>, <c>8080</c> (same port), <c>0.0.0.0:8080:80</c>, <c>5353:53/udp</c>.</summary>
    public static PortForward Parse(string spec)
    {
        string s = spec;
        bool udp = false;
        if (s.EndsWith("/udp", StringComparison.Ordinal)) { udp = true; s = s[..^4]; }
        else if (s.EndsWith("/tcp", StringComparison.Ordinal)) { s = s[..^4]; }
        var parts = s.Split(':');
        var address = IPAddress.Loopback;
        if (parts.Length == 3)
        {
            if (!IPAddress.TryParse(parts[0], out address!) || address.AddressFamily != System.Net.Sockets.AddressFamily.InterNetwork)
                throw new GuestException($"-p {spec}: '{parts[0]}' is not an IPv4 address to listen on (e.g. 127.0.0.1 or 0.0.0.0)");
            parts = parts[1..];
        }
        if (parts.Length is < 1 or > 2)
            throw new GuestException($"-p {spec}: expected HOSTPORT:GUESTPORT, e.g. -p 8080:80");
        int host = Port(parts[0], spec), guest = Port(parts[^1], spec);
        return new PortForward(address, host, guest, udp);
    }

    private static int Port(string text, string spec) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int port) && port is > 0 and < 65536
            ? port
            : throw new GuestException($"-p {spec}: '{text}' is not a port number (1-65535)");
}
