using System.CommandLine;
using UklLink.Guest;

namespace UklLink.Cli;

/// <summary><c>ukl-link stop</c>: stop a guest that <c>ukl-link run --detach</c> left running.</summary>
public static class StopCommand
{
    public static Command Create(GlobalOptions global)
    {
        var signal = new Option<string>("--signal", "-s")
        {
            Description = "The signal the application gets first (then, after --timeout, QEMU is stopped)",
            HelpName = "NAME",
            DefaultValueFactory = _ => "TERM",
        };
        var timeout = new Option<int>("--timeout")
        {
            Description = "Seconds to wait for the application to exit before QEMU is stopped",
            HelpName = "SECONDS",
            DefaultValueFactory = _ => (int)RunCommand.Grace.TotalSeconds,
        };
        var pidFile = new Argument<string>("PIDFILE") { Description = "The --pid-file given to `ukl-link run --detach`" };
        var command = new Command("stop", """
            Stop a guest started with `ukl-link run --detach --pid-file PIDFILE`: the application gets SIGTERM (or --signal),
            the guest powers off when it exits (QEMU is stopped after --timeout otherwise), the run's files are removed
            (the console log stays), and the exit status is the application's. Also collects the status of a guest whose
            application already exited. (`kill $(cat PIDFILE)` stops QEMU at once instead, without the status.)

            Examples:
              ukl-link stop app.pid
              ukl-link stop --signal INT --timeout 30 app.pid
            Exit status: the application's; 2 not a pid file of ukl-link run; 125 the guest never reported a status.
            """)
        {
            signal, timeout, pidFile,
        };
        command.SetAction(parse =>
        {
            using var log = global.CreateLogger(parse);
            string name = parse.GetValue(signal)!.ToUpperInvariant();
            if (name.StartsWith("SIG", StringComparison.Ordinal))
                name = name[3..];
            if (name.Length == 0 || !name.All(char.IsAsciiLetterOrDigit))
                throw new UsageException($"--signal {parse.GetValue(signal)}: give a signal name such as TERM, INT or KILL");
            var run = DetachedRun.Open(parse.GetValue(pidFile)!);
            return run.Stop(log, TimeSpan.FromSeconds(Math.Max(0, parse.GetValue(timeout))), name);
        });
        return command;
    }
}
