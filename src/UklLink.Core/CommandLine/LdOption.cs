namespace UklLink.CommandLine;

/// <summary>What an ld option on ukl-link's command line (or in a response file) does.</summary>
public enum LdOptionKind
{
    /// <summary><c>-lNAME</c>, <c>-l:FILE</c>: an archive found on the search path, linked where it stands.</summary>
    Library,

    /// <summary><c>-L DIR</c>: a directory searched for every <c>-l</c>, in order, before the default ones.</summary>
    SearchDirectory,

    /// <summary><c>-nostdlib</c>: search only the <c>-L</c> directories.</summary>
    NoDefaultDirectories,

    /// <summary><c>--start-group</c>/<c>--end-group</c>: ukl-link already searches every archive until nothing changes.</summary>
    Group,

    /// <summary>Meaningless for a link into a prebuilt kernel's slots (what gcc passes ld by habit): noted and dropped.</summary>
    Ignored,

    /// <summary>Changes the link in a way ukl-link does not do: an error that says why and what to do instead.</summary>
    Refused,
}

/// <summary>Whether an option takes a value, and how it may be written.</summary>
public enum LdValue
{
    /// <summary>No value.</summary>
    None,

    /// <summary>A value in the next argument, after <c>=</c>, or (single-letter options) attached: <c>-lc</c>.</summary>
    Required,

    /// <summary>An optional value, only after <c>=</c> (<c>--build-id=sha1</c>).</summary>
    Optional,
}

/// <summary>One ld option ukl-link understands; <see cref="LdOptions.Table"/> lists them.</summary>
/// <param name="Names">Every spelling, e.g. <c>-L</c> and <c>--library-path</c>.</param>
/// <param name="Value">Whether and how it takes a value.</param>
/// <param name="Kind">What ukl-link does with it.</param>
/// <param name="Why">For refused options: the reason and what to do instead. For ignored ones: why it means nothing here.</param>
/// <param name="RefuseValue">Refuses some values of an otherwise ignored option (returns the reason), e.g. <c>-m elf_i386</c>.</param>
public sealed record LdOption(string[] Names, LdValue Value, LdOptionKind Kind, string Why, Func<string, string?>? RefuseValue = null);
