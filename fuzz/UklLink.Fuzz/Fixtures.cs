namespace UklLink.Fuzz;

/// <summary>The fixed inputs fuzz/make-seeds wrote (OUT/fixtures): what a target keeps while it mutates one file.</summary>
public sealed class Fixtures(string directory)
{
    public string Directory { get; } = System.IO.Path.GetFullPath(directory);

    public string Path(params string[] parts) => System.IO.Path.Combine([Directory, .. parts]);

    /// <summary>The stand-in kernel: small slots, descriptor, ukl_entry_SYSCALL_64, physical load addresses.</summary>
    public string Kernel => Path("vmlinux");

    /// <summary>An application object that links with <see cref="Second"/> into <see cref="Kernel"/> (defines _start).</summary>
    public string App => Path("app.o");

    public string Second => Path("second.o");
    public string Library => Path("lib.a");
    public string Setup => Path("setup.bin");
    public string Members => Path("members");
    public string Dwarf => Path("dwarf");
}
