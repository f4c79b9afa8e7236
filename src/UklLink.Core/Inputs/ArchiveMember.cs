namespace UklLink.Inputs;

/// <summary>
/// One member of an <c>ar</c> archive: its bytes at <see cref="Offset"/> in the archive, or, in a thin archive,
/// the file <see cref="ExternalPath"/> (resolved against the archive's directory).
/// </summary>
public sealed record ArchiveMember(string Name, long Offset, long Size, string? ExternalPath);
