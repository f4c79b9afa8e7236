using UklLink.Inputs;

namespace UklLink.Symbols;

/// <summary>The outcome of symbol resolution: which objects join the link and how every global name is bound.</summary>
public sealed class Resolution
{
    internal Resolution(IReadOnlyList<ObjectFile> included, IReadOnlyDictionary<string, InputSymbol> definitions,
        IReadOnlyList<UndefinedReference> undefined, IReadOnlyList<DuplicateDefinition> duplicates, IReadOnlySet<string> referenced)
    {
        Referenced = referenced;
        Included = included;
        Definitions = definitions;
        Undefined = undefined;
        Duplicates = duplicates;
    }

    /// <summary>Command-line objects and the archive members that were pulled in, in link order.</summary>
    public IReadOnlyList<ObjectFile> Included { get; }

    /// <summary>The application's winning definition of each global name.</summary>
    public IReadOnlyDictionary<string, InputSymbol> Definitions { get; }

    /// <summary>Strong references that nothing defines (neither the application, nor the kernel, nor the script).</summary>
    public IReadOnlyList<UndefinedReference> Undefined { get; }

    public IReadOnlyList<DuplicateDefinition> Duplicates { get; }

    /// <summary>Every name an included object references without defining it, weak references included.</summary>
    public IReadOnlySet<string> Referenced { get; }
}

/// <summary>A name nothing defines, with up to a few relocations that use it.</summary>
public sealed record UndefinedReference(string Name, IReadOnlyList<InputRelocation> ReferencedBy, int ReferenceCount);

public sealed record DuplicateDefinition(string Name, InputSymbol First, InputSymbol Second);
