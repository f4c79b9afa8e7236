namespace UklLink.Tooling;

/// <summary>The C library a UKL toolchain compiles and links against.</summary>
public enum ToolchainLibc
{
    /// <summary>
    /// Debian's musl source built with the UKL flags (-mcmodel=kernel, no red zone, no PIC); objects compiled the
    /// same way. Works with every kernel.
    /// </summary>
    Musl,

    /// <summary>
    /// Debian's own glibc, libstdc++ and libgcc static archives with gcc's default flags: needs a red-zone-safe kernel
    /// (slot ABI v2 EventStack) and the glibc/C++ link support of issue 16.
    /// </summary>
    Glibc,
}
