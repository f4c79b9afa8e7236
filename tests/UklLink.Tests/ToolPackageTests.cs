using System.Diagnostics;
using UklLink.Tests.Support;
using Xunit;

namespace UklLink.Tests;

/// <summary>`dotnet pack src/UklLink` gives a .NET tool that installs and runs (slow: one test packs and installs).</summary>
public class ToolPackageTests
{
    private static (int ExitCode, string Output) Run(string file, string workingDirectory, Dictionary<string, string>? env, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { WorkingDirectory = workingDirectory, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args)
            psi.ArgumentList.Add(a);
        foreach (var (k, v) in env ?? new())
            psi.Environment[k] = v;
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        p.WaitForExit();
        return (p.ExitCode, stdout.Result + stderr.Result);
    }

    [Fact]
    public void PackedToolInstallsAndLinksWithItsBundledScript()
    {
        string dir = Toolchain.NewWorkDirectory();
        string nupkgs = Path.Combine(dir, "nupkgs"), tools = Path.Combine(dir, "tools");
        // A package cache of its own, so an older UklLink.Tool of the same version cached elsewhere is not what runs.
        var env = new Dictionary<string, string> { ["NUGET_PACKAGES"] = Path.Combine(dir, "packages"), ["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1", ["DOTNET_NOLOGO"] = "1" };
        string project = Path.Combine(RepositoryPaths.Root, "src", "UklLink", "UklLink.csproj");
        // Release into its own output folder: the Debug build the tests run from is left alone.
        var pack = Run("dotnet", dir, null, "pack", project, "-c", "Release", "-o", nupkgs, "-nologo",
            $"-p:OutputPath={Path.Combine(dir, "bin")}/");
        Assert.True(pack.ExitCode == 0, pack.Output);
        string version = System.Xml.Linq.XDocument.Load(Path.Combine(RepositoryPaths.Root, "Directory.Build.props")).Descendants("Version").Single().Value;
        Assert.True(File.Exists(Path.Combine(nupkgs, $"UklLink.Tool.{version}.nupkg")), string.Join(", ", Directory.GetFiles(nupkgs)));

        var install = Run("dotnet", dir, env, "tool", "install", "--tool-path", tools, "--add-source", nupkgs, "UklLink.Tool", "--version", version);
        Assert.True(install.ExitCode == 0, install.Output);

        string ukl = Path.Combine(tools, "ukl-link");
        var v = Run(ukl, dir, null, "--version");
        Assert.True(v.ExitCode == 0, v.Output);
        Assert.Equal(version, v.Output.Trim());

        // The installed tool links with the linker script it carries (no repository checkout beside it).
        string obj = Toolchain.CompileC("void _start(void) { for (;;) ; }", Toolchain.UklFlags, "tool");
        var link = Run(ukl, dir, null, "link", "--kernel", FakeKernel.Build(1), "-o", Path.Combine(dir, "app.vmlinux"), obj);
        Assert.True(link.ExitCode == 0, link.Output);
        Assert.True(File.Exists(Path.Combine(dir, "app.vmlinux")));
    }
}
