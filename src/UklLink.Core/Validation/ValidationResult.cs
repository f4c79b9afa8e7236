using UklLink.Diagnostics;
using UklLink.Symbols;

namespace UklLink.Validation;

/// <summary>
/// What <see cref="Validator.Run"/> found, and the symbol resolution it judged undefined symbols on: validate --kernel
/// hands that resolution to the link passes (<see cref="Linking.Linker.Link(Linking.LinkOptions, Kernel.KernelImage, Inputs.InputSet, Resolution?)"/>),
/// so the inputs are resolved once.
/// </summary>
public sealed record ValidationResult(FindingBag Findings, Resolution Resolution);
