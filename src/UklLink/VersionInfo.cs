using System.Reflection;

namespace UklLink.Cli;

public static class VersionInfo
{
    public static string Current { get; } =
        (typeof(VersionInfo).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0")
        .Split('+')[0];
}
