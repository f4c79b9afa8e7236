using System.Globalization;
using System.Text.RegularExpressions;
using UklLink.Cli;
using Xunit.Abstractions;

namespace UklLink.Kernel.Tests;

/// <summary>
/// Per-process .data/.bss (issue 14; kernel patch 0010, docs/kernel.md): samples/perproc, a musl program, runs as
/// /UKL and, built as an ordinary static executable on the same musl, natively in the same boot. Its output lines
/// are compared with the native run's and with the values the program must keep.
/// </summary>
public sealed partial class PerProcessDataTests(ITestOutputHelper output)
{
    private static readonly string Sample = Path.Combine(KernelBuild.RepoRoot, "samples", "perproc");

    /// <summary>The linked vmlinux and the native executable of samples/perproc.</summary>
    internal static (string Linked, string Native) Build(Action<string> log)
    {
        var m = KernelBuild.Ensure();
        var musl = MuslTests.MuslPrefix();
        var small = KernelBuild.Run(Path.Combine(KernelBuild.RepoRoot, "toolchain", "build-musl"),
            ["--model", "small"], TimeSpan.FromMinutes(15));
        Assert.True(small.Exit == 0, $"build-musl --model small failed ({small.Exit}): {small.Stderr}");
        var smallPrefix = small.Stdout.Trim().Split('\n')[^1].Trim();
        var dir = SampleBuild.Work("perproc");
        var objs = Path.Combine(dir, "obj");
        SampleBuild.Make("perproc", objs, $"MUSL={musl} MUSL_SMALL={smallPrefix}");
        var linked = Path.Combine(dir, "vmlinux.perproc");
        var stderr = new StringWriter();
        int code = UklLinkCli.Run(["link", "--kernel", m.Vmlinux, "-o", linked, "--map", Path.Combine(dir, "perproc.map"),
            Path.Combine(musl, "lib", "crt1.o"), Path.Combine(objs, "perproc.o"), Path.Combine(musl, "lib", "libc.a")],
            new StringWriter(), stderr);
        log(stderr.ToString());
        Assert.True(code == 0, stderr.ToString());
        return (linked, Path.Combine(objs, "perproc-native"));
    }

    // The machine ./test chose (TestMachine), unless a test needs its own number of CPUs.
    private static QemuOptions Options(string native, int? smp = null) => new()
    {
        TimeoutSeconds = 180,
        Smp = smp ?? TestMachine.Smp,
        ExtraFiles = [(SampleBuild.Placeholder, "/UKL"), (native, "/bin/perproc-native")],
    };

    private QemuResult Boot(string linked, string script, QemuOptions options)
    {
        var r = QemuHarness.Boot(linked, script, options);
        output.WriteLine(r.ToString());
        Assert.False(r.TimedOut, r.ToString());
        foreach (var bad in new[] { "Oops", "BUG:", "WARNING:", "double fault", "segfault", "Kernel panic" })
            Assert.False(r.Console.Contains(bad, StringComparison.Ordinal), $"'{bad}' in the console:\n{r}");
        return r;
    }

    /// <summary>The "perproc: " lines between two markers the script printed.</summary>
    private static List<string> Section(QemuResult r, string name)
    {
        var begin = r.Console.IndexOf($"BEGIN-{name}\n", StringComparison.Ordinal);
        var end = r.Console.IndexOf($"END-{name}", StringComparison.Ordinal);
        Assert.True(begin >= 0 && end > begin, $"no section {name} in the console:\n{r}");
        return r.Console[begin..end].Split('\n').Where(l => l.StartsWith("perproc: ", StringComparison.Ordinal)).ToList();
    }

    private static string Line(IEnumerable<string> lines, string check) =>
        lines.FirstOrDefault(l => l.StartsWith($"perproc: {check} ", StringComparison.Ordinal))
        ?? throw new Xunit.Sdk.XunitException($"no 'perproc: {check}' line in:\n{string.Join('\n', lines)}");

    private static readonly string[] ForkChecks = ["pristine", "fork-child", "fork", "fork-copy", "threads", "futex"];

