namespace UklLink.Kernel.Tests;

/// <summary>kernel/build answers from its cache once the kernel is built.</summary>
public sealed class BuildCacheTests
{
    [Fact]
    public void WarmBuildIsFastAndPrintsTheSameManifest()
    {
        var m = KernelBuild.Ensure();
        var (exit, stdout, stderr, elapsed) =
            KernelBuild.Run(KernelBuild.Script("build"), ["-q"], TimeSpan.FromMinutes(5));
        Assert.True(exit == 0, stderr);
        Assert.Equal(m.Path, stdout.Trim().Split('\n').Last());
        Assert.True(elapsed < TimeSpan.FromSeconds(10), $"warm kernel/build took {elapsed}");

        var print = KernelBuild.Run(KernelBuild.Script("build"), ["--print"], TimeSpan.FromMinutes(1));
        Assert.Equal(0, print.Exit);
        Assert.Equal(m.Path, print.Stdout.Trim());
    }

    [Fact]
    public void ManifestNamesExistingArtifacts()
    {
        var m = KernelBuild.Ensure();
        foreach (var f in new[] { m.Vmlinux, m.BzImage, m.SetupBin, m.SystemMap, m.Config })
            Assert.True(File.Exists(f), $"{f} missing");
        Assert.Equal(0x400000UL, Convert.ToUInt64(m.Values["UKL_TEXT_SLOT_SIZE"], 16));
        // bzImage: "HdrS" at 0x202.
        var head = new byte[0x206];
        using (var f = File.OpenRead(m.BzImage)) f.ReadExactly(head);
        Assert.Equal("HdrS"u8.ToArray(), head[0x202..0x206]);
    }
}
