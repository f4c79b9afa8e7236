using System.Buffers.Binary;
using System.Diagnostics;
using UklLink.Cli;
using UklLink.Kernel;
using Xunit.Abstractions;

namespace UklLink.Kernel.Tests;

/// <summary>
/// `ukl-link link` against the real reference kernel: the linked vmlinux boots under QEMU (the app cannot run yet:
/// that is the runtime issue), the kernel reads the descriptor ukl-link wrote, and only the allowed bytes changed.
/// </summary>
public sealed class LinkBootTests(ITestOutputHelper output)
{
    private const string App = """
        extern int _printk(const char *, ...);
        static const char greeting[] = "hello from a linked app\n";
        __thread int counter = 3;
        int value = 7;
        int zeroed[64];
        static long sys_getpid(void)
        {
            long ret;
            __asm__ volatile("syscall" : "=a"(ret) : "a"(39L) : "rcx", "r11", "memory");
            return ret;
        }
        int _start(void) { counter++; zeroed[1] = value; return _printk(greeting) + (int)sys_getpid(); }
        """;

    private static string Work() => SampleBuild.Work("link-boot");

    private static string Compile(string dir, string source)
    {
        var c = Path.Combine(dir, "app.c");
        File.WriteAllText(c, source);
        var o = Path.Combine(dir, "app.o");
        var psi = new ProcessStartInfo("gcc", $"-O2 -g -mcmodel=kernel -mno-red-zone -fno-pic -fno-pie -fno-stack-protector -ffreestanding -c {c} -o {o}")
        { RedirectStandardError = true };
        using var p = Process.Start(psi)!;
        string err = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, err);
        return o;
    }

    private (int Code, string Err) Link(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = UklLinkCli.Run(args, stdout, stderr);
        output.WriteLine(stderr.ToString());
        return (code, stderr.ToString());
    }

    [Fact]
    public void LinkedKernelBootsAndReportsTheApplication()
    {
        var m = KernelBuild.Ensure();
        var dir = Work();
        var obj = Compile(dir, App);
        var linked = Path.Combine(dir, "vmlinux.app");
        var (code, err) = Link("link", "--kernel", m.Vmlinux, "-o", linked, obj);
        Assert.True(code == 0, err);

        using (var image = KernelImage.Load(linked))
        {
            var d = image.ReadBytes(image.DescriptorAddress!.Value, 192)!;
            Assert.Equal(SlotAbi.AppMagic, BinaryPrimitives.ReadUInt64LittleEndian(d));
            ulong entry = BinaryPrimitives.ReadUInt64LittleEndian(d.AsSpan(SlotAbi.Offsets.Entry));
            var slots = image.GetSlots(out _);
            var text = slots.Single(s => s.Name == SlotAbi.Text);
            Assert.InRange(entry, text.Start, text.End - 1);
            Assert.Equal(entry, image.GlobalSymbols["_start"].Value);
        }

        var marker = "UKL-LINKED-" + Guid.NewGuid().ToString("N")[..8];
        var script = $"#!/bin/sh\necho {marker}\nguest-exit 9\n";
        var r = QemuHarness.Boot(linked, script);
        output.WriteLine(r.Console);
        Assert.False(r.TimedOut, r.ToString());
        Assert.Contains(marker, r.Console);
        Assert.Equal(9, r.ExitStatus);
        Assert.Contains("ukl: application linked, entry", r.Console);
        Assert.DoesNotContain("ukl: no application linked", r.Console);
    }

    [Fact]
    public void OnlySlotsDescriptorAndSymbolTablesChange()
    {
        var m = KernelBuild.Ensure();
        var dir = Work();
        var obj = Compile(dir, App);
        var linked = Path.Combine(dir, "vmlinux.app");
        Assert.Equal(0, Link("link", "--kernel", m.Vmlinux, "-o", linked, obj).Code);

        // Every loaded byte outside the slots and the descriptor is identical (program headers name the loaded bytes).
        var before = File.ReadAllBytes(m.Vmlinux);
        var after = File.ReadAllBytes(linked);
        using var k = KernelImage.Load(m.Vmlinux);
        var allowed = k.GetSlots(out _).Select(s => (s.Start, s.End)).Append((k.DescriptorAddress!.Value, k.DescriptorAddress!.Value + 192)).ToList();
        int phoff = (int)BinaryPrimitives.ReadUInt64LittleEndian(before.AsSpan(0x20));
        int phnum = BinaryPrimitives.ReadUInt16LittleEndian(before.AsSpan(0x38));
        long changedOutside = 0, changedInside = 0;
        for (int i = 0; i < phnum; i++)
        {
            var ph = before.AsSpan(phoff + i * 56);
            if (BinaryPrimitives.ReadUInt32LittleEndian(ph) != 1)
                continue;
            ulong off = BinaryPrimitives.ReadUInt64LittleEndian(ph[8..]), vaddr = BinaryPrimitives.ReadUInt64LittleEndian(ph[16..]);
            ulong filesz = BinaryPrimitives.ReadUInt64LittleEndian(ph[32..]);
            for (ulong j = 0; j < filesz; j++)
            {
                if (before[(int)(off + j)] == after[(int)(off + j)])
                    continue;
                ulong a = vaddr + j;
                if (allowed.Any(r => a >= r.Item1 && a < r.Item2)) changedInside++; else changedOutside++;
            }
        }
        Assert.Equal(0, changedOutside);
        Assert.True(changedInside > 0);
        Assert.Equal(before.AsSpan(0, 0x28).ToArray(), after.AsSpan(0, 0x28).ToArray());
    }

    /// <summary>The whole chain without kbuild: link (with syscall rewriting) and pack, then boot the bzImage.</summary>
    [Fact]
    public void LinkedAndPackedBzImageBoots()
    {
        var m = KernelBuild.Ensure();
        var dir = Work();
        var obj = Compile(dir, App);
        var linked = Path.Combine(dir, "vmlinux.app");
        var bz = Path.Combine(dir, "bzImage.app");
        var map = Path.Combine(dir, "app.map");
        var (code, err) = Link("link", "--kernel", m.Vmlinux, "-o", linked, "--map", map, "--bzimage", bz, "--setup", m.SetupBin, obj);
        Assert.True(code == 0, err);
        Assert.Contains("Syscall rewrite: 1 sites found, 1 jump to a trampoline", File.ReadAllText(map));

        var marker = "UKL-PACKED-" + Guid.NewGuid().ToString("N")[..8];
        var r = QemuHarness.Boot(bz, $"#!/bin/sh\necho {marker}\nguest-exit 11\n");
        output.WriteLine(r.Console);
        Assert.False(r.TimedOut, r.ToString());
        Assert.Contains(marker, r.Console);
        Assert.Equal(11, r.ExitStatus);
        Assert.Contains("ukl: application linked, entry", r.Console);
    }
}
