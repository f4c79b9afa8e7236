using Serilog;
using UklLink.Guest;

namespace UklLink.Cli;

/// <summary>
/// A guest `ukl-link run --detach` left running: QEMU's pid (the pid file, which QEMU writes and removes), and the
/// run directory with the control socket, named in PIDFILE.ukl-run; the console in PIDFILE.console (or --console) and the
/// kernel's messages with the init's reports in PIDFILE.guest.log.
/// </summary>
public sealed class DetachedRun
{
    private DetachedRun(string pidFile, int? pid, string runDir)
    {
        PidFile = pidFile;
        Pid = pid;
        RunDirectory = runDir;
        Control = new GuestControl(Path.Combine(runDir, "ctl.sock"), GuestLog(pidFile));
    }

    public string PidFile { get; }

    /// <summary>QEMU's pid; null when QEMU has exited (it removes its pid file).</summary>
    public int? Pid { get; }

    public string RunDirectory { get; }

    public GuestControl Control { get; }

    public static string StateFile(string pidFile) => pidFile + ".ukl-run";

    /// <summary>The kernel's messages and the init's reports (the control channel's log); kept after stop, like the console.</summary>
    public static string GuestLog(string pidFile) => pidFile + ".guest.log";

    public static DetachedRun Open(string pidFile)
    {
        string state = StateFile(pidFile);
        if (!File.Exists(state))
            throw new GuestException(File.Exists(pidFile)
                ? $"{pidFile}: not written by `ukl-link run --detach` (no {state} next to it)"
                : $"{pidFile}: no such file (and no {state}): nothing to stop");
        string runDir = File.ReadAllText(state).Trim();
        int? pid = null;
        if (File.Exists(pidFile))
        {
            if (!int.TryParse(File.ReadAllText(pidFile).Trim(), out int p) || p <= 0)
                throw new GuestException($"{pidFile}: does not hold a process id");
            pid = p;
        }
        return new DetachedRun(pidFile, pid, runDir);
    }

    /// <summary>QEMU still runs this guest (the pid's command line names this run's directory, so a reused pid is not it).</summary>
    public bool Alive
    {
        get
        {
            if (Pid is not int pid)
                return false;
            try
            {
                return File.ReadAllText($"/proc/{pid}/cmdline").Contains(RunDirectory, StringComparison.Ordinal);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                return false;
            }
        }
    }

    /// <summary>
    /// Sends the application SIGTERM (unless it already exited), waits up to <paramref name="grace"/> for the guest to
    /// stop, then kills QEMU; removes the run's files; returns the application's status (125 when it never reported one).
    /// </summary>
    public int Stop(ILogger log, TimeSpan grace, string signal = "TERM")
    {
        if (Alive && Control.Read().ExitStatus is null && !Control.TrySignal(signal))
            log.Warning("the guest's control channel is not reachable; stopping QEMU");
        var deadline = DateTime.UtcNow + grace;
        while (Alive && DateTime.UtcNow < deadline)
            Thread.Sleep(100);
        if (Alive)
        {
            log.Warning("the guest did not stop within {Seconds} s; killing QEMU (pid {Pid})", (int)grace.TotalSeconds, Pid);
            try
            {
                System.Diagnostics.Process.GetProcessById(Pid!.Value).Kill();
            }
            catch (Exception ex) when (ex is ArgumentException or InvalidOperationException)
            {
            }
            for (int i = 0; i < 50 && Alive; i++)
                Thread.Sleep(100);
        }
        var report = Control.Read();
        Control.Dispose();
        Directory.Delete(RunDirectory, recursive: true);
        File.Delete(StateFile(PidFile));
        File.Delete(PidFile);
        if (report.ExitStatus is int status)
        {
            log.Information("the application exited with status {Status}", status);
            return status;
        }
        log.Error("the guest stopped without the application's status (see the console log)");
        return RunCommand.GuestFailed;
    }
}