    /// <summary>
    /// The issue's scenario: after fork the child's writes to a .data int, a .bss long, a __thread int and a .bss
    /// string do not reach the parent (5, 0, 11, '') nor the parent's later writes the child; a second child sees the
    /// parent's values at its fork; threads share the globals; a shared futex wake does not cross processes. Exactly
    /// what the native executable prints. The process's own page tables map its .data/.bss with 4 KiB non-global
    /// pages while the kernel's tables no longer map the slots; their memory went back to the page allocator.
    /// </summary>
    [Fact]
    public void ForkedParentAndChildKeepTheirOwnGlobalsLikeNative()
    {
        var (linked, native) = Build(s => output.WriteLine(s));
        var script = """
            #!/bin/sh
            mount -t proc proc /proc; mount -t sysfs sysfs /sys; mount -t devtmpfs devtmpfs /dev 2>/dev/null
            mount -t debugfs debugfs /sys/kernel/debug
            echo "MEMTOTAL-BEFORE $(grep MemTotal /proc/meminfo)"
            echo BEGIN-UKL; /UKL fork; echo "UKL-STATUS=$?"; echo END-UKL
            echo "MEMTOTAL-AFTER $(grep MemTotal /proc/meminfo)"
            echo BEGIN-NATIVE; /bin/perproc-native fork; echo "NATIVE-STATUS=$?"; echo END-NATIVE
            echo BEGIN-AGAIN; /UKL fork; echo "AGAIN-STATUS=$?"; echo END-AGAIN
            echo BEGIN-KERNEL-PTDUMP; cat /sys/kernel/debug/page_tables/kernel; echo END-KERNEL-PTDUMP
            guest-exit 0
            """;
        var r = Boot(linked, script, Options(native));
        var ukl = Section(r, "UKL");
        var nat = Section(r, "NATIVE");
        var again = Section(r, "AGAIN");

        Assert.Equal("perproc: fork ok parent data 5 bss 0 tls 11 str ''; child exit 0", Line(ukl, "fork"));
        Assert.Equal("perproc: fork-child ok child data 6 bss 77 tls 12 str 'child'; " +
                     "child-after-parent-write data 6 bss 77 tls 12 str 'child'", Line(ukl, "fork-child"));
        Assert.Equal("perproc: threads ok data 7 bss 88 str 'thread' main-tls 110 thread-tls 13", Line(ukl, "threads"));
        foreach (var check in ForkChecks)
        {
            Assert.Equal(Line(nat, check), Line(ukl, check));
            // A fresh exec starts from the linked .data and a zeroed .bss again.
            Assert.Equal(Line(nat, check), Line(again, check));
        }
        Assert.Contains("UKL-STATUS=0", r.Console);
        Assert.Contains("NATIVE-STATUS=0", r.Console);
        Assert.Contains("AGAIN-STATUS=0", r.Console);

        // The process maps its globals with its own 4 KiB pages: present, writable, NX, not global.
        var kernelRanges = Ptdump.Parse(r.Console[r.Console.IndexOf("BEGIN-KERNEL-PTDUMP", StringComparison.Ordinal)..]);
        foreach (var what in new[] { "data", "bss" })
        {
            var m = Regex.Match(Line(ukl, $"ptdump {what}"), @"^perproc: ptdump \w+ 0x([0-9a-f]+) (.*)$");
            Assert.True(m.Success, Line(ukl, $"ptdump {what}"));
            var addr = ulong.Parse(m.Groups[1].Value, NumberStyles.HexNumber);
            Assert.True(addr >= 0xffffffff80000000UL, $"{what} global at 0x{addr:x}, not in the kernel image");
            var own = Ptdump.Parse(m.Groups[2].Value);
            Assert.True(own.Count == 1 && own[0].Writable && !own[0].Executable && !own[0].Global &&
                        own[0].Line.EndsWith("pte", StringComparison.Ordinal), $"{what}: {m.Groups[2].Value}");
            // ... and the kernel's own page tables do not map it at all.
            Assert.DoesNotContain(kernelRanges, k => addr >= k.Start && addr < k.End);
        }

        // The slots' memory returned to the page allocator at boot (end of mark_rodata_ro), before init runs: the
        // one-time message cannot cut an application's line on the shared console.
        var freed = Regex.Match(r.Console, @"ukl: per-process \.data/\.bss: .* (\d+) KiB returned to the page allocator");
        Assert.True(freed.Success, "no per-process data line in the kernel log:\n" + r);
        var init = Regex.Match(r.Console, @"Run \S+ as init process");
        Assert.True(init.Success, "no 'Run ... as init process' line in the kernel log:\n" + r);
        Assert.True(freed.Index < init.Index, $"the per-process data line comes after '{init.Value}', not at boot:\n{r}");
        Assert.True(int.Parse(freed.Groups[1].Value) >= 6 * 1024, freed.Value);
        // MemTotal already counts them when init runs: beyond what mem_init found free ("Memory: NK/...") and what the
        // kernel's own "Freeing ... memory: NK" lines gave back, at least the 6 MiB of the slots. The first exec
        // frees nothing more.
        long Kb(string key) => long.Parse(Regex.Match(r.Console, key + @" MemTotal:\s+(\d+) kB").Groups[1].Value);
        var atMemInit = Regex.Match(r.Console, @"Memory: (\d+)K/\d+K available");
        Assert.True(atMemInit.Success, "no 'Memory: NK/MK available' line in the kernel log:\n" + r);
        long otherFreed = Regex.Matches(r.Console, @"Freeing [^\n]*memory: (\d+)K").Sum(m => long.Parse(m.Groups[1].Value));
        long beyond = Kb("MEMTOTAL-BEFORE") - long.Parse(atMemInit.Groups[1].Value) - otherFreed;
        Assert.True(beyond >= 6 * 1024,
            $"MemTotal {Kb("MEMTOTAL-BEFORE")} kB at init = {atMemInit.Groups[1].Value} kB at mem_init + {otherFreed} kB " +
            $"of 'Freeing' lines + only {beyond} kB");
        Assert.Equal(Kb("MEMTOTAL-BEFORE"), Kb("MEMTOTAL-AFTER"));
    }

