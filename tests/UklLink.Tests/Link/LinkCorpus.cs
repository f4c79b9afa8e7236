using System.Text;
using UklLink.Tests.Support;

namespace UklLink.Tests.Link;

/// <summary>One differential-test case: its name and its inputs in link order (objects first, then archives).</summary>
public sealed record LinkCase(string Name, IReadOnlyList<string> Inputs)
{
    public override string ToString() => Name;
}

/// <summary>
/// The corpus for the ukl-link vs GNU ld differential tests. Sources are in Link/Fixtures or generated here; every
/// object is compiled during the test run (and cached by <see cref="Toolchain"/>). Kernel symbols are named through
/// <see cref="TestKernel.Adapt"/> so the same sources link against the stand-in and the real kernel.
/// </summary>
public static class LinkCorpus
{
    /// <summary>UKL flags with unwind tables (.eh_frame), as C++ and most real code have them.</summary>
    public const string UklUnwindFlags = "-O2 -mcmodel=kernel -mno-red-zone -fno-pic -fno-pie -fno-stack-protector -ffreestanding";

    private const string PicBase = "-O2 -mno-red-zone -fno-stack-protector -ffreestanding -fno-asynchronous-unwind-tables";

    /// <summary>
    /// Debian's flags for distribution code without anything UKL-specific: gcc's defaults (PIE code), the stack
    /// protector dpkg-buildflags adds and -fcf-protection (endbr64, CET notes).
    /// </summary>
    public const string DistributionFlags = "-O2 -fstack-protector-strong -fcf-protection";

    private static string FixtureDirectory => Path.Combine(RepositoryPaths.Root, "tests", "UklLink.Tests", "Link", "Fixtures");

    private static string Fixture(string file) => File.ReadAllText(Path.Combine(FixtureDirectory, file));

    private static string C(TestKernel k, string file, string flags = Toolchain.UklFlags, string? name = null) =>
        Toolchain.CompileC(k.Adapt(Fixture(file)), flags, name ?? Path.GetFileNameWithoutExtension(file));

    private static string Source(TestKernel k, string source, string name, string flags = Toolchain.UklFlags) =>
        Toolchain.CompileC(k.Adapt(source), flags, name);

    private static string Cxx(TestKernel k, string file, string flags) =>
        Toolchain.Build(k.Adapt(Fixture(file)), ".cc", Path.GetFileNameWithoutExtension(file), (src, obj) => $"g++ {flags} -c {src} -o {obj}");

    private static string Asm(TestKernel k, string file) => Toolchain.Assemble(k.Adapt(Fixture(file)), Path.GetFileNameWithoutExtension(file));

    /// <summary>An archive of the members, in order (member names are the objects' file names).</summary>
    public static string Archive(string name, params string[] members)
    {
        string dir = Toolchain.NewWorkDirectory();
        string lib = Path.Combine(dir, name);
        Toolchain.Run($"ar rcs {lib} {string.Join(' ', members)}", dir);
        return lib;
    }

    /// <summary>A file of gcc's installation (crt files, libraries), as <c>gcc -print-file-name</c> finds it.</summary>
    public static string GccFile(string name) => GccFiles.GetOrAdd(name, n =>
    {
        string path = Toolchain.Run($"gcc -print-file-name={n}").Trim();
        return File.Exists(path) ? Path.GetFullPath(path) : throw new FileNotFoundException($"gcc has no {n} (install libc6-dev, libgcc-12-dev, libstdc++-12-dev)", n);
    });

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, string> GccFiles = new();

    /// <summary>
    /// The inputs gcc -static (or g++ -static) hands to ld around <paramref name="objects"/>, in its order, with the
    /// position-independent crtbeginS.o/crtendS.o instead of crtbeginT.o/crtend.o (those hold 32-bit absolute
    /// relocations that cannot reach the kernel's top 2 GiB; docs/linking.md).
    /// </summary>
    public static List<string> GccStaticInputs(IEnumerable<string> objects, bool cxx = false)
    {
        var inputs = new List<string> { GccFile("crt1.o"), GccFile("crti.o"), GccFile("crtbeginS.o") };
        inputs.AddRange(objects);
        if (cxx)
            inputs.AddRange([GccFile("libstdc++.a"), GccFile("libm.a")]);
        inputs.AddRange([GccFile("libgcc.a"), GccFile("libgcc_eh.a"), GccFile("libc.a"), GccFile("crtendS.o"), GccFile("crtn.o")]);
        return inputs;
    }

    /// <summary>A C program on Debian's glibc, compiled with the distribution's flags and linked as gcc -static links it.</summary>
    public static LinkCase GlibcProgram(TestKernel k) =>
        new(nameof(GlibcProgram), GccStaticInputs([C(k, "glibc_hello.c", DistributionFlags)]));

