using System.Diagnostics;
using UklLink.Cli;

namespace UklLink.Kernel.Tests;

/// <summary>
/// Builds a freestanding sample (samples/NAME/Makefile: NAME.o and start.o) and links it with `ukl-link link` into
/// the reference kernel, for the sample tests (TcpEchoTests, StressTests). Same steps as RuntimeTests.LinkSample.
/// </summary>
internal static class SampleBuild
{
    public static readonly string Samples = Path.Combine(KernelBuild.RepoRoot, "samples");
    public static readonly string Placeholder = Path.Combine(Samples, "common", "UKL");

    public static string Work(string name)
    {
        var dir = Path.Combine(Path.GetTempPath(), "ukl-link-tests", $"{name}-{Guid.NewGuid().ToString("N")[..8]}");
        Directory.CreateDirectory(dir);
        return dir;
    }

    /// <summary>Builds samples/NAME into <paramref name="objs"/> with its Makefile; <paramref name="makeArgs"/> go to make.</summary>
    public static void Make(string name, string objs, string makeArgs = "")
    {
        var psi = new ProcessStartInfo("make", $"-s -C {Path.Combine(Samples, name)} OUT={objs} {makeArgs}")
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        };
        using var p = Process.Start(psi)!;
        string err = p.StandardError.ReadToEnd() + p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"make {name}: {err}");
    }

    /// <summary>
    /// Builds samples/NAME and links start.o + NAME.o into the reference kernel (map next to it); returns the vmlinux.
    /// The link's log goes to <paramref name="log"/>; <paramref name="makeArgs"/> go to make, <paramref name="linkArgs"/>
    /// to `ukl-link link`.
    /// </summary>
    public static string Link(string name, Action<string> log, string makeArgs = "", string[]? linkArgs = null)
    {
        var m = KernelBuild.Ensure();
        var dir = Work(name);
        var objs = Path.Combine(dir, "obj");
        Make(name, objs, makeArgs);
        var linked = Path.Combine(dir, $"vmlinux.{name}");
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = UklLinkCli.Run(["link", "--kernel", m.Vmlinux, "-o", linked, "--map", Path.Combine(dir, $"{name}.map"),
            .. linkArgs ?? [], Path.Combine(objs, "start.o"), Path.Combine(objs, $"{name}.o")], stdout, stderr);
        log(stderr.ToString());
        Assert.True(code == 0, stderr.ToString());
        return linked;
    }

    /// <summary>
    /// Builds samples/NAME on the UKL musl (its Makefile makes NAME.o and the ordinary static executable NAME-native
    /// from the same object) and links crt1.o + NAME.o + libc.a into the reference kernel, as `musl-gcc -static`
    /// would; returns the linked vmlinux and the native executable.
    /// </summary>
    public static (string Vmlinux, string Native) LinkMusl(string name, Action<string> log)
    {
        var m = KernelBuild.Ensure();
        var musl = MuslTests.MuslPrefix();
        var dir = Work(name);
        var objs = Path.Combine(dir, "obj");
        Make(name, objs, $"MUSL={musl}");
        var linked = Path.Combine(dir, $"vmlinux.{name}");
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = UklLinkCli.Run(["link", "--kernel", m.Vmlinux, "-o", linked, "--map", Path.Combine(dir, $"{name}.map"),
            Path.Combine(musl, "lib", "crt1.o"), Path.Combine(objs, $"{name}.o"), Path.Combine(musl, "lib", "libc.a")],
            stdout, stderr);
        log(stderr.ToString());
        Assert.True(code == 0, stderr.ToString());
        return (linked, Path.Combine(objs, $"{name}-native"));
    }

    public static int FreePort()
    {
        using var probe = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        probe.Start();
        return ((System.Net.IPEndPoint)probe.LocalEndpoint).Port;
    }
}
