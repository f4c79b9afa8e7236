using LibObjectFile.Elf;

namespace UklLink.Inputs;

/// <summary>Hands a pre-checked ELF stream to LibObjectFile and turns its complaints into one-line input errors.</summary>
internal static class ElfReading
{
    public static ElfFile Read(Stream stream, string name)
    {
        stream.Position = 0;
        try
        {
            if (!ElfFile.TryRead(stream, out var elf, out var diagnostics, new ElfReaderOptions { UseSubStream = true }) || elf is null)
            {
                var messages = diagnostics?.Messages ?? new List<LibObjectFile.Diagnostics.DiagnosticMessage>();
                var errors = messages.Where(m => m.Kind == LibObjectFile.Diagnostics.DiagnosticKind.Error).ToList();
                string text = errors.Count > 0 ? errors[0].Message : messages.Count > 0 ? messages[0].Message : "unreadable";
                throw new InputException(name, $"corrupt ELF: {OneLine(text)}");
            }
            return elf;
        }
        catch (InputException)
        {
            throw;
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            throw new InputException(name, $"corrupt ELF: {OneLine(ex.Message)}");
        }
    }

    private static string OneLine(string s) => s.ReplaceLineEndings(" ").Trim();
}
