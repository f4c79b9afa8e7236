namespace UklLink.Inputs;

/// <summary>
/// The application's inputs, read into the shared model. Keeps the files open (sections are stream views) until
/// disposed.
/// </summary>
public sealed class InputSet : IDisposable
{
    private readonly List<Stream> _streams = new();
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
            // Files are independent (each has its own stream), so they are read in parallel; the order of the
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
        var stream = InputFiles.OpenRead(path);
        Track(stream);
        var head = new byte[8];
        int n = stream.ReadAtLeast(head, 8, throwOnEndOfStream: false);
        if (ElfHeader.HasElfMagic(head.AsSpan(0, n)))
        {
            var header = ElfHeader.Read(stream, path);
            return IsAcceptable(header)
                ? new ObjectInput(ObjectFile.Load(stream, header, path, null))
                : new RejectedInput(path, null, header);
        }
        if (ArchiveReader.HasArchiveMagic(head.AsSpan(0, n)))
            return LoadArchive(stream, path, read);
        if (n == 0)
            throw new InputException(path, "file is empty");
        throw new InputException(path, "not an ELF object or ar archive" + NotAnObjectFix(path));
    }

    private ArchiveInput LoadArchive(Stream stream, string path, List<string> read)
    {
        var members = ArchiveReader.ReadMembers(stream, path);
        var objects = new List<ObjectFile>();
        var rejected = new List<RejectedInput>();
        bool thin = false;
        foreach (var m in members)
        {
            Stream memberStream;
            string where = $"{path}({m.Name})";
            if (m.ExternalPath is { } external)
            {
                thin = true;
                // Named as the archive was: relative to the working directory when the archive's path is relative.
                read.Add(Path.IsPathRooted(path) ? external : Path.GetRelativePath(Environment.CurrentDirectory, external));
                memberStream = InputFiles.OpenRead(external, $"{where}: thin archive member");
                Track(memberStream);
            }
            else
            {
                memberStream = new SliceStream(stream, m.Offset, m.Size);
            }
            var head = new byte[4];
            int n = memberStream.ReadAtLeast(head, 4, throwOnEndOfStream: false);
            if (!ElfHeader.HasElfMagic(head.AsSpan(0, n)))
                throw new InputException(where, "archive member is not an ELF object");
            var header = ElfHeader.Read(memberStream, where);
            if (IsAcceptable(header))
                objects.Add(ObjectFile.Load(memberStream, header, path, m.Name));
            else
                rejected.Add(new RejectedInput(path, m.Name, header));
        }
        return new ArchiveInput(path, thin, objects, rejected);
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

    private void Track(Stream stream)
    {
        lock (_streams)
            _streams.Add(stream);
    }

    private static bool IsAcceptable(ElfHeader h) =>
        h.Is64LittleEndian && h.Machine == ElfHeader.MachineX86_64 && h.Type == ElfHeader.TypeRelocatable;

    public void Dispose()
    {
        foreach (var s in _streams)
            s.Dispose();
        _streams.Clear();
    }
}
