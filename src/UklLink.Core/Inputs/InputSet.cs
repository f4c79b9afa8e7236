namespace UklLink.Inputs;

/// <summary>
/// The application's inputs, read into the shared model. Keeps the files mapped (section contents are spans over
/// them) until disposed.
/// </summary>
public sealed class InputSet : IDisposable
{
    private readonly List<MappedFile> _mapped = new();
    private readonly List<InputFile> _files = new();

    public IReadOnlyList<InputFile> Files => _files;

    /// <summary>
    /// Every file that was read, in input order: each path as given, and after a thin archive the members it names
    /// (for `--depfile`).
    /// </summary>
    public IReadOnlyList<string> FilesRead { get; private set; } = Array.Empty<string>();

    /// <summary>Every object that was read: command-line objects and all archive members, in input order.</summary>
    public IEnumerable<ObjectFile> AllObjects => _files.SelectMany(f => f switch
    {
        ObjectInput o => new[] { o.Object },
        ArchiveInput a => a.Members,
        _ => Array.Empty<ObjectFile>(),
    });

    public IEnumerable<RejectedInput> Rejected => _files.SelectMany(f => f switch
    {
        RejectedInput r => new[] { r },
        ArchiveInput a => a.RejectedMembers,
        _ => Array.Empty<RejectedInput>(),
    });

    /// <summary>Reads every path; throws <see cref="InputException"/> for the first unreadable one.</summary>
    public static InputSet Load(IEnumerable<string> paths)
    {
        var set = new InputSet();
        var scripts = new List<string>();
        var list = InputScript.Expand(paths, scripts);
        var files = new InputFile?[list.Count];
        var errors = new Exception?[list.Count];
        var read = new List<string>[list.Count];
        try
        {
            // Files are independent (each has its own mapping), so they are read in parallel; the order of the
            // result, and which error is reported when several inputs are bad, stay those of the command line.
            Parallel.For(0, list.Count, i =>
            {
                try
                {
                    read[i] = new List<string> { list[i] };
                    files[i] = set.LoadOne(list[i], read[i]);
                }
                catch (Exception ex)
                {
                    errors[i] = ex;
                }
            });
            if (errors.FirstOrDefault(e => e is not null) is { } first)
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(first).Throw();
            set._files.AddRange(files!);
            set.FilesRead = scripts.Concat(read.SelectMany(r => r)).Distinct(StringComparer.Ordinal).ToList();
            return set;
        }
        catch
        {
            set.Dispose();
            throw;
        }
    }

    private InputFile LoadOne(string path, List<string> read)
    {
        var file = Track(MappedFile.Open(path));
        var head = file.All.Head(8);
        if (ElfHeader.HasElfMagic(head))
        {
            var elf = ElfImage.Read(file.All, path);
            return IsAcceptable(elf.Header)
                ? new ObjectInput(ObjectFile.Load(elf, path, null))
                : new RejectedInput(path, null, elf.Header);
        }
        if (ArchiveReader.HasArchiveMagic(head))
            return LoadArchive(file, path, read);
        if (head.Length == 0)
            throw new InputException(path, "file is empty");
        throw new InputException(path, "not an ELF object or ar archive" + NotAnObjectFix(path));
    }

    private ArchiveInput LoadArchive(MappedFile file, string path, List<string> read)
    {
        var members = ArchiveReader.ReadMembers(file.All, path);
        bool thin = members.Any(m => m.ExternalPath is not null);
        foreach (var m in members)
        {
            // Named as the archive was: relative to the working directory when the archive's path is relative.
            if (m.ExternalPath is { } external)
                read.Add(Path.IsPathRooted(path) ? external : Path.GetRelativePath(Environment.CurrentDirectory, external));
        }
        // Members are independent: decode them in parallel (a C library has a thousand), keeping their order and
        // reporting the first bad one in archive order.
        var loaded = new (ObjectFile? Object, RejectedInput? Rejected)[members.Count];
        var errors = new Exception?[members.Count];
        Parallel.For(0, members.Count, new ParallelOptions { MaxDegreeOfParallelism = members.Count < 16 ? 1 : -1 }, i =>
        {
            try
            {
                loaded[i] = LoadMember(file, path, members[i]);
            }
            catch (Exception ex)
            {
                errors[i] = ex;
            }
        });
        if (errors.FirstOrDefault(e => e is not null) is { } first)
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(first).Throw();
        return new ArchiveInput(path, thin, loaded.Select(l => l.Object).OfType<ObjectFile>().ToList(),
            loaded.Select(l => l.Rejected).OfType<RejectedInput>().ToList());
    }

    private (ObjectFile?, RejectedInput?) LoadMember(MappedFile archive, string path, ArchiveMember m)
    {
        string where = $"{path}({m.Name})";
        var region = m.ExternalPath is { } external
            ? Track(MappedFile.Open(external, $"{where}: thin archive member")).All
            : archive.Region((ulong)m.Offset, (ulong)m.Size);
        if (!ElfHeader.HasElfMagic(region.Head(4)))
            throw new InputException(where, "archive member is not an ELF object");
        var elf = ElfImage.Read(region, where);
        return IsAcceptable(elf.Header)
            ? (ObjectFile.Load(elf, path, m.Name), null)
            : (null, new RejectedInput(path, m.Name, elf.Header));
    }

    /// <summary>What the user most likely meant, from the file name.</summary>
    private static string NotAnObjectFix(string path) => Path.GetExtension(path).ToLowerInvariant() switch
    {
        ".c" or ".cc" or ".cpp" or ".cxx" or ".s" or ".sx" =>
            "; it is source code: compile it first (gcc -mcmodel=kernel -mno-red-zone -fno-pic -fno-pie -c)",
        ".ld" or ".lds" or ".x" => "; it looks like a linker script: pass it with --script",
        ".so" => "; ukl-link links statically: pass the library's .a archive",
        _ => " (inputs are relocatable objects from gcc -c or ld -r, and ar archives)",
    };

    private MappedFile Track(MappedFile file)
    {
        lock (_files)
            _mapped.Add(file);
        return file;
    }

    private static bool IsAcceptable(ElfHeader h) =>
        h.Is64LittleEndian && h.Machine == ElfHeader.MachineX86_64 && h.Type == ElfHeader.TypeRelocatable;

    public void Dispose()
    {
        lock (_files)
        {
            foreach (var m in _mapped)
                m.Dispose();
            _mapped.Clear();
        }
    }
}
