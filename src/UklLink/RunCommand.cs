using System.CommandLine;
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using Serilog;
using UklLink.Guest;
using UklLink.Linking;

namespace UklLink.Cli;

/// <summary>
/// <c>ukl-link run</c>: boot a linked application under QEMU with a generated guest (init, /etc, files, network),
/// stream the console, pass Ctrl-C on to the application, and exit with the application's status.
/// </summary>
public static class RunCommand
{
    /// <summary>--timeout expired (as timeout(1)).</summary>
    public const int TimedOut = 124;

    /// <summary>QEMU failed, or the guest stopped before the application reported a status (as docker run's 125).</summary>
    public const int GuestFailed = 125;

    /// <summary>How long the application gets to exit after a signal before QEMU is stopped.</summary>
    public static readonly TimeSpan Grace = TimeSpan.FromSeconds(10);

    public static Command Create(GlobalOptions global, TextWriter stdout, TextWriter stderr, ApplicationArguments application)
    {
        var guest = new GuestOptions();
        var kernel = new Option<string?>("--kernel", "-k")
        {
            Description = "Link the INPUTs (objects, archives, @FILE, -L/-l) into this UKL kernel first, then run the result",
            HelpName = "VMLINUX",
        };
        var timeout = new Option<int>("--timeout")
        {
            Description = "Stop the application (SIGTERM, then the guest) after SECONDS and exit with 124; with --detach, how long --wait-port waits",
            HelpName = "SECONDS",
        };
        var waitPort = new Option<int?>("--wait-port")
        {
            Description = "Report when the application listens on PORT (a -p host port or a guest port); with --detach, return only then",
            HelpName = "PORT",
        };
        var detach = new Option<bool>("--detach", "-d")
        {
            Description = "Leave the guest running in the background (needs --pid-file); stop it with `ukl-link stop PIDFILE`",
        };
        var pidFile = new Option<string?>("--pid-file")
        {
            Description = "With --detach: write QEMU's pid here",
            HelpName = "FILE",
        };
        var console = new Option<string?>("--console")
        {
            Description = "Also write the console to FILE (with --detach: the console goes there; default PIDFILE.console)",
            HelpName = "FILE",
        };
        var inputs = new Argument<string[]>("VMLINUX|INPUT")
        {
            Description = "The linked vmlinux (ukl-link link's output); with --kernel, the link inputs instead",
            Arity = ArgumentArity.OneOrMore,
        };

        var command = new Command("run", """
            Boot an application linked by `ukl-link link` under QEMU and run it as /UKL in ring 0: arguments after --,
            environment, files, forwarded ports, /etc/passwd, /etc/group and /etc/hosts in the guest. The console is
            streamed to stdout; Ctrl-C sends the application SIGINT (twice: stop the guest); the exit status is the
            application's (N, or 128+signal as a shell reports it).

            Examples:
              ukl-link run app.vmlinux -- --port 8080
              ukl-link run -p 8080:80 --wait-port 8080 server.vmlinux -- -c /etc/server.conf
              ukl-link run --kernel vmlinux @app.ukl-inputs -- arg1 arg2      (link, then run)
              ukl-link run -e GREETING=hi --file data.txt:/srv/data.txt --timeout 60 app.vmlinux
              ukl-link run -d --pid-file app.pid -p 11211:11211 --wait-port 11211 memcached.vmlinux -- -u nobody
            Exit status: the application's; 2 bad input (nothing started); 124 --timeout; 125 QEMU or the guest failed.
            """)
        {
            kernel, timeout, waitPort, detach, pidFile, console, inputs,
        };
        foreach (var o in guest.All)
            command.Options.Add(o);

        command.SetAction(parse =>
        {
            using var log = global.CreateLogger(parse);
            string qemu = GuestOptions.Qemu();
            var busybox = Busybox.Find();
            var positional = parse.GetValue(inputs) ?? [];
            string? kernelPath = parse.GetValue(kernel);
            bool background = parse.GetValue(detach);
            string? pid = parse.GetValue(pidFile);
            if (background && pid is null)
                throw new UsageException("--detach needs --pid-file FILE (then `ukl-link stop FILE` stops the guest)");
            if (!background && pid is not null)
                throw new UsageException("--pid-file is only used with --detach");
            if (kernelPath is null && positional.Length != 1)
                throw new UsageException($"give one linked vmlinux (got {positional.Length} arguments); to link and run in one step add --kernel VMLINUX; the application's arguments go after --");

            // A -p host port or a guest port.
            var ports = (parse.GetValue(guest.Publish) ?? []).Select(PortForward.Parse).ToList();
            int? wait = parse.GetValue(waitPort);
            int? waitGuest = wait is int w ? ports.FirstOrDefault(p => p.HostPort == w && !p.Udp)?.GuestPort ?? w : null;
            var spec = guest.Spec(parse, application.Values, waitGuest is int g ? [g] : []);
            using var readiness = waitGuest is int gp ? new PortReadiness(gp, spec.Ports.FirstOrDefault(p => p.GuestPort == gp && !p.Udp)) : null;
            GuestOptions.CheckPortsFree(spec.Ports);
            if (kernelPath is null)
                GuestOptions.CheckLinkedKernel(positional[0]);

            string runDir = Directory.CreateTempSubdirectory("ukl-link-run-").FullName;
            bool keepRunDir = false;
            try
            {
                string vmlinux;
                if (kernelPath is not null)
                {
                    vmlinux = Path.Combine(runDir, "app.vmlinux");
                    var linked = LinkCommand.Run(log, new LinkOptions { KernelPath = kernelPath, Inputs = positional, OutputPath = vmlinux },
                        parse.GetValue(global.Verbose), parse.GetValue(global.LogFormat) == LogFormat.Json, stderr);
                    if (!linked.Written)
                        return ExitCodes.Findings;
                }
                else
                {
                    vmlinux = Path.GetFullPath(positional[0]);
                }
                string initrd = Path.Combine(runDir, "initramfs.cpio");
                Initramfs.Write(initrd, Initramfs.Build(spec, busybox), gzip: false);
                var machine = guest.Machine(parse, spec, vmlinux, initrd) with
                {
                    ControlSocket = Path.Combine(runDir, "ctl.sock"),
                    ControlLog = Path.Combine(runDir, "ctl.log"),
                    KernelConsole = "ttyS1",
                };
                string? consoleFile = parse.GetValue(console) is { } c ? Path.GetFullPath(c) : null;
                string where = spec.Ports.Count == 0 ? "" : "; " + string.Join(", ", spec.Ports);
                log.Information("booting {Kernel:l} under QEMU (TCG, {Memory:l}, {Cpus} CPU){Where:l}", vmlinux, machine.Memory, machine.Cpus, where);
                if (background)
                {
                    string pidPath = Path.GetFullPath(pid!);
                    machine = machine with
                    {
                        ConsoleFile = consoleFile ?? pidPath + ".console",
                        ControlLog = DetachedRun.GuestLog(pidPath),
                        DaemonPidFile = pidPath,
                    };
                    int code = Detached(log, qemu, machine, runDir, pidPath, readiness, parse.GetValue(timeout));
                    keepRunDir = code == ExitCodes.Success;
                    return code;
                }
                return Foreground(log, qemu, machine, stdout, stderr, consoleFile, readiness, wait, parse.GetValue(timeout));
            }
            finally
            {
                if (!keepRunDir && Directory.Exists(runDir))
                    Directory.Delete(runDir, recursive: true);
            }
        });
        return command;
    }

