namespace UklLink.Linking;

public enum MapFormat { Text, Json }

/// <summary>Everything `ukl-link link` is asked to do.</summary>
public sealed record LinkOptions
{
    public required string KernelPath { get; init; }
    public required IReadOnlyList<string> Inputs { get; init; }
    /// <summary>The vmlinux to write; null runs every pass but writes nothing (validate --kernel).</summary>
    public required string? OutputPath { get; init; }

    /// <summary>Linker script; null means linker-scripts/ukl-app.ld shipped next to the tool.</summary>
    public string? ScriptPath { get; init; }

    /// <summary>Entry symbol; null means the script's ENTRY, else _start.</summary>
    public string? Entry { get; init; }

    public string? MapPath { get; init; }
    public MapFormat MapFormat { get; init; } = MapFormat.Text;

    public bool RewriteSyscalls { get; init; } = true;
    public bool StrictRewrite { get; init; }

    /// <summary>
    /// <c>--bypass</c>: sites whose system call number is a constant enter through the kernel's bypass entry for that
    /// number (<c>ukl_bypass_&lt;nr&gt;</c>, slot ABI feature bit 2) when it has one. A kernel without them gets the plain
    /// rewrite and a note (UKL030).
    /// </summary>
    public bool Bypass { get; init; }
}
