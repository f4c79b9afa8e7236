using System.Globalization;
using System.Net;
using System.Runtime.InteropServices;

namespace UklLink.Guest;

/// <summary>
/// QEMU's user networking (libslirp) listens on every forwarded host port with a backlog of 1. When clients connect
/// in a burst (redis-benchmark opens 50 at once) faster than QEMU's main loop accepts, which under TCG on a busy host
/// is common, the host kernel drops the handshakes that do not fit: clients wait seconds for SYN retransmits, or,
/// when the dropped packet was the final ACK, believe they are connected until the host side gives up and resets.
/// Seen from the client it looks like a server stall in the guest, but no packet reached the guest.
/// <para>
/// <c>listen()</c> on a socket that already listens only changes its backlog. This takes a copy of QEMU's listening
/// socket with <c>pidfd_getfd(2)</c> (Linux 5.6; allowed for our own child) and calls <c>listen(copy, backlog)</c>;
/// the socket stays QEMU's. kernel/hostfwd-backlog does the same for kernel/qemu-run.
/// </para>
/// </summary>
public static partial class HostForwardBacklog
{
    public const int DefaultBacklog = 128;

    /// <summary>
    /// Raises the backlog of the TCP ports of <paramref name="forwards"/> that process <paramref name="pid"/> or one of
    /// its descendants listens on, waiting up to <paramref name="wait"/> for them to appear. Returns one line per port
    /// that could not be raised (empty when all were).
    /// </summary>
    public static IReadOnlyList<string> Raise(int pid, IEnumerable<PortForward> forwards, TimeSpan wait, int backlog = DefaultBacklog)
    {
        var problems = new List<string>();
        var deadline = DateTime.UtcNow + wait;
        foreach (var forward in forwards.Where(f => !f.Udp))
        {
            string? why = RaiseOne(pid, forward, deadline, backlog);
            if (why is not null)
                problems.Add($"host port {forward.HostAddress}:{forward.HostPort}: QEMU's listen backlog stays 1 ({why}); bursts of connections may stall");
        }
        return problems;
    }

    private static string? RaiseOne(int pid, PortForward forward, DateTime deadline, int backlog)
    {
        (int Pid, int Fd)? owner = null;
        while (true)
        {
            if (ListeningInode(forward.HostAddress, forward.HostPort) is { } inode)
                owner = FindSocket(pid, inode);
            if (owner is not null)
                break;
            if (!Directory.Exists($"/proc/{pid}"))
                return $"process {pid} is gone";
            if (DateTime.UtcNow > deadline)
                return $"QEMU (pid {pid}) did not listen on it in time";
            Thread.Sleep(50);
        }
        int pidfd = (int)syscall(SysPidfdOpen, owner.Value.Pid, 0, 0);
        if (pidfd < 0)
            return "pidfd_open: " + Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError());
        try
        {
            int copy = (int)syscall(SysPidfdGetfd, pidfd, owner.Value.Fd, 0);
            if (copy < 0)
                return "pidfd_getfd: " + Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError());
            try
            {
                if (listen(copy, backlog) != 0)
                    return "listen: " + Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError());
            }
            finally
            {
                close(copy);
            }
        }
        finally
        {
            close(pidfd);
        }
        return null;
    }

    /// <summary>The inode of the IPv4 TCP socket listening on address:port (or on any address), from /proc/net/tcp.</summary>
    internal static string? ListeningInode(IPAddress address, int port)
    {
        byte[] a = address.GetAddressBytes();
        string wantAddress = $"{a[3]:X2}{a[2]:X2}{a[1]:X2}{a[0]:X2}";
        string wantPort = port.ToString("X4", CultureInfo.InvariantCulture);
        foreach (var line in File.ReadLines("/proc/net/tcp").Skip(1))
        {
            var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (f.Length < 10 || f[3] != "0A")
                continue;
            int colon = f[1].IndexOf(':');
            if (colon < 0 || f[1][(colon + 1)..] != wantPort)
                continue;
            string host = f[1][..colon];
            if (host == wantAddress || host == "00000000")
                return f[9];
        }
        return null;
    }

    /// <summary>The process (pid or a descendant) and fd that hold socket:[inode].</summary>
    private static (int Pid, int Fd)? FindSocket(int pid, string inode)
    {
        string target = $"socket:[{inode}]";
        foreach (int p in SelfAndDescendants(pid))
        {
            string[] fds;
            try { fds = Directory.GetFiles($"/proc/{p}/fd"); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { continue; }
            foreach (var fd in fds)
            {
                try
                {
                    if (new FileInfo(fd).LinkTarget == target)
                        return (p, int.Parse(Path.GetFileName(fd), CultureInfo.InvariantCulture));
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
            }
        }
        return null;
    }

    /// <summary>pid and its descendants (the parent links of /proc/*/stat; not every kernel has task/*/children).</summary>
    private static IEnumerable<int> SelfAndDescendants(int pid)
    {
        var children = new Dictionary<int, List<int>>();
        foreach (var dir in Directory.GetDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out int p))
                continue;
            string stat;
            try { stat = File.ReadAllText(Path.Combine(dir, "stat")); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { continue; }
            // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so read after the last ')'.
            var rest = stat[(stat.LastIndexOf(')') + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (rest.Length > 1 && int.TryParse(rest[1], NumberStyles.None, CultureInfo.InvariantCulture, out int parent))
                (children.TryGetValue(parent, out var list) ? list : children[parent] = []).Add(p);
        }
        var queue = new Queue<int>([pid]);
        while (queue.Count > 0)
        {
            int p = queue.Dequeue();
            yield return p;
            foreach (int c in children.GetValueOrDefault(p) ?? [])
                queue.Enqueue(c);
        }
    }

    private const long SysPidfdOpen = 434, SysPidfdGetfd = 438;

    [LibraryImport("libc", SetLastError = true)]
    private static partial long syscall(long number, long a, long b, long c);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int listen(int fd, int backlog);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int close(int fd);
}
