namespace UklLink.Fuzz;

/// <summary>
/// One fuzz target: takes afl's input bytes, writes them where ukl-link reads them (a scratch directory of this
/// process) and runs the surface under test, throwing <see cref="ContractViolation"/> when the contract breaks.
/// </summary>
public abstract class Target : IDisposable
{
    protected Target(Fixtures fixtures)
    {
        Fixtures = fixtures;
        Scratch = Directory.CreateTempSubdirectory($"ukl-fuzz-{GetType().Name}-{Environment.ProcessId}-").FullName;
    }

    protected Fixtures Fixtures { get; }

    /// <summary>This process's directory for the mutated input and the outputs.</summary>
    protected string Scratch { get; }

    public abstract void Run(byte[] input);

    /// <summary>Writes the input as <paramref name="name"/> in the scratch directory.</summary>
    protected string Write(string name, byte[] input)
    {
        string path = Path.Combine(Scratch, name);
        File.WriteAllBytes(path, input);
        return path;
    }

    protected string Out(string name) => Path.Combine(Scratch, name);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Scratch, recursive: true);
        }
        catch (IOException)
        {
        }
        GC.SuppressFinalize(this);
    }
}
