namespace UklLink.Guest;

/// <summary>One QEMU guest as <c>ukl-link run</c> and <c>image</c> boot it: x86-64 TCG, serial console, no display.</summary>
public sealed record QemuMachine
{
    public const string Program = "qemu-system-x86_64";

    /// <summary>
    /// The reference kernel's needs (docs/kernel.md): no KASLR, no PTI; reboot (QEMU exits) on a panic; and no check of
    /// the timer interrupt's routing, which a busy host's TCG can fail ("MP-BIOS bug: 8254 timer not connected") and
    /// which a virtual machine does not need.
    /// </summary>
    public const string BaseCommandLine = "nokaslr panic=-1 no_timer_check";

    /// <summary>
    /// Where the kernel's messages go: ttyS0 (with the application's output, as on a plain console) or ttyS1, the
    /// control channel, which `ukl-link run` reads and copies to stderr, so stdout is only the application's.
    /// </summary>
    public string KernelConsole { get; init; } = "ttyS0";

    /// <summary>A vmlinux (booted through its PVH note) or a bzImage.</summary>
    public required string Kernel { get; init; }

    public required string Initrd { get; init; }

    public string Memory { get; init; } = "256M";

    public int Cpus { get; init; } = 1;

    /// <summary>QEMU's CPU model: qemu64 has no SMAP, which the reference kernel needs off (docs/kernel.md).</summary>
    public string Cpu { get; init; } = "qemu64";

    /// <summary>Kernel messages below warnings are left out of the console (the application's output is what matters).</summary>
    public bool QuietKernel { get; init; } = true;

    public string? AppendCommandLine { get; init; }

    public bool Network { get; init; }

    public IReadOnlyList<PortForward> Ports { get; init; } = [];

    /// <summary>The console (ttyS0): null for QEMU's stdout, else a file.</summary>
    public string? ConsoleFile { get; init; }

    /// <summary>The control channel (ttyS1) as a UNIX socket QEMU listens on, and the log of what the guest sent on it.</summary>
    public string? ControlSocket { get; init; }

    public string? ControlLog { get; init; }

    /// <summary>QEMU detaches itself after start-up (<c>-daemonize</c>) and writes its pid here.</summary>
    public string? DaemonPidFile { get; init; }

    /// <summary>isa-debug-exit at port 0xf4: the guest's status becomes QEMU's exit status (2N+1).</summary>
    public bool DebugExit { get; init; } = true;

    public IReadOnlyList<string> ExtraArguments { get; init; } = [];

    public string CommandLine =>
        $"console={KernelConsole} " + BaseCommandLine + (QuietKernel ? " quiet" : "") + (AppendCommandLine is { Length: > 0 } a ? " " + a : "");

    /// <summary>QEMU's arguments (without the program name).</summary>
    public List<string> Arguments()
    {
        var args = new List<string>
        {
            "-accel", "tcg", "-cpu", Cpu, "-m", Memory, "-smp", Cpus.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "-nodefaults", "-no-user-config", "-display", "none", "-monitor", "none", "-no-reboot",
            "-serial", ConsoleFile is null ? "stdio" : $"file:{ConsoleFile}",
        };
        if (ControlSocket is not null)
        {
            string log = ControlLog is null ? "" : $",logfile={ControlLog},logappend=off";
            args.AddRange(["-chardev", $"socket,id=ukl-ctl,path={ControlSocket},server=on,wait=off{log}", "-serial", "chardev:ukl-ctl"]);
        }
        if (DebugExit)
            args.AddRange(["-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"]);
        args.AddRange(["-kernel", Kernel, "-initrd", Initrd, "-append", CommandLine]);
        if (Network || Ports.Count > 0)
        {
            string netdev = "user,id=n0" + string.Concat(Ports.Select(p => "," + p.HostFwd));
            args.AddRange(["-netdev", netdev, "-device", "e1000,netdev=n0"]);
        }
        if (DaemonPidFile is not null)
            args.AddRange(["-daemonize", "-pidfile", DaemonPidFile]);
        args.AddRange(ExtraArguments);
        return args;
    }

    /// <summary>The whole command as one shell line (for <c>image</c> and for error messages).</summary>
    public string ShellCommand() => string.Join(' ', new[] { Program }.Concat(Arguments()).Select(ShellWord));

    private static string ShellWord(string w) =>
        w.Length > 0 && w.All(c => char.IsAsciiLetterOrDigit(c) || "_./+,:=%@-".Contains(c)) ? w : GuestInit.Quote(w);
}
