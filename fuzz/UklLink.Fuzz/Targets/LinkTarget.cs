namespace UklLink.Fuzz.Targets;

/// <summary>
/// A whole <c>link</c> run on a mutated object: resolution, syscall rewriting, layout, relocation and the writers
/// (vmlinux, map, depfile, bzImage), with the contract that nothing is left behind when it fails.
/// </summary>
public sealed class LinkTarget(Fixtures fixtures) : Target(fixtures)
{
    public override void Run(byte[] input)
    {
        string path = Write("input.o", input);
        string linked = Out("vmlinux.out"), map = Out("link.map"), dep = Out("link.d"), bz = Out("bzImage");
        var r = Invocation.Run(["link", "-q", "--kernel", Fixtures.Kernel, "-o", linked, "--map", map, "--depfile", dep,
            "--bzimage", bz, "--setup", Fixtures.Setup, path, Fixtures.Second], [path], [linked]);
        if (r.ExitCode == 0 && !(File.Exists(map) && File.Exists(dep) && File.Exists(bz)))
            throw new ContractViolation($"link of {path} exited 0 without writing the map, depfile and bzImage");
    }
}
