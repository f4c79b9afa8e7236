using System.CommandLine;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using UklLink.Guest;
using UklLink.Kernel;

namespace UklLink.Cli;

/// <summary>The application's arguments (after <c>--</c>), set before the command runs; see <see cref="InputArguments"/>.</summary>
public sealed class ApplicationArguments
{
    public IReadOnlyList<string> Values { get; set; } = [];
}

/// <summary>The options <c>run</c> and <c>image</c> share: what the guest holds and how QEMU boots it.</summary>
public sealed partial class GuestOptions
{
    public Option<string[]> Publish { get; } = new("--publish", "-p")
    {
        Description = "Forward a host port to a guest port ([ADDR:]HOST:GUEST[/udp], like docker; ADDR defaults to 127.0.0.1); sets up networking",
        HelpName = "HOST:GUEST",
        AllowMultipleArgumentsPerToken = false,
    };

    public Option<string[]> Env { get; } = new("--env", "-e")
    {
        Description = "Set an environment variable for the application (VAR=VALUE, or VAR to pass this process's value)",
        HelpName = "VAR=VALUE",
    };

    public Option<string[]> Files { get; } = new("--file")
    {
        Description = "Copy a host file into the guest (HOST[:/GUEST/PATH]; default /NAME)",
        HelpName = "HOST:GUEST",
    };

    public Option<string[]> Dirs { get; } = new("--dir")
    {
        Description = "Copy a host directory into the guest, recursively (HOST[:/GUEST/PATH]; default /NAME)",
        HelpName = "HOST:GUEST",
    };

    public Option<string> Workdir { get; } = new("--workdir", "-w")
    {
        Description = "The application's working directory in the guest",
        HelpName = "DIR",
        DefaultValueFactory = _ => "/",
    };

    public Option<string> Memory { get; } = new("--memory", "-m")
    {
        Description = "Guest memory (QEMU -m: 256M, 1G, ...)",
        HelpName = "SIZE",
        DefaultValueFactory = _ => "256M",
    };

    public Option<int> Smp { get; } = new("--smp")
    {
        Description = "Guest CPUs (QEMU MTTCG: each is a host thread; the reference kernel is built for up to 8)",
        HelpName = "N",
        DefaultValueFactory = _ => 1,
    };

    public Option<bool> Net { get; } = new("--net")
    {
        Description = "Give the guest networking (e1000, QEMU user networking, 10.0.2.15/24) without forwarding a port",
    };

    public Option<string?> Append { get; } = new("--append")
    {
        Description = "Add to the kernel command line",
        HelpName = "TEXT",
    };

    public Option<bool> BootLog { get; } = new("--boot-log")
    {
        Description = "Show the kernel's boot messages on the console (default: warnings and errors only)",
    };

    public Option<string[]> QemuArgs { get; } = new("--qemu-arg")
    {
        Description = "An extra QEMU argument (repeat for each word)",
        HelpName = "ARG",
    };

    public IEnumerable<Option> All => [Publish, Env, Files, Dirs, Workdir, Memory, Smp, Net, Append, BootLog, QemuArgs];

    /// <summary>What the guest runs, from the options; every host file is checked here (exit 2 before anything starts).</summary>
    public GuestSpec Spec(ParseResult parse, IReadOnlyList<string> arguments, IReadOnlyList<int>? waitPorts = null)
    {
        var ports = (parse.GetValue(Publish) ?? []).Select(PortForward.Parse).ToList();
        var env = new List<KeyValuePair<string, string>>();
        foreach (var e in parse.GetValue(Env) ?? [])
        {
            int eq = e.IndexOf('=');
            string name = eq < 0 ? e : e[..eq];
            if (!EnvName().IsMatch(name))
                throw new GuestException($"--env {e}: '{name}' is not a variable name (letters, digits, _; not starting with a digit)");
            string? value = eq < 0 ? Environment.GetEnvironmentVariable(name) : e[(eq + 1)..];
            if (value is null)
                throw new GuestException($"--env {e}: {name} is not set here; give a value with --env {name}=VALUE");
            env.Add(new(name, value));
        }
        string workdir = parse.GetValue(Workdir)!;
        if (!workdir.StartsWith('/'))
            throw new GuestException($"--workdir {workdir}: give an absolute guest path, e.g. /srv");
        return new GuestSpec
        {
            Arguments = arguments,
            Environment = env,
            Files = (parse.GetValue(Files) ?? []).Select(f => Initramfs.ParseMapping(f, "--file", directory: false)).ToList(),
            Directories = (parse.GetValue(Dirs) ?? []).Select(d => Initramfs.ParseMapping(d, "--dir", directory: true)).ToList(),
            Ports = ports,
            Network = parse.GetValue(Net),
            WorkingDirectory = workdir,
            WaitPorts = waitPorts ?? [],
        };
    }

