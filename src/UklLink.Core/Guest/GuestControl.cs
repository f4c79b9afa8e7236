using System.Globalization;
using System.Net.Sockets;
using System.Text;

namespace UklLink.Guest;

/// <summary>What the guest's init reported on the control channel so far (<see cref="GuestInit"/>'s protocol).</summary>
/// <param name="ApplicationPid">The application's pid in the guest, once started.</param>
/// <param name="Listening">Watched guest ports that have a listening socket.</param>
/// <param name="ExitStatus">The application's exit status (N, or 128+signal), once it ended.</param>
/// <param name="Reachable">Watched guest ports a connection forwarded from the host has reached.</param>
public sealed record GuestReport(int? ApplicationPid, IReadOnlySet<int> Listening, int? ExitStatus, IReadOnlySet<int>? Reachable = null)
{
    public static GuestReport Empty { get; } = new(null, new HashSet<int>(), null, new HashSet<int>());

    public static GuestReport Parse(string text)
    {
        int? pid = null, status = null;
        var listening = new HashSet<int>();
        var reachable = new HashSet<int>();
        foreach (var raw in text.Split('\n'))
        {
            string line = raw.TrimEnd('\r');
            if (!line.StartsWith(GuestInit.ControlPrefix, StringComparison.Ordinal))
                continue;
            var words = line[GuestInit.ControlPrefix.Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (words.Length != 2 || !int.TryParse(words[1], NumberStyles.None, CultureInfo.InvariantCulture, out int n))
                continue;
            switch (words[0])
            {
                case "started": pid = n; break;
                case "listening": listening.Add(n); break;
                case "reachable": reachable.Add(n); break;
                case "exit": status = n; break;
            }
        }
        return new GuestReport(pid, listening, status, reachable);
    }
}

/// <summary>
/// The host's end of the control channel: signals go to the guest through QEMU's UNIX socket for the second serial
/// port; what the guest says is read from the chardev's log file, which QEMU writes whether or not anyone is connected.
/// </summary>
public sealed class GuestControl(string socketPath, string logPath) : IDisposable
{
    private Socket? _socket;

    public string SocketPath { get; } = socketPath;

    public string LogPath { get; } = logPath;

    public GuestReport Read()
    {
        try
        {
            using var f = new FileStream(LogPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            using var r = new StreamReader(f, Encoding.UTF8);
            return GuestReport.Parse(r.ReadToEnd());
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            return GuestReport.Empty;
        }
    }

    private long _offset;
    private string _partial = "";

    /// <summary>
    /// The lines the guest wrote on the channel since the last call that are not the init's reports: the kernel's
    /// messages when it logs there, the init's own errors. With <paramref name="final"/>, an unfinished last line too.
    /// </summary>
    public IReadOnlyList<string> NewMessages(bool final = false)
    {
        string text;
        try
        {
            using var f = new FileStream(LogPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            if (f.Length <= _offset)
                return final ? Flush() : [];
            f.Seek(_offset, SeekOrigin.Begin);
            var buffer = new byte[f.Length - _offset];
            int n = f.Read(buffer);
            _offset += n;
            text = _partial + Encoding.UTF8.GetString(buffer, 0, n);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            return [];
        }
        int end = text.LastIndexOf('\n');
        _partial = end < 0 ? text : text[(end + 1)..];
        var lines = end < 0 ? [] : Messages(text[..end]);
        return final ? [.. lines, .. Flush()] : lines;
    }

    private List<string> Flush()
    {
        var rest = Messages(_partial);
        _partial = "";
        return rest;
    }

    private static List<string> Messages(string text) =>
        text.Split('\n').Select(l => l.Trim('\r')).Where(l => l.Length > 0 && !l.StartsWith(GuestInit.ControlPrefix, StringComparison.Ordinal)).ToList();

    /// <summary>Asks the init to send the application a signal (INT, TERM, KILL, ...); false when QEMU cannot be reached.</summary>
    public bool TrySignal(string name)
    {
        try
        {
            if (_socket is null)
            {
                var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                s.Connect(new UnixDomainSocketEndPoint(SocketPath));
                _socket = s;
            }
            _socket.Send(Encoding.ASCII.GetBytes($"signal {name}\n"));
            return true;
        }
        catch (SocketException)
        {
            _socket?.Dispose();
            _socket = null;
            return false;
        }
    }

    public void Dispose() => _socket?.Dispose();
}
