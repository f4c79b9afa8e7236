namespace UklLink.Fuzz.Targets;

/// <summary>
/// The ar reader (GNU symbol index, long-name table, thin archives) and every member: <c>validate FILE.a</c>. The
/// members of the fixture archives sit next to the mutated one, so a thin archive's names still find their files.
/// </summary>
public sealed class ArchiveTarget : Target
{
    public ArchiveTarget(Fixtures fixtures) : base(fixtures)
    {
        foreach (var m in Directory.GetFiles(fixtures.Members))
            File.Copy(m, Path.Combine(Scratch, Path.GetFileName(m)));
    }

    public override void Run(byte[] input)
    {
        string path = Write("input.a", input);
        Invocation.Run(["validate", path], [path]);
    }
}
