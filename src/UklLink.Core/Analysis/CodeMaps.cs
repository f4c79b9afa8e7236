using UklLink.Inputs;

namespace UklLink.Analysis;

/// <summary>
/// The code maps of one validate or one link pass: each executable section is decoded once (<see cref="CodeMap"/>),
/// each object's references collected once (<see cref="ObjectReferences"/>), whichever consumer asks first. Not
/// thread-safe; the maps live as long as this value, or until <see cref="Release"/>.
/// </summary>
public sealed class CodeMaps
{
    private readonly Dictionary<ObjectFile, ObjectReferences> _references = new();
    private readonly Dictionary<InputSection, CodeMap> _maps = new();

    internal CodeMap For(InputSection section)
    {
        if (_maps.TryGetValue(section, out var map))
            return map;
        if (!_references.TryGetValue(section.File, out var refs))
            _references[section.File] = refs = new ObjectReferences(section.File);
        return _maps[section] = new CodeMap(section, refs);
    }

    /// <summary>Drops the maps of one object's sections once nothing will ask for them again (validate goes object by object).</summary>
    public void Release(ObjectFile obj)
    {
        _references.Remove(obj);
        foreach (var section in obj.AllSections)
        {
            if (_maps.Remove(section, out var map))
                map.ReturnBuffers();
        }
    }
}
