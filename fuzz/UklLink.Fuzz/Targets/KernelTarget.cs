namespace UklLink.Fuzz.Targets;

/// <summary>
/// The kernel image reader (ELF executable, symbols, slots, descriptor) through every command that reads a kernel:
/// <c>validate --kernel</c>, <c>inspect</c>, <c>link</c> into it and <c>pack</c> it.
/// </summary>
public sealed class KernelTarget(Fixtures fixtures) : Target(fixtures)
{
    public override void Run(byte[] input)
    {
        string kernel = Write("vmlinux", input);
        Invocation.Run(["validate", "--kernel", kernel, Fixtures.App, Fixtures.Second], [kernel]);
        Invocation.Run(["inspect", kernel], [kernel]);
        string linked = Out("vmlinux.out");
        Invocation.Run(["link", "-q", "--kernel", kernel, "-o", linked, Fixtures.App, Fixtures.Second], [kernel], [linked]);
        string bz = Out("bzImage");
        Invocation.Run(["pack", "-q", "--kernel", kernel, "--setup", Fixtures.Setup, "-o", bz], [kernel], [bz]);
    }
}