    /// <summary>A C++ program on Debian's libstdc++.a (iostream, exceptions, thread_local), linked as g++ -static links it.</summary>
    public static LinkCase CxxProgram(TestKernel k) =>
        new(nameof(CxxProgram), GccStaticInputs([Cxx(k, "cxx_program.cc", DistributionFlags)], cxx: true));

    /// <summary>
    /// IFUNCs called through PLT entries (forty, so ld's symbol-table order shows), one only behind a static pointer,
    /// one only through the GOT, one whose address is taken (pointer equality), a hidden one and a local one.
    /// </summary>
    public static LinkCase Ifuncs(TestKernel k) =>
        new(nameof(Ifuncs), [C(k, "ifunc_defs.c"), C(k, "ifunc_pie.c", PicBase + " -fPIE")]);

    /// <summary>.init/.fini pieces between crti.o and crtn.o, crtbeginS.o's tables, old-style .ctors/.dtors.</summary>
    public static LinkCase InitFini(TestKernel k) =>
        new(nameof(InitFini), [GccFile("crti.o"), GccFile("crtbeginS.o"), Asm(k, "initfini.s"), GccFile("crtendS.o"), GccFile("crtn.o")]);

    /// <summary>__start_/__stop_ symbols of sections named like C identifiers.</summary>
    public static LinkCase StartStop(TestKernel k) => new(nameof(StartStop), [C(k, "start_stop.c")]);

    public static IEnumerable<Func<TestKernel, LinkCase>> All =>
    [
        ManyFunctions, SwitchTables, FunctionPointerTables, MergedStrings, Tls, WeakAndHidden, CommonOnePerObject,
        CommonManyPerObject, ArchivesOnDemand, ArchiveCycle, CxxConstructorsAndExceptions, FunctionAndDataSections,
        PieAndPic, GotEntries, ConstructorTables, UnwindTables, MultiMegabyte, Ifuncs, InitFini, StartStop,
    ];

    /// <summary>Three objects with many functions and globals that call and point at each other and at the kernel.</summary>
    public static LinkCase ManyFunctions(TestKernel k) =>
        new(nameof(ManyFunctions), Enumerable.Range(0, 3).Select(i => Source(k, GenerateUnit(i, 3, 120), $"many{i}")).ToList());

    public static LinkCase SwitchTables(TestKernel k) => new(nameof(SwitchTables), [C(k, "switch.c")]);

    public static LinkCase FunctionPointerTables(TestKernel k) => new(nameof(FunctionPointerTables), [C(k, "fnptr.c")]);

    public static LinkCase MergedStrings(TestKernel k) =>
        new(nameof(MergedStrings), [C(k, "strings_a.c"), C(k, "strings_b.c")]);

    /// <summary>All four TLS models: local-exec, initial-exec (non-PIC), global-dynamic and local-dynamic (-fpic).</summary>
    public static LinkCase Tls(TestKernel k) => new(nameof(Tls),
    [
        C(k, "tls_main.c"),
        C(k, "tls_le.c", Toolchain.UklFlags + " -ftls-model=local-exec"),
        C(k, "tls_ie.c", Toolchain.UklFlags + " -ftls-model=initial-exec"),
        C(k, "tls_gd.c", PicBase + " -fpic -ftls-model=global-dynamic"),
        C(k, "tls_ld.c", PicBase + " -fpic -ftls-model=local-dynamic"),
    ]);

    public static LinkCase WeakAndHidden(TestKernel k) => new(nameof(WeakAndHidden), [C(k, "weak_a.c"), C(k, "weak_b.c")]);

    public static LinkCase CommonOnePerObject(TestKernel k) => new(nameof(CommonOnePerObject),
        new[] { "common_one_a.c", "common_one_b.c", "common_one_c.c", "common_one_d.c" }.Select(f => C(k, f, Toolchain.UklFlags + " -fcommon")).ToList());

    public static LinkCase CommonManyPerObject(TestKernel k) => new(nameof(CommonManyPerObject),
        new[] { "common_many_a.c", "common_many_b.c" }.Select(f => C(k, f, Toolchain.UklFlags + " -fcommon")).ToList());

