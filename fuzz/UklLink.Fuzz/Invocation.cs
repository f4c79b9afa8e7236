using UklLink.Cli;

namespace UklLink.Fuzz;

/// <summary>
/// One in-process run of the ukl-link command line and the contract every input must meet
/// (tests/UklLink.Tests/MalformedInputTests.cs checks the same): exit status 0, 1 or 2; no internal error, exception
/// text or stack trace; exit 2 is exactly one line "ukl-link: error: ..." naming the file; the outputs exist after
/// exit 0 and are absent (not partially written) otherwise, and no temporary file is left next to them.
/// </summary>
public static class Invocation
{
    /// <summary>More than this many bytes allocated by one run means a size from the input was trusted.</summary>
    private const long AllocationLimit = 512L * 1024 * 1024;

    public sealed record Result(int ExitCode, string Stdout, string Stderr);

    /// <param name="args">The command line.</param>
    /// <param name="blamed">Paths an exit-2 line may name: the mutated file (and for thin archives its members).</param>
    /// <param name="outputs">Files the command writes; deleted before the run.</param>
    public static Result Run(string[] args, IReadOnlyList<string> blamed, IReadOnlyList<string>? outputs = null)
    {
        outputs ??= [];
        foreach (var o in outputs)
            File.Delete(o);
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        long before = GC.GetAllocatedBytesForCurrentThread();
        int code = UklLinkCli.Run(args, stdout, stderr);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        var r = new Result(code, stdout.ToString(), stderr.ToString());
        string cmd = "ukl-link " + string.Join(' ', args);

        void Fail(string problem) => throw new ContractViolation($"{cmd}: {problem}\nexit {r.ExitCode}\n--- stdout ---\n{Tail(r.Stdout)}\n--- stderr ---\n{Tail(r.Stderr)}");

        if (code is not (0 or 1 or 2))
            Fail("exit status outside 0/1/2");
        string all = r.Stdout + r.Stderr;
        if (all.Contains("internal error", StringComparison.Ordinal))
            Fail("internal error");
        if (all.Contains("\n   at ", StringComparison.Ordinal) || all.Contains("Exception", StringComparison.Ordinal))
            Fail("exception text or stack trace");
        if (allocated > AllocationLimit)
            Fail($"allocated {allocated} bytes");
        if (code == 2)
        {
            var lines = r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            if (lines.Length != 1)
                Fail($"exit 2 with {lines.Length} lines on stderr instead of one");
            if (!lines[0].StartsWith("ukl-link: error: ", StringComparison.Ordinal))
                Fail("exit 2 without 'ukl-link: error: '");
            if (!blamed.Any(b => lines[0].Contains(b, StringComparison.Ordinal)))
                Fail($"the error line names none of: {string.Join(", ", blamed)}");
            if (r.Stdout.Length > 0)
                Fail("exit 2 with output on stdout");
        }
        foreach (var o in outputs)
        {
            bool exists = File.Exists(o);
            if (code != 0 && exists)
                Fail($"exit {code} left an output behind: {o}");
            if (code == 0 && !exists)
                Fail($"exit 0 but {o} was not written");
        }
        foreach (var dir in outputs.Select(Path.GetDirectoryName).Distinct())
        {
            var temps = Directory.GetFiles(dir!, ".*.tmp");
            if (temps.Length > 0)
                Fail($"temporary file left behind: {temps[0]}");
        }
        return r;
    }

    private static string Tail(string s) => s.Length <= 4000 ? s : "..." + s[^4000..];
}
