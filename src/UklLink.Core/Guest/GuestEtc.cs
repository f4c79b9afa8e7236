namespace UklLink.Guest;

/// <summary>
/// The /etc files programs look up (users for servers that drop privileges, hosts, resolver, name service switch):
/// Debian's base-passwd accounts, so <c>-u nobody</c> or <c>www-data</c> work as on a Debian host.
/// </summary>
public static class GuestEtc
{
    public const string Passwd = """
        root:x:0:0:root:/root:/bin/sh
        daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
        bin:x:2:2:bin:/bin:/usr/sbin/nologin
        sys:x:3:3:sys:/dev:/usr/sbin/nologin
        sync:x:4:65534:sync:/bin:/bin/sync
        games:x:5:60:games:/usr/games:/usr/sbin/nologin
        man:x:6:12:man:/var/cache/man:/usr/sbin/nologin
        lp:x:7:7:lp:/var/spool/lpd:/usr/sbin/nologin
        mail:x:8:8:mail:/var/mail:/usr/sbin/nologin
        news:x:9:9:news:/var/spool/news:/usr/sbin/nologin
        uucp:x:10:10:uucp:/var/spool/uucp:/usr/sbin/nologin
        proxy:x:13:13:proxy:/bin:/usr/sbin/nologin
        www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin
        backup:x:34:34:backup:/var/backups:/usr/sbin/nologin
        list:x:38:38:Mailing List Manager:/var/list:/usr/sbin/nologin
        irc:x:39:39:ircd:/run/ircd:/usr/sbin/nologin
        nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin

        """;

    public const string Group = """
        root:x:0:
        daemon:x:1:
        bin:x:2:
        sys:x:3:
        adm:x:4:
        tty:x:5:
        disk:x:6:
        lp:x:7:
        mail:x:8:
        news:x:9:
        uucp:x:10:
        man:x:12:
        proxy:x:13:
        kmem:x:15:
        dialout:x:20:
        cdrom:x:24:
        sudo:x:27:
        audio:x:29:
        www-data:x:33:
        backup:x:34:
        operator:x:37:
        list:x:38:
        irc:x:39:
        src:x:40:
        shadow:x:42:
        utmp:x:43:
        video:x:44:
        plugdev:x:46:
        staff:x:50:
        games:x:60:
        users:x:100:
        nogroup:x:65534:

        """;

    public const string NsSwitch = """
        passwd: files
        group: files
        shadow: files
        hosts: files dns
        networks: files
        protocols: files
        services: files

        """;

    /// <summary>The files, by guest path; the host's /etc/services and /etc/protocols (netbase) come along when present.</summary>
    public static IEnumerable<(string Path, string Text)> Files(GuestSpec spec)
    {
        yield return ("/etc/passwd", Passwd);
        yield return ("/etc/group", Group);
        yield return ("/etc/nsswitch.conf", NsSwitch);
        yield return ("/etc/hostname", spec.Hostname + "\n");
        yield return ("/etc/hosts", $"127.0.0.1\tlocalhost\n10.0.2.15\t{spec.Hostname}\n::1\tlocalhost ip6-localhost ip6-loopback\n");
        if (spec.Network || spec.Ports.Count > 0)
            yield return ("/etc/resolv.conf", "nameserver 10.0.2.3\n");
        foreach (var name in new[] { "services", "protocols" })
        {
            string host = Path.Combine("/etc", name);
            if (File.Exists(host))
                yield return (host, File.ReadAllText(host));
        }
    }
}