    /// <summary>
    /// Two archives; members are pulled only when needed, including one needed by another pulled member. main.c refers
    /// to lib_c before lib_a, the reverse of the archive's symbol index order.
    /// </summary>
    public static LinkCase ArchivesOnDemand(TestKernel k)
    {
        string main = Source(k, """
            extern long lib_c(long), lib_a(long);
            extern long lib_weak_only(long) __attribute__((weak));
            long _start(void) { return lib_c(1) + lib_a(2) + (lib_weak_only ? lib_weak_only(3) : 0); }
            """, "ar_main");
        string a = Source(k, "extern long lib_d(long); long lib_a(long x) { return lib_d(x) + 1; } long lib_a_data = 11;", "member_a");
        string b = Source(k, "long lib_b(long x) { return x * 2; } long never_linked[64] = { 1 }; long lib_weak_only(long x) { return x; }", "member_b");
        string c = Source(k, "extern long lib_e(long); extern void kprint(const char *); long lib_c(long x) { kprint(\"c\"); return lib_e(x) + 3; }", "member_c");
        string d = Source(k, "const char lib_d_name[] = \"member d\"; long lib_d(long x) { return x + lib_d_name[0]; }", "member_d");
        string e = Source(k, "static long calls; long lib_e(long x) { return x + ++calls; }", "member_e");
        string f = Source(k, "long lib_f(long x) { return x; }", "member_f");
        return new(nameof(ArchivesOnDemand), [main, Archive("libone.a", a, b, c, d), Archive("libtwo.a", f, e)]);
    }

    /// <summary>a.a's member needs b.a's member, which needs another member of a.a.</summary>
    public static LinkCase ArchiveCycle(TestKernel k)
    {
        string main = Source(k, "extern long fa1(long); long _start(void) { return fa1(1); }", "cycle_main");
        string a1 = Source(k, "extern long fb1(long); long fa1(long x) { return fb1(x) + 1; }", "cycle_a1");
        string a2 = Source(k, "long fa2_data[4] = { 4, 3, 2, 1 }; long fa2(long x) { return x + fa2_data[x & 3]; }", "cycle_a2");
        string b1 = Source(k, "extern long fa2(long); long fb1(long x) { return fa2(x) * 2; }", "cycle_b1");
        return new(nameof(ArchiveCycle), [main, Archive("a.a", a1, a2), Archive("b.a", b1)]);
    }

    /// <summary>C++ with exceptions, static constructors (one with init_priority) and COMDAT groups in two objects.</summary>
    public static LinkCase CxxConstructorsAndExceptions(TestKernel k)
    {
        const string flags = UklUnwindFlags + " -fno-rtti -fno-threadsafe-statics";
        return new(nameof(CxxConstructorsAndExceptions),
            [Cxx(k, "cxx_a.cc", flags), Cxx(k, "cxx_b.cc", flags), C(k, "cxx_rt.c", UklUnwindFlags)]);
    }

    public static LinkCase FunctionAndDataSections(TestKernel k) =>
        new(nameof(FunctionAndDataSections), [C(k, "sections.c", Toolchain.UklFlags + " -ffunction-sections -fdata-sections")]);

    /// <summary>The same source as -fPIE and as -fPIC: GOTPCRELX loads, calls and arithmetic that ld relaxes.</summary>
    public static LinkCase PieAndPic(TestKernel k) => new(nameof(PieAndPic),
    [
        C(k, "pic_main.c"),
        C(k, "pic.c", PicBase + " -fPIE", "pic_pie"),
        Toolchain.CompileC(k.Adapt(Fixture("pic.c").Replace("pic_", "pic2_")), PicBase + " -fPIC", "pic_pic"),
        Toolchain.CompileC(k.Adapt(Fixture("pic.c").Replace("pic_", "pic3_")), PicBase + " -fPIC -Wa,-mrelax-relocations=no", "pic_norelax"),
    ]);

    /// <summary>GOT entries ld cannot relax away, GOT-relative relocations and _GLOBAL_OFFSET_TABLE_.</summary>
    /// <summary>SIZE32/SIZE64, PC64 and PC32 in data, 32S in data.</summary>
    public static LinkCase SizeAndPc64(TestKernel k) => new(nameof(SizeAndPc64), [Asm(k, "size_pc64.s")]);

    public static LinkCase GotEntries(TestKernel k) => new(nameof(GotEntries), [C(k, "pic_main.c"), Asm(k, "got.s"), C(k, "pic.c", PicBase + " -fPIC")]);

    /// <summary>.init_array/.fini_array priorities, old-style .ctors/.dtors and .preinit_array, across two objects.</summary>
    public static LinkCase ConstructorTables(TestKernel k) => new(nameof(ConstructorTables), [Asm(k, "ctors.s"), Asm(k, "ctors2.s")]);

    /// <summary>Objects with .eh_frame: ld merges their identical CIEs.</summary>
    public static LinkCase UnwindTables(TestKernel k) =>
        new(nameof(UnwindTables), Enumerable.Range(0, 3).Select(i => Source(k, GenerateUnit(i, 3, 20), $"unwind{i}", UklUnwindFlags)).ToList());

