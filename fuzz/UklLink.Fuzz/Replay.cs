namespace UklLink.Fuzz;

/// <summary>Runs saved inputs (afl's crashes/ and hangs/, or a corpus) through a target outside afl.</summary>
public static class Replay
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(20);

    public static int Files(Target target, IEnumerable<string> files)
    {
        int bad = 0, count = 0;
        foreach (var file in files)
        {
            count++;
            string? problem = null;
            var thread = new Thread(() =>
            {
                try
                {
                    target.Run(File.ReadAllBytes(file));
                }
                catch (Exception ex)
                {
                    problem = ex is ContractViolation ? ex.Message : ex.ToString();
                }
            }, 16 * 1024 * 1024) { IsBackground = true };
            thread.Start();
            if (!thread.Join(Limit))
                problem = $"did not finish within {Limit.TotalSeconds} s (a hang)";
            if (problem is null)
                continue;
            bad++;
            Console.WriteLine($"{file}: {problem}");
            if (thread.IsAlive)
                break; // the hung run still owns the scratch directory
        }
        Console.WriteLine($"replayed {count} inputs, {bad} broke the contract");
        return bad == 0 ? 0 : 1;
    }
}
