using System.Reflection;

namespace UklLink.Linking;

/// <summary>linker-scripts/ukl-app.ld, embedded in the library so the tool works wherever it is installed.</summary>
public static class DefaultScript
{
    private static readonly Lazy<string> Content = new(() =>
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream(Linker.DefaultScriptName)
            ?? throw new InvalidOperationException("the default linker script is not embedded in UklLink.Core");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    });

    public static string Text => Content.Value;
}