    private static int Foreground(ILogger log, string qemu, QemuMachine machine, TextWriter stdout, TextWriter stderr, string? consoleFile,
        PortReadiness? readiness, int? waitSpelled, int timeoutSeconds)
    {
        // QEMU in a session of its own, so the terminal's Ctrl-C reaches only ukl-link, which passes it on to the
        // application; killed with ukl-link if ukl-link itself is killed (the parent-death signal).
        var psi = new ProcessStartInfo { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false };
        var prefix = new List<string>();
        if (Tooling.ToolchainSetup.Which("setsid") is { } setsid)
            prefix.AddRange([setsid, "-w"]);
        if (Tooling.ToolchainSetup.Which("setpriv") is { } setpriv)
            prefix.AddRange([setpriv, "--pdeathsig", "KILL"]);
        var argv = prefix.Concat([qemu]).Concat(machine.Arguments()).ToList();
        psi.FileName = argv[0];
        foreach (var a in argv.Skip(1))
            psi.ArgumentList.Add(a);

        using var control = new GuestControl(machine.ControlSocket!, machine.ControlLog!);
        var requests = new Queue<string>();
        void Request(PosixSignalContext ctx, string name)
        {
            ctx.Cancel = true;
            lock (requests)
                requests.Enqueue(name);
        }
        using var onInt = PosixSignalRegistration.Create(PosixSignal.SIGINT, ctx => Request(ctx, "INT"));
        using var onTerm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, ctx => Request(ctx, "TERM"));
        using var onHup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, ctx => Request(ctx, "TERM"));
        using var onQuit = PosixSignalRegistration.Create(PosixSignal.SIGQUIT, ctx => Request(ctx, "QUIT"));

        using var process = Process.Start(psi) ?? throw new GuestException($"{qemu} could not be started");
        process.StandardInput.Close();
        var backlog = Task.Run(() => RaiseBacklogs(log, process.Id, machine));
        var qemuErrors = process.StandardError.ReadToEndAsync();
        using var consoleCopy = consoleFile is null ? null : new StreamWriter(consoleFile, append: false, new UTF8Encoding(false));
        var copy = Task.Run(() => CopyConsole(process.StandardOutput.BaseStream, stdout, consoleCopy));

        var clock = Stopwatch.StartNew();
        TimeSpan? killAt = null;
        bool timedOut = false, interrupted = false, killed = false;
        int requested = 0;
        bool announced = false;
        void Kill(string why)
        {
            if (killed)
                return;
            log.Warning("{Why:l}: stopping QEMU", why);
            killed = true;
            try { process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
        }
        // The kernel's messages (and the init's errors) come on the control channel: to stderr, as they come.
        void Messages(bool final)
        {
            foreach (var line in control.NewMessages(final))
                stderr.WriteLine(line);
            stderr.Flush();
        }
        while (!process.WaitForExit(100))
        {
            Messages(final: false);
            string? signal = null;
            lock (requests)
                if (requests.Count > 0) signal = requests.Dequeue();
            if (signal is not null)
            {
                interrupted = true;
                if (++requested == 1)
                {
                    if (control.TrySignal(signal))
                        log.Information("sent SIG{Signal:l} to the application; again to stop the guest at once", signal);
                    else
                        Kill("the guest's control channel is not reachable");
                    killAt = clock.Elapsed + Grace;
                }
                else
                {
                    Kill("asked twice");
                }
            }
            if (timeoutSeconds > 0 && !timedOut && clock.Elapsed > TimeSpan.FromSeconds(timeoutSeconds))
            {
                timedOut = true;
                log.Warning("--timeout {Seconds} s reached: sending SIGTERM to the application", timeoutSeconds);
                if (!control.TrySignal("TERM"))
                    Kill("the guest's control channel is not reachable");
                killAt ??= clock.Elapsed + Grace;
            }
            if (killAt is { } at && clock.Elapsed > at)
                Kill($"the application did not exit within {Grace.TotalSeconds:0} s of the signal");
            if (readiness is not null && !announced && readiness.Poll(control.Read()))
            {
                announced = true;
                int port = readiness.GuestPort;
                log.Information("ready: the application listens on {Port:l} ({Seconds:l} s after start)",
                    waitSpelled == port ? $"guest port {port}" : $"host port {waitSpelled} (guest port {port})", GuestOptions.Seconds(clock.Elapsed.TotalSeconds));
            }
        }
        copy.Wait(TimeSpan.FromSeconds(5));
        backlog.Wait(TimeSpan.FromSeconds(5));
        Messages(final: true);
        string errors = qemuErrors.Wait(TimeSpan.FromSeconds(5)) ? qemuErrors.Result : "";
        var report = control.Read();
        return Outcome(log, report, process.ExitCode, errors, timedOut, interrupted, killed);
    }

    /// <summary>The run's exit status from what the guest reported and how QEMU ended.</summary>
    internal static int Outcome(ILogger log, GuestReport report, int qemuExit, string qemuErrors, bool timedOut, bool interrupted, bool killed)
    {
        if (report.ExitStatus is int status)
        {
            if (status != 0)
                log.Information("the application exited with status {Status}{Signal:l}", status, SignalNote(status));
            return timedOut ? TimedOut : status;
        }
        if (timedOut)
            return TimedOut;
        if (killed)
            return interrupted ? 130 : GuestFailed;
        string qemuMessage = string.Join(" ", qemuErrors.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Where(l => l.Contains("qemu-system", StringComparison.Ordinal)));
        if (qemuMessage.Length > 0)
        {
            log.Error("QEMU failed: {Message:l}", qemuMessage);
            return qemuMessage.Contains("host forwarding rule", StringComparison.Ordinal) ? ExitCodes.UsageOrIo : GuestFailed;
        }
        // The init's isa-debug-exit still carries the low 7 bits when the control line was lost.
        if (qemuExit is > 0 && (qemuExit & 1) == 1 && report.ApplicationPid is not null)
            return qemuExit >> 1;
        log.Error(report.ApplicationPid is null
            ? "the guest stopped before the application started (a kernel panic or a failed exec of /UKL? see the console above; --boot-log shows the kernel's messages)"
            : "the guest stopped before the application reported its status (a kernel panic? see the console above)");
        return GuestFailed;
    }

    private static string SignalNote(int status) =>
        status is > 128 and < 160 ? $" (128+{status - 128}: as a shell reports an application ended by signal {status - 128})" : "";

    /// <summary>The console bytes to the writer as text, with the guest tty's "\r\n" as "\n".</summary>
    private static void CopyConsole(Stream from, TextWriter to, TextWriter? file)
    {
        var decoder = new UTF8Encoding(false).GetDecoder();
        var bytes = new byte[8192];
        var chars = new char[8192 + 1];
        bool pendingCr = false;
        int n;
        while ((n = from.Read(bytes, 0, bytes.Length)) > 0)
        {
            int count = decoder.GetChars(bytes, 0, n, chars, 0);
            var sb = new StringBuilder(count + 1);
            for (int i = 0; i < count; i++)
            {
                char c = chars[i];
                if (pendingCr)
                {
                    pendingCr = false;
                    if (c != '\n')
                        sb.Append('\r');
                }
                if (c == '\r')
                    pendingCr = true;
                else
                    sb.Append(c);
            }
            string text = sb.ToString();
            lock (to)
            {
                to.Write(text);
                to.Flush();
            }
            file?.Write(text);
            file?.Flush();
        }
    }

    /// <summary>QEMU listens on forwarded ports with a backlog of 1; give them a real one (HostForwardBacklog).</summary>
    private static void RaiseBacklogs(ILogger log, int pid, QemuMachine machine)
    {
        if (machine.Ports.Count == 0)
            return;
        var problems = HostForwardBacklog.Raise(pid, machine.Ports, TimeSpan.FromSeconds(15));
        foreach (var problem in problems)
            log.Warning("{Problem:l}", problem);
        if (problems.Count == 0)
            log.Debug("listen backlog of the forwarded TCP ports raised to {Backlog}", HostForwardBacklog.DefaultBacklog);
    }

    private static int Detached(ILogger log, string qemu, QemuMachine machine, string runDir, string pidPath, PortReadiness? readiness, int timeoutSeconds)
    {
        var start = Tooling.ExternalCommand.Run(qemu, machine.Arguments());
        if (start.ExitCode != 0)
            return Outcome(log, new GuestReport(null, new HashSet<int>(), null), start.ExitCode, start.Stderr + "\nqemu-system-x86_64: exit " + start.ExitCode, false, false, false);
        File.WriteAllText(DetachedRun.StateFile(pidPath), runDir + "\n");
        log.Debug("kernel messages and the init's reports: {Log:l}", machine.ControlLog!);
        var run = DetachedRun.Open(pidPath);
        if (run.Pid is int qemuPid)
            RaiseBacklogs(log, qemuPid, machine);
        if (readiness is not null)
        {
            int port = readiness.GuestPort;
            var clock = Stopwatch.StartNew();
            var limit = TimeSpan.FromSeconds(timeoutSeconds > 0 ? timeoutSeconds : 600);
            while (true)
            {
                var report = run.Control.Read();
                if (readiness.Poll(report))
                {
                    log.Information("ready: the application listens on guest port {Port} ({Seconds:l} s after start)", port, GuestOptions.Seconds(clock.Elapsed.TotalSeconds));
                    break;
                }
                if (report.ExitStatus is not null || !run.Alive)
                {
                    log.Error("the application stopped before it listened on guest port {Port}; console: {Console:l}", port, machine.ConsoleFile!);
                    int status = run.Stop(log, Grace);
                    return status != 0 ? status : GuestFailed;
                }
                if (clock.Elapsed > limit)
                {
                    log.Error("nothing listens on guest port {Port} after {Seconds} s; stopping the guest (console: {Console:l})", port, (int)limit.TotalSeconds, machine.ConsoleFile!);
                    run.Stop(log, Grace);
                    return TimedOut;
                }
                Thread.Sleep(100);
            }
        }
        log.Information("running in the background: QEMU pid {Pid} ({PidFile:l}); console: {Console:l}; stop it with: ukl-link stop {PidFile:l}",
            run.Pid, pidPath, machine.ConsoleFile!, pidPath);
        return ExitCodes.Success;
    }
}