    /// <summary>The value perproc's instance mode stores in its .data int for a name.</summary>
    private static int NameValue(string name)
    {
        long v = 0;
        foreach (var c in name) v = unchecked(v * 31 + c);
        return (int)(v & 0x7fffffff);
    }

    [GeneratedRegex(@"^STARTED (\S+) (\d+)$", RegexOptions.Multiline)]
    private static partial Regex Started();

    [GeneratedRegex(@"^EXITED (\S+) (\d+)$", RegexOptions.Multiline)]
    private static partial Regex Exited();

    /// <summary>
    /// Two and then ten /UKL processes at once, with different arguments and lifetimes: each keeps the globals it set
    /// (its name's value, its pid, its name) through its whole run while the others set theirs and exit; afterwards a
    /// fresh exec starts from the linked values.
    /// </summary>
    [Fact]
    public void TwoAndTenConcurrentInstancesKeepTheirOwnGlobals()
    {
        var (linked, native) = Build(s => output.WriteLine(s));
        var names = new List<(string Name, int Ms)> { ("alpha", 1500), ("beta", 600) };
        for (int i = 0; i < 10; i++) names.Add(($"inst{i}", 400 + 180 * i));
        var sb = new System.Text.StringBuilder("#!/bin/sh\nmount -t proc proc /proc; mount -t sysfs sysfs /sys; mount -t devtmpfs devtmpfs /dev 2>/dev/null\n");
        void Group(IEnumerable<(string Name, int Ms)> group)
        {
            // The STARTED lines go to a file and to the console after the waits, so that no console line of the
            // script races the instances' own output.
            foreach (var (name, ms) in group)
                sb.Append(CultureInfo.InvariantCulture, $"/UKL instance {name} {ms} & p_{name}=$!; echo \"STARTED {name} $p_{name}\" >> /started\n");
            foreach (var (name, _) in group)
                sb.Append(CultureInfo.InvariantCulture, $"wait $p_{name}; echo \"EXITED {name} $?\"\n");
            sb.Append("cat /started; rm /started\n");
        }
        Group(names.Take(2));
        Group(names.Skip(2));
        sb.Append("echo BEGIN-AFTER; /UKL instance last 100; echo END-AFTER\nguest-exit 0\n");
        var r = Boot(linked, sb.ToString(), Options(native));

        var pids = Started().Matches(r.Console).ToDictionary(m => m.Groups[1].Value, m => m.Groups[2].Value);
        var exits = Exited().Matches(r.Console).ToDictionary(m => m.Groups[1].Value, m => m.Groups[2].Value);
        var lines = r.Console.Split('\n');
        foreach (var (name, _) in names)
        {
            Assert.True(pids.ContainsKey(name) && exits.TryGetValue(name, out var status) && status == "0",
                $"{name}: not started or exit status not 0:\n{r}");
            var line = lines.FirstOrDefault(l => l.StartsWith($"perproc: instance ok {name} ", StringComparison.Ordinal));
            Assert.True(line is not null, $"no ok line of {name}:\n{r}");
            Assert.Matches($@"^perproc: instance ok {name} data {NameValue(name)} bss {pids[name]} tls {name.Length} " +
                           $@"str '{name}' checks \d+ bad 0$", line);
            // The pristine check of each instance ran before it wrote anything.
        }
        Assert.Equal(names.Count + 1, lines.Count(l => l == "perproc: pristine ok data 5 bss 0 tls 11 str ''"));
        Assert.Contains(Section(r, "AFTER"), l => l.StartsWith("perproc: instance ok last ", StringComparison.Ordinal));
    }

