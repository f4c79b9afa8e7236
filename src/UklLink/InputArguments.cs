using System.CommandLine;
using Serilog;
using UklLink.CommandLine;

namespace UklLink.Cli;

/// <summary>
/// What happens to the command line before System.CommandLine parses it: <c>@FILE</c> response files are expanded
/// (gcc/ld rules, for every command), and for the commands that take link inputs, ld-style inputs (<c>-L</c>,
/// <c>-l</c>, groups, the options gcc passes ld) become plain paths in ld's order. Arguments after <c>--</c> are
/// the application's (<c>run</c>) and are never touched.
/// </summary>
public sealed class InputArguments
{
    /// <summary>Commands whose positional arguments are link inputs.</summary>
    private static readonly HashSet<string> TakeLinkInputs = ["link", "validate", "run", "image"];

    /// <summary>Commands that start the application: what follows <c>--</c> is its argv[1..].</summary>
    private static readonly HashSet<string> TakeApplicationArguments = ["run", "image"];

    private InputArguments(IReadOnlyList<string> args, LdExpansion? ld, IReadOnlyList<string> application)
    {
        Arguments = args;
        Ld = ld;
        ApplicationArguments = application;
    }

    public IReadOnlyList<string> Arguments { get; }

    /// <summary>For run and image: the application's arguments, everything after the first <c>--</c>, as given.</summary>
    public IReadOnlyList<string> ApplicationArguments { get; }

    /// <summary>The ld-style expansion, for the notes it leaves (null for commands without link inputs).</summary>
    public LdExpansion? Ld { get; }

    public static InputArguments Prepare(RootCommand root, IReadOnlyList<string> args)
    {
        var expanded = ResponseFile.Expand(args);
        int at = CommandIndex(root, expanded, out var command);
        if (command is null || !TakeLinkInputs.Contains(command.Name))
            return new InputArguments(expanded, null, []);
        List<string> application = [];
        if (TakeApplicationArguments.Contains(command.Name) && expanded.IndexOf("--") is int dashes and >= 0)
        {
            application = [.. expanded.Skip(dashes + 1)];
            expanded = [.. expanded.Take(dashes)];
        }

        var options = new Dictionary<string, bool>(StringComparer.Ordinal);
        foreach (var option in command.Options.Concat(root.Options.Where(o => o.Recursive)))
        {
            bool takesValue = option.Arity.MaximumNumberOfValues > 0 && option.ValueType != typeof(bool);
            options[option.Name] = takesValue;
            foreach (var alias in option.Aliases)
                options[alias] = takesValue;
        }
        (bool, bool) Classify(string token)
        {
            string name = token.Split('=', 2)[0];
            return options.TryGetValue(name, out bool takesValue) && (name == token || name.StartsWith("--", StringComparison.Ordinal))
                ? (true, takesValue)
                : (false, false);
        }

        var ld = LdCommandLine.Expand(expanded.Skip(at + 1).ToList(), Classify);
        return new InputArguments([.. expanded.Take(at + 1), .. ld.Arguments], ld, application);
    }

    /// <summary>Where the subcommand's name stands (after any global options), or -1.</summary>
    private static int CommandIndex(RootCommand root, IReadOnlyList<string> args, out Command? command)
    {
        command = null;
        for (int i = 0; i < args.Count; i++)
        {
            if (args[i] == "--")
                return -1;
            command = root.Subcommands.FirstOrDefault(c => c.Name == args[i]);
            if (command is not null)
                return i;
            if (args[i] == "--log-format")
                i++;
        }
        return -1;
    }

    /// <summary>Tells the user what ld options were dropped (one line) and, with -v, which archive each -l found.</summary>
    public void LogNotes(ILogger log)
    {
        if (Ld is null)
            return;
        if (Ld.Ignored.Count > 0)
            log.Information("note: ignored ld options that mean nothing for a UKL link: {Options:l}", string.Join(" ", Ld.Ignored));
        foreach (var (option, path) in Ld.Libraries)
            log.Debug("{Option:l} is {Path:l}", option, path);
    }
}
