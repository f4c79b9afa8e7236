namespace UklLink.Fuzz.Targets;

/// <summary>The ELF relocatable object reader and the per-object checks: <c>validate FILE.o</c>.</summary>
public sealed class ObjectTarget(Fixtures fixtures) : Target(fixtures)
{
    public override void Run(byte[] input)
    {
        string path = Write("input.o", input);
        Invocation.Run(["validate", path], [path]);
    }
}
