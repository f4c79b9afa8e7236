namespace UklLink.Tests.Support;

/// <summary>Files of the repository the tests read in place (the default linker script).</summary>
public static class RepositoryPaths
{
    /// <summary>The nearest ancestor of the test binaries that holds linker-scripts/ukl-app.ld.</summary>
    public static string Root { get; } = FindRoot();

    public static string DefaultScript => Path.Combine(Root, "linker-scripts", "ukl-app.ld");

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "linker-scripts", "ukl-app.ld")))
                return dir.FullName;
        }
        throw new DirectoryNotFoundException($"no ancestor of {AppContext.BaseDirectory} contains linker-scripts/ukl-app.ld");
    }
}
