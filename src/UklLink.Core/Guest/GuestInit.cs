using System.Text;

namespace UklLink.Guest;

/// <summary>
/// The guest's /init (busybox sh): mounts, network, then the application as /UKL in the background with its
/// arguments and environment, its output on the first serial port (ttyS0), and a control channel on the second serial port (/dev/ttyS1) that the host uses to
/// send signals and the init uses to report. Protocol, one line each way:
/// <list type="bullet">
/// <item>host to guest: <c>signal NAME</c> (INT, TERM, KILL, ...) is sent to the application;</item>
/// <item>guest to host (among the kernel's messages when the kernel logs there): <c>ukl-init: started PID</c>, <c>ukl-init: listening PORT</c> (a TCP socket listens on a
/// watched port), <c>ukl-init: reachable PORT</c> (a connection forwarded from the host reached it),
/// <c>ukl-init: exit STATUS</c> (the shell's status: N, or 128+signal).</item>
/// </list>
/// After the application exits, the init reports its status through isa-debug-exit too (QEMU exits with 2N+1) and
/// falls back to <c>reboot -f</c> (QEMU -no-reboot exits) where that device is missing (other VMMs).
/// </summary>
public static class GuestInit
{
    public const string ControlPrefix = "ukl-init: ";

    /// <summary>What the application's environment starts with, as a login shell would give it.</summary>
    public static IReadOnlyList<KeyValuePair<string, string>> DefaultEnvironment { get; } =
    [
        new("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"),
        new("HOME", "/root"),
        new("TERM", "vt100"),
    ];

    public static string Script(GuestSpec spec)
    {
        var s = new StringBuilder();
        s.Append("#!/bin/sh\n");
        s.Append("# /init written by ukl-link: run the application (/UKL), report its status, power off.\n");
        s.Append("export PATH=/usr/sbin:/usr/bin:/sbin:/bin\n");
        s.Append("mount -t proc proc /proc\n");
        s.Append("mount -t sysfs sysfs /sys\n");
        s.Append("mount -t devtmpfs devtmpfs /dev 2>/dev/null\n");
        s.Append("mkdir -p /dev/pts /dev/shm\n");
        s.Append("mount -t devpts devpts /dev/pts\n");
        s.Append("mount -t tmpfs -o mode=1777 tmpfs /dev/shm\n");
        s.Append("mount -t tmpfs -o mode=1777 tmpfs /tmp\n");
        s.Append("mount -t tmpfs -o mode=755 tmpfs /run\n");
        s.Append("hostname ").Append(Quote(spec.Hostname)).Append('\n');
        s.Append("ip link set lo up\n");
        if (spec.Network || spec.Ports.Count > 0)
        {
            // QEMU's user networking: the guest is 10.0.2.15, the gateway 10.0.2.2, DNS 10.0.2.3.
            s.Append("ip link set eth0 up && ip addr add 10.0.2.15/24 dev eth0 && ip route add default via 10.0.2.2 ")
             .Append("|| echo \"ukl-init: eth0 is not configured (no network card?)\" >&2\n");
        }
        s.Append("ctl=/dev/ttyS1\n");
        s.Append("stty -F $ctl raw -echo 2>/dev/null || ctl=/dev/null\n");
        // One descriptor for every report: reopening the tty while the reader's end closes fails with EAGAIN.
        s.Append("exec 3>$ctl\n");
        s.Append("report() { echo \"").Append(ControlPrefix).Append("$*\" >&3; }\n");

        s.Append("cd ").Append(Quote(spec.WorkingDirectory)).Append(" || exit 1\n");
        s.Append("env -i");
        foreach (var (k, v) in Merge(DefaultEnvironment, spec.Environment))
            s.Append(' ').Append(Quote($"{k}={v}"));
        s.Append(" /UKL");
        foreach (var a in spec.Arguments)
            s.Append(' ').Append(Quote(a));
        // The application's output is the first serial port's, whichever port the kernel logs to.
        s.Append(" </dev/null >/dev/ttyS0 2>&1 &\n");
        s.Append("app=$!\n");
        s.Append("report started $app\n");
        // Signals from the host reach the application; the reader ends with the application.
        s.Append("( while read -r cmd arg; do [ \"$cmd\" = signal ] && kill -s \"$arg\" $app 2>/dev/null; done < $ctl ) &\n");
        s.Append("reader=$!\n");
        if (spec.WaitPorts.Count > 0)
        {
            // A TCP socket on the port in state LISTEN (0A), then, for ports the host reaches through a forward, one in
            // any other state: the host's probe connection got through (/proc/net/tcp, and tcp6 with IPv6).
            s.Append("sockets() { cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | awk -v p=\"$(printf %04X \"$1\")\" -v want=\"$2\" ")
             .Append("'{ split($2, a, \":\"); if (a[2] == p && (want == \"listen\" ? $4 == \"0A\" : $4 != \"0A\")) f = 1 } END { exit !f }'; }\n");
            s.Append("watch() { until sockets $1 $2; do kill -0 $app 2>/dev/null || exit 0; sleep 0.1; done; report $3 $1; }\n");
            s.Append("(");
            foreach (int p in spec.WaitPorts)
                s.Append(" watch ").Append(p).Append(" listen listening;");
            foreach (int p in spec.WaitPorts.Where(p => spec.Ports.Any(f => f.GuestPort == p && !f.Udp)))
                s.Append(" watch ").Append(p).Append(" connected reachable;");
            s.Append(" ) &\n");
        }
        s.Append("wait $app\n");
        s.Append("status=$?\n");
        // The reader's end goes first, so that closing descriptor 3 is the tty's last close, which waits until the
        // report has left the serial port (before guest-exit stops QEMU).
        s.Append("kill $reader 2>/dev/null\n");
        s.Append("wait $reader 2>/dev/null\n");
        s.Append("report exit $status\n");
        s.Append("exec 3>&-\n");
        s.Append("sync\n");
        s.Append("guest-exit $status\n");
        s.Append("reboot -f\n");
        return s.ToString();
    }

    /// <summary>Defaults first, each later value replacing an earlier one with the same name (in the first one's place).</summary>
    private static List<KeyValuePair<string, string>> Merge(params IReadOnlyList<KeyValuePair<string, string>>[] lists)
    {
        var result = new List<KeyValuePair<string, string>>();
        foreach (var list in lists)
        {
            foreach (var kv in list)
            {
                int at = result.FindIndex(e => e.Key == kv.Key);
                if (at >= 0) result[at] = kv;
                else result.Add(kv);
            }
        }
        return result;
    }

    /// <summary>Single-quoted for sh.</summary>
    public static string Quote(string s) => "'" + s.Replace("'", "'\\''") + "'";
}