    /// <summary>About 5 MB of generated C in four objects (-O0 keeps the compile fast): 2-3 MB of code, tables, strings.</summary>
    public static LinkCase MultiMegabyte(TestKernel k) =>
        new(nameof(MultiMegabyte), Enumerable.Range(0, 4).Select(i => Source(k, GenerateBigUnit(i), $"big{i}", Toolchain.UklFlags.Replace("-O2", "-O0"))).ToList());

    /// <summary>
    /// A translation unit of <paramref name="count"/> functions that call each other and the next unit's functions,
    /// with initialised globals pointing into other units and the kernel. Unit 0 defines _start.
    /// </summary>
    public static string GenerateUnit(int unit, int units, int count)
    {
        var rng = new Lcg((ulong)(unit * 7919 + count));
        int next = (unit + 1) % units;
        var sb = new StringBuilder();
        sb.AppendLine("extern void kprint(const char *);\nextern long kernel_counter;");
        for (int i = 0; i < count; i++)
            sb.AppendLine($"long u{next}_f{i}(long); extern long u{next}_g{i};");
        for (int i = 0; i < count; i++)
        {
            sb.AppendLine($"long u{unit}_g{i} = {rng.Next(1000)};");
            sb.AppendLine($"long *u{unit}_p{i} = &u{next}_g{(i + 1) % count};");
            sb.AppendLine($"static const char u{unit}_s{i}[] = \"unit {unit} string {i % 17}\";");
            sb.AppendLine($"static long u{unit}_local{i}(long x) {{ return x * {rng.Next(100) + 1} + u{unit}_s{i}[x & 7]; }}");
            string call = i % 5 == 0 ? $"u{next}_f{(i + 3) % count}(x - 1)" : $"u{unit}_local{i}(x)";
            sb.AppendLine($"long u{unit}_f{i}(long x) {{ if (x <= 0) return kernel_counter; if (x == {i}) kprint(u{unit}_s{i}); return {call} + *u{unit}_p{i} + u{next}_g{i}; }}");
        }
        sb.AppendLine($"long (*const u{unit}_table[])(long) = {{ {string.Join(", ", Enumerable.Range(0, count).Select(i => $"u{unit}_f{i}"))} }};");
        if (unit == 0)
            sb.AppendLine("long _start(void) { long r = 0; for (int i = 0; i < " + count + "; i++) r += u0_table[i](i); return r; }");
        return sb.ToString();
    }

    /// <summary>About 1.25 MB of C: ~5000 functions, a table of pointers to them, a constant array and shared strings.</summary>
    public static string GenerateBigUnit(int unit)
    {
        const int functions = 5000;
        const int constants = 40000;
        var rng = new Lcg((ulong)unit + 1);
        var sb = new StringBuilder(1_300_000);
        sb.AppendLine($"extern void kprint(const char *);\nlong big{unit}_mix[64];");
        for (int i = 0; i < functions; i++)
        {
            string inner = i == 0 ? "x" : $"big{unit}_f{i - 1}(x ^ {rng.Next(1000)})";
            sb.AppendLine($"long big{unit}_f{i}(long x) {{ long y = x * {rng.Next(1000)} + {rng.Next(1000)}; if (y & {rng.Next(63) + 1}) y += big{unit}_mix[{rng.Next(64)}]; else y -= {inner}; if (y == {rng.Next(100000)}) kprint(\"big string {i % 700}\"); return y + \"tail {i % 300}\"[1]; }}");
        }
        sb.Append($"long (*const big{unit}_fns[])(long) = {{");
        for (int i = 0; i < functions; i++)
            sb.Append(i % 16 == 0 ? $"\n  big{unit}_f{i}," : $" big{unit}_f{i},");
        sb.AppendLine("\n};");
        sb.Append($"const unsigned long big{unit}_constants[] = {{");
        for (int i = 0; i < constants; i++)
            sb.Append(i % 8 == 0 ? $"\n  {rng.Next(1_000_000_000)}UL," : $" {rng.Next(1_000_000_000)}UL,");
        sb.AppendLine("\n};");
        if (unit == 0)
            sb.AppendLine($"long _start(void) {{ return big0_fns[3](big0_constants[5]); }}");
        return sb.ToString();
    }

    /// <summary>A tiny deterministic generator (the generated sources must not change between runs: they are cache keys).</summary>
    private sealed class Lcg(ulong seed)
    {
        private ulong _state = seed * 6364136223846793005UL + 1442695040888963407UL;

        public long Next(int bound)
        {
            _state = _state * 6364136223846793005UL + 1442695040888963407UL;
            return (long)((_state >> 33) % (ulong)bound);
        }
    }
}
