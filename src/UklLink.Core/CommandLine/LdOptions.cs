namespace UklLink.CommandLine;

/// <summary>
/// The ld options ukl-link accepts among its inputs, so that a link line captured from a build (gcc's ld arguments,
/// a response file written by <c>ukl-cc</c>, <c>pkg-config --libs --static</c>) can be passed as it is. One table:
/// adding an option is one row.
/// </summary>
public static class LdOptions
{
    private const string NoDynamic = "ukl-link links static archives only";
    private const string FixedImage = "the application is linked at the kernel's fixed slot addresses";

    public static IReadOnlyList<LdOption> Table { get; } =
    [
        new(["-l", "--library"], LdValue.Required, LdOptionKind.Library, "archive from the search path"),
        new(["-L", "--library-path"], LdValue.Required, LdOptionKind.SearchDirectory, "archive search directory"),
        new(["-nostdlib"], LdValue.None, LdOptionKind.NoDefaultDirectories, "search only the -L directories"),
        new(["--start-group", "-(", "--end-group", "-)"], LdValue.None, LdOptionKind.Group,
            "ukl-link searches every archive again until nothing changes, as if all were one group"),

        new(["-static", "-Bstatic", "-dn", "-non_shared"], LdValue.None, LdOptionKind.Ignored, NoDynamic),
        new(["--as-needed", "--no-as-needed"], LdValue.None, LdOptionKind.Ignored, "there are no shared libraries to drop"),
        new(["-plugin", "--plugin", "-plugin-opt", "--plugin-opt"], LdValue.Required, LdOptionKind.Ignored,
            "no LTO plugin: UKL objects are compiled without -flto (ukl-cc adds -fno-lto)"),
        new(["--build-id"], LdValue.Optional, LdOptionKind.Ignored, "the kernel image keeps its own build id"),
        new(["-m"], LdValue.Required, LdOptionKind.Ignored, "x86-64 ELF is the only target",
            emulation => emulation == "elf_x86_64" ? null : $"-m {emulation}: ukl-link links x86-64 ELF objects only (elf_x86_64)"),
        new(["--hash-style"], LdValue.Required, LdOptionKind.Ignored, "there is no dynamic symbol table"),
        new(["--eh-frame-hdr"], LdValue.None, LdOptionKind.Ignored, "the linker script decides the unwind sections"),
        new(["-z"], LdValue.Required, LdOptionKind.Ignored, "the kernel sets the image's page protections"),
        new(["-O"], LdValue.Required, LdOptionKind.Ignored, "no output optimisation levels"),
        new(["--gc-sections", "--no-gc-sections", "--sort-common", "--relax", "--no-relax"], LdValue.None, LdOptionKind.Ignored,
            "ukl-link keeps every section of the inputs it links, in ld's default order"),
        new(["-pie", "--pic-executable", "-no-pie", "--no-pic-executable", "--no-dynamic-linker"], LdValue.None,
            LdOptionKind.Ignored, FixedImage),
        new(["-dynamic-linker", "--dynamic-linker", "-rpath", "-rpath-link", "--rpath-link"], LdValue.Required,
            LdOptionKind.Ignored, "there is no dynamic linker"),
        new(["-E", "--export-dynamic", "--no-export-dynamic", "--no-undefined", "--fatal-warnings", "--warn-common",
            "--no-warn-execstack", "--no-warn-rwx-segments", "-EL", "-X", "--discard-locals"], LdValue.None,
            LdOptionKind.Ignored, "no meaning for a link into a kernel image"),
        new(["-s", "--strip-all", "-S", "--strip-debug"], LdValue.None, LdOptionKind.Ignored,
            "ukl-link keeps the application's symbols and DWARF so gdb, addr2line and perf see it"),

        new(["--whole-archive", "--no-whole-archive"], LdValue.None, LdOptionKind.Refused,
            "ukl-link pulls in only the archive members a reference needs; pass the members you want as objects (ar x LIB.a)"),
        new(["-Bdynamic", "-dy", "-call_shared"], LdValue.None, LdOptionKind.Refused,
            $"{NoDynamic}: drop it and give the static archive (libNAME.a)"),
        new(["-shared", "-Bshareable"], LdValue.None, LdOptionKind.Refused,
            "a UKL application is one static image: build the program, not a shared library (configure --disable-shared)"),
        new(["-r", "-i", "--relocatable"], LdValue.None, LdOptionKind.Refused,
            "for a partial link use ld -r, then give its output to ukl-link"),
        new(["-Map"], LdValue.Required, LdOptionKind.Refused, "ukl-link writes its map with --map FILE"),
        new(["--sysroot"], LdValue.Required, LdOptionKind.Refused, "give the archives' paths, or -L DIR inside the sysroot"),
    ];

    /// <summary>ld's built-in search path on Debian x86-64 (<c>ld --verbose | grep SEARCH_DIR</c>), after the -L directories.</summary>
    public static IReadOnlyList<string> DefaultSearchDirectories { get; } =
    [
        "/usr/local/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu64",
        "/usr/local/lib64", "/lib64", "/usr/lib64", "/usr/local/lib", "/lib", "/usr/lib", "/usr/x86_64-linux-gnu/lib64",
        "/usr/x86_64-linux-gnu/lib",
    ];

    /// <summary>
    /// The option <paramref name="token"/> spells, with its value: from the token itself (<c>-lc</c>,
    /// <c>--library=c</c>) or the next argument (<c>-l c</c>; then <paramref name="usesNext"/> is true).
    /// Null when it is not an ld option in the table.
    /// </summary>
    public static LdOption? Match(string token, string? next, out string? value, out bool usesNext)
    {
        value = null;
        usesNext = false;
        // Whole-token spellings first, so that -static is not -s with a value, nor -rpath -r.
        foreach (var option in Table)
        {
            if (!option.Names.Contains(token))
                continue;
            if (option.Value == LdValue.Required)
            {
                if (next is null)
                    throw new LdCommandLineException($"{token} needs a value");
                value = next;
                usesNext = true;
            }
            return option;
        }
        foreach (var option in Table)
        {
            if (option.Value == LdValue.None)
                continue;
            foreach (var name in option.Names)
            {
                if (token.StartsWith(name + "=", StringComparison.Ordinal))
                {
                    value = token[(name.Length + 1)..];
                    return option;
                }
            }
        }
        foreach (var option in Table)
        {
            if (option.Value != LdValue.Required)
                continue;
            foreach (var name in option.Names)
            {
                if (name.Length == 2 && token.Length > 2 && token.StartsWith(name, StringComparison.Ordinal))
                {
                    value = token[2..];
                    return option;
                }
            }
        }
        return null;
    }
}
