namespace UklLink.Fuzz.Targets;

/// <summary>
/// A whole <c>validate</c> run with the kernel: the mutated object among good inputs (an object and an archive), the
/// link passes validate runs without writing, and the SARIF report.
/// </summary>
public sealed class ValidateTarget(Fixtures fixtures) : Target(fixtures)
{
    public override void Run(byte[] input)
    {
        string path = Write("input.o", input);
        Invocation.Run(["validate", "-v", "--kernel", Fixtures.Kernel, "--format", "sarif", path, Fixtures.Second, Fixtures.Library], [path]);
    }
}
