namespace UklLink.Fuzz.Targets;

/// <summary>The real-mode setup and bzImage reader: <c>inspect FILE</c> and <c>pack --setup FILE</c>.</summary>
public sealed class SetupTarget(Fixtures fixtures) : Target(fixtures)
{
    public override void Run(byte[] input)
    {
        string setup = Write("setup", input);
        Invocation.Run(["inspect", setup], [setup]);
        string bz = Out("bzImage");
        Invocation.Run(["pack", "-q", "--kernel", Fixtures.Kernel, "--setup", setup, "-o", bz], [setup], [bz]);
    }
}
