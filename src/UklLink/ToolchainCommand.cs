using System.CommandLine;
using UklLink.Kernel;
using UklLink.Tooling;

namespace UklLink.Cli;

/// <summary><c>ukl-link toolchain</c>: prepare (and cache) the C library and the ukl-cc/ukl-c++ drivers; print how to use them.</summary>
public static class ToolchainCommand
{
    /// <summary>Exit status of <c>--print</c> when nothing is prepared yet (as kernel/build --print and build-musl --print).</summary>
    public const int NotPrepared = 3;

    public static Command Create(GlobalOptions global, TextWriter stdout, TextWriter stderr)
    {
        var libc = new Option<string?>("--libc")
        {
            Description = "The C library: musl (Debian's musl built for UKL; works with every kernel) or glibc (Debian's static " +
                "glibc and libstdc++; needs a red-zone-safe kernel). Default: $UKL_LIBC, else glibc when --kernel is red-zone safe, else musl",
            HelpName = "musl|glibc",
        };
        var kernel = new Option<string?>("--kernel", "-k")
        {
            Description = "The UKL kernel the programs will be linked into; only chooses the default --libc",
            HelpName = "VMLINUX",
        };
        var prefix = new Option<string?>("--prefix")
        {
            Description = "Install ukl-cc, ukl-c++ and their helpers into DIR (DIR/bin/ukl-cc ...) instead of the cache",
            HelpName = "DIR",
        };
        var print = new Option<bool>("--print")
        {
            Description = "Build nothing: print the toolchain if it was prepared before, else exit 3",
        };

        var command = new Command("toolchain", """
            Prepare what a UKL build needs and print how to use it: the C library (musl: Debian's source built with the UKL
            flags, cached under /var/cache/ukl-link/musl; glibc: Debian's static archives, checked) and the compiler drivers
            ukl-cc and ukl-c++, usable as CC and CXX for configure, CMake and make. Their link step makes an ordinary static
            executable (configure's checks run it) and writes PROGRAM.ukl-inputs, the inputs of that link for
            `ukl-link link @PROGRAM.ukl-inputs`. Progress goes to stderr; stdout gets shell assignments (eval them).

            Examples:
              ukl-link toolchain                               (musl; then: export CC=... CXX=... as printed)
              eval "$(ukl-link toolchain)" && ./configure --disable-shared && make
              ukl-link toolchain --libc glibc --prefix ~/.local
              ukl-link toolchain --print                       (exit 3 when not prepared yet)
            Exit status: 0 ready, 1 the build failed, 2 usage error or a missing prerequisite, 3 --print and not prepared.
            """)
        {
            libc, kernel, prefix, print,
        };

        command.SetAction(parse =>
        {
            using var log = global.CreateLogger(parse);
            var flavour = ChooseLibc(parse.GetValue(libc), parse.GetValue(kernel));
            var request = new ToolchainRequest(flavour, parse.GetValue(prefix), parse.GetValue(print));
            ToolchainInfo? info;
            try
            {
                info = ToolchainSetup.Prepare(request, line =>
                {
                    // The musl build's own lines already say where they come from.
                    if (line.StartsWith("build-musl:", StringComparison.Ordinal))
                    {
                        stderr.WriteLine(line);
                        stderr.Flush();
                    }
                    else
                    {
                        log.Information("toolchain: {Line:l}", line);
                    }
                });
            }
            catch (ToolchainException ex)
            {
                stderr.WriteLine($"ukl-link: error: toolchain: {ex.Message}");
                return ex.BuildFailed ? ExitCodes.Findings : ExitCodes.UsageOrIo;
            }
            if (info is null)
            {
                log.Information("toolchain: not prepared yet; run `ukl-link toolchain{Libc:l}` to build it", flavour == ToolchainLibc.Glibc ? " --libc glibc" : "");
                return NotPrepared;
            }
            stdout.Write(info.ShellEnvironment());
            log.Information("toolchain: ready; use it with: export CC={CC:l} CXX={CXX:l}", info.CC, info.CXX);
            return ExitCodes.Success;
        });
        return command;
    }

    private static ToolchainLibc ChooseLibc(string? option, string? kernelPath)
    {
        string? name = option ?? (Environment.GetEnvironmentVariable("UKL_LIBC") is { Length: > 0 } env ? env : null);
        if (name is not null)
        {
            return name switch
            {
                "musl" => ToolchainLibc.Musl,
                "glibc" => ToolchainLibc.Glibc,
                _ => throw new UsageException($"--libc takes musl or glibc, not '{name}'"),
            };
        }
        if (kernelPath is null)
            return ToolchainLibc.Musl;
        using var k = KernelImage.Load(kernelPath);
        return k.ReadDescriptor()?.RedZoneSafe == true ? ToolchainLibc.Glibc : ToolchainLibc.Musl;
    }
}