    [GeneratedRegex(@"^perproc: smp ok value (\d+) cpu (\d+)-(\d+) start_ms (\d+) end_ms (\d+) iterations (\d+) mismatches 0$",
        RegexOptions.Multiline)]
    private static partial Regex SmpLine();

    /// <summary>
    /// With two CPUs, two processes of the application run at the same time, one pinned to each CPU, each writing and
    /// reading its own values of the same globals for 3 s without a system call: neither ever sees the other's.
    /// The fork checks pass on two CPUs too.
    /// </summary>
    [Fact]
    public void TwoProcessesOnTwoCpusAtOnceKeepTheirOwnGlobals()
    {
        var (linked, native) = Build(s => output.WriteLine(s));
        var script = """
            #!/bin/sh
            mount -t proc proc /proc; mount -t sysfs sysfs /sys; mount -t devtmpfs devtmpfs /dev 2>/dev/null
            echo "CPUS $(grep -c ^processor /proc/cpuinfo)"
            /UKL smp 0 3000 111 & a=$!
            /UKL smp 1 3000 222 & b=$!
            wait $a; echo "A-STATUS=$?"; wait $b; echo "B-STATUS=$?"
            echo BEGIN-FORK; /UKL fork; echo "FORK-STATUS=$?"; echo END-FORK
            guest-exit 0
            """;
        var r = Boot(linked, script, Options(native, smp: 2));
        Assert.Contains("CPUS 2", r.Console);
        var runs = SmpLine().Matches(r.Console).ToDictionary(m => int.Parse(m.Groups[1].Value), m => m);
        Assert.True(runs.ContainsKey(111) && runs.ContainsKey(222), $"both smp lines expected:\n{r}");
        var a = runs[111];
        var b = runs[222];
        Assert.Equal("0", a.Groups[2].Value);
        Assert.Equal("1", b.Groups[2].Value);
        long Ms(Match m, int g) => long.Parse(m.Groups[g].Value);
        var overlap = Math.Min(Ms(a, 5), Ms(b, 5)) - Math.Max(Ms(a, 4), Ms(b, 4));
        output.WriteLine($"the two processes ran at the same time for {overlap} ms");
        Assert.True(overlap >= 1000, $"the runs overlap by {overlap} ms only:\n{a.Value}\n{b.Value}");
        Assert.Contains("A-STATUS=0", r.Console);
        Assert.Contains("B-STATUS=0", r.Console);
        Assert.Equal("perproc: fork ok parent data 5 bss 0 tls 11 str ''; child exit 0", Line(Section(r, "FORK"), "fork"));
        Assert.Contains("FORK-STATUS=0", r.Console);
    }
}
