using System.ComponentModel;
using System.Diagnostics;

namespace UklLink.Tooling;

/// <summary>What a finished external program gave back.</summary>
public sealed record CommandResult(int ExitCode, string Stdout, string Stderr);

/// <summary>
/// Runs an external program to completion (gcc, the musl build), handing each line it writes on stderr to a callback
/// as it comes, so long steps show their progress.
/// </summary>
public static class ExternalCommand
{
    public static CommandResult Run(string file, IEnumerable<string> args, Action<string>? stderrLine = null,
        IReadOnlyDictionary<string, string>? environment = null, string? workingDirectory = null, string? stdin = null)
    {
        var psi = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        if (workingDirectory is not null)
            psi.WorkingDirectory = workingDirectory;
        foreach (var a in args)
            psi.ArgumentList.Add(a);
        foreach (var (k, v) in environment ?? new Dictionary<string, string>())
            psi.Environment[k] = v;

        Process process;
        try
        {
            process = Process.Start(psi) ?? throw new ToolchainException($"{file}: could not be started");
        }
        catch (Win32Exception ex)
        {
            throw new ToolchainException($"{file}: cannot run it ({ex.Message}); is it installed?");
        }
        using (process)
        {
            var stderr = new System.Text.StringBuilder();
            process.ErrorDataReceived += (_, e) =>
            {
                if (e.Data is null)
                    return;
                lock (stderr)
                    stderr.AppendLine(e.Data);
                stderrLine?.Invoke(e.Data);
            };
            process.BeginErrorReadLine();
            var stdout = process.StandardOutput.ReadToEndAsync();
            if (stdin is not null)
                process.StandardInput.Write(stdin);
            process.StandardInput.Close();
            process.WaitForExit();
            return new CommandResult(process.ExitCode, stdout.Result, stderr.ToString());
        }
    }
}
