using UklLink.Inputs;

namespace UklLink.Rewrite;

/// <summary>
/// What a <see cref="RewriteRelocation"/> points at. The linker resolves it to an address S and applies the relocation
/// as usual (S + A for absolute types, S + A - P for PC-relative ones, with P the address of the patched field).
/// </summary>
public abstract record RewriteTarget;

/// <summary>An input symbol of the section's object (as in the original relocation): S is the symbol's address.</summary>
public sealed record SymbolTarget(InputSymbol Symbol) : RewriteTarget
{
    public override string ToString() => Symbol.DisplayName;
}

/// <summary>
/// A global symbol named by the rewriter rather than by the object (the alternate entry
/// <c>ukl_entry_SYSCALL_64</c>, which the kernel defines): S is that symbol's address after resolution.
/// </summary>
public sealed record NamedSymbolTarget(string Name) : RewriteTarget
{
    public override string ToString() => Name;
}

/// <summary>
/// A byte of the rewritten section itself: S is the address at which the linker placed the section, plus
/// <see cref="Offset"/>. Used to jump back after a trampoline and for RIP-relative operands and branches of moved
/// instructions that referred to the same section without a relocation.
/// </summary>
public sealed record SectionOffsetTarget(ulong Offset) : RewriteTarget
{
    public override string ToString() => $"section+0x{Offset:x}";
}

/// <summary>The start of trampoline <see cref="Index"/> of the same <see cref="SectionRewrite"/>: S is its address.</summary>
public sealed record TrampolineTarget(int Index) : RewriteTarget
{
    public override string ToString() => $"trampoline[{Index}]";
}

/// <summary>
/// One relocation of a rewritten section or of a trampoline: patch the field at <see cref="Offset"/> (relative to the
/// start of the section or trampoline that owns it) with relocation <see cref="Type"/> (an R_X86_64_* number)
/// against <see cref="Target"/> + <see cref="Addend"/>.
/// </summary>
public sealed record RewriteRelocation(ulong Offset, uint Type, RewriteTarget Target, long Addend)
{
    /// <summary>The original relocation this one keeps (unchanged or moved into a trampoline), if any.</summary>
    public InputRelocation? Original { get; init; }
}