    /// <summary>The QEMU machine for a kernel and initramfs, from the options.</summary>
    public QemuMachine Machine(ParseResult parse, GuestSpec spec, string kernel, string initrd)
    {
        string memory = parse.GetValue(Memory)!;
        if (!MemorySize().IsMatch(memory))
            throw new GuestException($"--memory {memory}: give a size like 256M or 1G");
        int cpus = parse.GetValue(Smp);
        if (cpus < 1)
            throw new GuestException($"--smp {cpus}: at least 1");
        return new QemuMachine
        {
            Kernel = kernel,
            Initrd = initrd,
            Memory = memory,
            Cpus = cpus,
            QuietKernel = !parse.GetValue(BootLog),
            AppendCommandLine = parse.GetValue(Append),
            Network = spec.Network,
            Ports = spec.Ports,
            ExtraArguments = parse.GetValue(QemuArgs) ?? [],
        };
    }

    /// <summary>A linked vmlinux: exists, is a UKL kernel, and has an application in its slots.</summary>
    public static void CheckLinkedKernel(string path)
    {
        if (!File.Exists(path))
            throw new GuestException(Directory.Exists(path) ? $"{path}: is a directory, not a linked vmlinux" : $"{path}: no such file (give the vmlinux `ukl-link link -o` wrote)");
        SlotDescriptor? descriptor;
        try
        {
            using var k = KernelImage.Load(path);
            descriptor = k.ReadDescriptor();
        }
        catch (Inputs.InputException ex)
        {
            throw new GuestException($"{ex.Message} (give the vmlinux `ukl-link link -o` wrote)");
        }
        if (descriptor is null)
            throw new GuestException($"{path}: not a UKL kernel (no ukl_descriptor); give the vmlinux `ukl-link link -o` wrote");
        if (!descriptor.HasApplication)
            throw new GuestException($"{path}: no application is linked into this kernel; link one first: ukl-link link --kernel {path} -o app.vmlinux @app.ukl-inputs");
    }

    /// <summary>Every forwarded host port can be bound now (QEMU binds them the same way right after).</summary>
    public static void CheckPortsFree(IEnumerable<PortForward> ports)
    {
        foreach (var p in ports)
        {
            try
            {
                using var s = new Socket(AddressFamily.InterNetwork, p.Udp ? SocketType.Dgram : SocketType.Stream, p.Udp ? ProtocolType.Udp : ProtocolType.Tcp);
                s.Bind(new IPEndPoint(p.HostAddress, p.HostPort));
                // .NET binds with SO_REUSEADDR on Linux; listening is what collides with another listener, as QEMU's does.
                if (!p.Udp)
                    s.Listen(1);
            }
            catch (SocketException ex)
            {
                string why = ex.SocketErrorCode == SocketError.AddressAlreadyInUse ? "is already in use" : $"cannot be used ({ex.Message})";
                throw new GuestException($"-p {p.HostPort}:{p.GuestPort}: host port {p.HostAddress}:{p.HostPort}/{p.Protocol} {why}; pick another host port");
            }
        }
    }

    public static string Qemu() => Tooling.ToolchainSetup.Which(QemuMachine.Program)
        ?? throw new GuestException($"{QemuMachine.Program} is not installed: apt-get install qemu-system-x86");

    public static string Seconds(double s) => s.ToString("0.0", CultureInfo.InvariantCulture);

    [GeneratedRegex("^[A-Za-z_][A-Za-z0-9_]*$")]
    private static partial Regex EnvName();

    [GeneratedRegex("^[0-9]+[KMGT]?$")]
    private static partial Regex MemorySize();
}
