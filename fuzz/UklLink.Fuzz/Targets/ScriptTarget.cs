namespace UklLink.Fuzz.Targets;

/// <summary>The linker script lexer, parser and layout: <c>link --script FILE</c> of a fixed application.</summary>
public sealed class ScriptTarget(Fixtures fixtures) : Target(fixtures)
{
    public override void Run(byte[] input)
    {
        string script = Write("input.ld", input);
        string linked = Out("vmlinux.out");
        Invocation.Run(["link", "-q", "--kernel", Fixtures.Kernel, "--script", script, "-o", linked, Fixtures.App, Fixtures.Second],
            [script], [linked]);
    }
}
