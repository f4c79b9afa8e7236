using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace UklLink.Boot;

/// <summary>
/// The loader stub at the start of the protected-mode part, assembled with Iced. It replaces the kernel's
/// decompressor: it builds identity page tables for the low 4 GiB in a scratch area past the kernel's memory image,
/// switches to 64-bit mode, copies each PT_LOAD from the image to its physical address (overlap-safe), zeroes each
/// segment's p_memsz tail, fills the slot tails the image left out (0xCC or 0) and jumps to startup_64 with
/// %rsi = boot_params.
/// <list type="bullet">
/// <item>32-bit entry (offset 0): protected mode, paging off, %esi = boot_params (what the real-mode setup or a
/// 32-bit boot protocol loader provides). It uses boot_params.scratch as a 4-byte stack to find its own address.</item>
/// <item>64-bit entry (offset 0x200): long mode, %rsi = boot_params, identity map of at least
/// [load, load + init_size). It first builds temporary tables right after the loaded image (inside that range), then
/// the final ones. It halts if entered with 5-level paging (XLF_5LEVEL is not set).</item>
/// </list>
/// Both entries copy the mover (position-independent 64-bit code with its GDT and segment table) into the scratch
/// area and continue there, so the copy may overwrite the image the stub was loaded from.
/// </summary>
public static class LoaderStub
{
    /// <summary>Version of the stub's code, shown in the marker and by inspect.</summary>
    public const int Version = 1;

    public const string MarkerPrefix = "ukl-link boot stub ";

    private const int KernelCs = 0x10;
    private const int KernelDs = 0x18;
    private const int BootParamsScratch = 0x1E4;
    private const uint Efer = 0xC000_0080;

    /// <summary>The stub's three pieces, each to be placed at its offset in the protected-mode part.</summary>
    public sealed record Code(byte[] Entry32, byte[] Entry64, byte[] Mover);

    public static Code Assemble(BootImageLayout layout)
    {
        var (mover, gdtOffset, gdtrOffset, moverEntry) = AssembleMover(layout);
        if (mover.Length > BootImageLayout.MoverLimit)
            throw new InvalidOperationException($"mover is {mover.Length} bytes, more than its 0x{BootImageLayout.MoverLimit:x}-byte budget");
        var constants = new Constants(
            PmSize: checked((int)layout.ProtectedModeSize),
            KernelEndAligned: layout.KernelEndAligned,
            GdtOffset: gdtOffset,
            GdtrOffset: gdtrOffset,
            MoverEntry: moverEntry);
        var entry32 = AssembleEntry32(constants);
        if (entry32.Length > BootImageLayout.MarkerOffset)
            throw new InvalidOperationException($"32-bit entry is {entry32.Length} bytes, more than 0x{BootImageLayout.MarkerOffset:x}");
        var entry64 = AssembleEntry64(constants);
        if (entry64.Length > BootImageLayout.MoverOffset - BootImageLayout.Entry64Offset)
            throw new InvalidOperationException($"64-bit entry is {entry64.Length} bytes, more than 0x200");
        return new Code(entry32, entry64, mover);
    }

    private sealed record Constants(int PmSize, uint KernelEndAligned, int GdtOffset, int GdtrOffset, int MoverEntry);

    /// <summary>
    /// The mover, assembled at offset 0 of its own copy. Offset 0 is the entry from 32-bit code (zero-extends
    /// %ebp → %r15 = boot_params, %ebx = load address); <c>moverEntry</c> is the entry from 64-bit code
    /// (%r15, %rbx already set). Then: three passes over the segment table and the jump to the kernel.
    /// </summary>
    private static (byte[] Code, int GdtOffset, int GdtrOffset, int MoverEntry) AssembleMover(BootImageLayout layout)
    {
        var a = new Assembler(64);
        var mover = a.CreateLabel("mover");
        var table = a.CreateLabel("table");
        var fills = a.CreateLabel("fills");
        var gdt = a.CreateLabel("gdt");
        var gdtr = a.CreateLabel("gdtr");
        int n = layout.Pieces.Count;
        int m = layout.Fills.Count;
        // Table entries are 32 bytes (shl 5 below). Copies: source offset from the load address, destination, length, 0.
        // Fills: destination, length, the fill byte repeated 8 times, 0.

        // From the 32-bit entry: the upper halves of the registers are undefined after the mode switch.
        a.mov(r15d, ebp);
        a.mov(ebx, ebx);

        a.Label(ref mover);
        a.mov(eax, KernelDs);
        a.mov(ds, ax);
        a.mov(es, ax);
        a.mov(ss, ax);
        a.cld();
        a.lea(r12, __[table]);

        // Pass 1: segments whose destination is above their source, last to first, each copied backwards.
        var p1 = a.CreateLabel("p1");
        var p1Done = a.CreateLabel("p1done");
        a.mov(r14d, n);
        a.Label(ref p1);
        a.test(r14, r14);
        a.jz(p1Done);
        a.dec(r14);
        a.mov(rax, r14);
        a.shl(rax, 5);
        a.lea(r8, __[r12 + rax]);
        a.mov(rsi, __qword_ptr[r8]);
        a.add(rsi, rbx);
        a.mov(rdi, __qword_ptr[r8 + 8]);
        a.cmp(rsi, rdi);
        a.jae(p1);
        a.mov(rcx, __qword_ptr[r8 + 16]);
        a.mov(rdx, rcx);
        a.lea(rsi, __[rsi + rcx - 1]);
        a.lea(rdi, __[rdi + rcx - 1]);
        a.and(rcx, 7);
        a.std();
        a.rep.movsb();
        a.sub(rsi, 7);
        a.sub(rdi, 7);
        a.mov(rcx, rdx);
        a.shr(rcx, 3);
        a.rep.movsq();
        a.cld();
        a.jmp(p1);
        a.Label(ref p1Done);

        // Pass 2: segments whose destination is below their source, first to last, each copied forwards.
        var p2 = a.CreateLabel("p2");
        var p2Done = a.CreateLabel("p2done");
        a.xor(r14d, r14d);
        a.Label(ref p2);
        a.cmp(r14d, n);
        a.jae(p2Done);
        a.mov(rax, r14);
        a.shl(rax, 5);
        a.lea(r8, __[r12 + rax]);
        a.inc(r14d);
        a.mov(rsi, __qword_ptr[r8]);
        a.add(rsi, rbx);
        a.mov(rdi, __qword_ptr[r8 + 8]);
        a.cmp(rsi, rdi);
        a.jbe(p2);
        a.mov(rcx, __qword_ptr[r8 + 16]);
        a.mov(rdx, rcx);
        a.shr(rcx, 3);
        a.rep.movsq();
        a.mov(rcx, rdx);
        a.and(rcx, 7);
        a.rep.movsb();
        a.jmp(p2);
        a.Label(ref p2Done);

        // Pass 3: after all copies, fill each p_memsz tail with zeros and each omitted slot tail with its fill byte.
        var p3 = a.CreateLabel("p3");
        var p3Done = a.CreateLabel("p3done");
        a.lea(r12, __[fills]);
        a.xor(r14d, r14d);
        a.Label(ref p3);
        a.cmp(r14d, m);
        a.jae(p3Done);
        a.mov(rax, r14);
        a.shl(rax, 5);
        a.lea(r8, __[r12 + rax]);
        a.inc(r14d);
        a.mov(rdi, __qword_ptr[r8]);
        a.mov(rcx, __qword_ptr[r8 + 8]);
        a.mov(rax, __qword_ptr[r8 + 16]);
        a.mov(rdx, rcx);
        a.shr(rcx, 3);
        a.rep.stosq();
        a.mov(rcx, rdx);
        a.and(rcx, 7);
        a.rep.stosb();
        a.jmp(p3);
        a.Label(ref p3Done);

        // Enter startup_64: 64-bit mode, identity map, %rsi = boot_params.
        a.mov(rsi, r15);
        a.mov(rax, layout.Kernel.EntryPhysical);
        a.xor(ebx, ebx);
        a.xor(ebp, ebp);
        a.xor(edi, edi);
        a.jmp(rax);

        a.Label(ref table);
        foreach (var p in layout.Pieces)
        {
            a.dq((ulong)(BootImageLayout.PayloadOffset + p.PayloadOffset), p.PhysicalAddress);
            a.dq(p.Length, 0UL);
        }
        a.dq(0UL); // end marker (the loops count; it also keeps the next label off an empty table)
        a.Label(ref fills);
        foreach (var f in layout.Fills)
        {
            a.dq(f.PhysicalAddress, f.Length);
            a.dq(0x0101_0101_0101_0101UL * f.Fill, 0UL);
        }
        a.dq(0UL);

        // GDT: null, null, __KERNEL_CS (64-bit code), __KERNEL_DS (flat data), as the boot protocol's selectors.
        a.Label(ref gdt);
        a.dq(0UL, 0UL);
        a.dq(0x00AF_9A00_0000_FFFFUL, 0x00CF_9200_0000_FFFFUL);
        a.Label(ref gdtr);
        a.dw((ushort)(4 * 8 - 1));
        a.dq(0UL); // base, set at run time

        var result = Encode(a, 0);
        return (result.Bytes, (int)result.Result.GetLabelRIP(gdt), (int)result.Result.GetLabelRIP(gdtr), (int)result.Result.GetLabelRIP(mover));
    }

    /// <summary>
    /// 32-bit entry. In: protected mode, paging off, flat __BOOT_CS/__BOOT_DS, %esi = boot_params, interrupts off.
    /// </summary>
    private static byte[] AssembleEntry32(Constants c)
    {
        // Two passes: the first finds where the call's return address lands, the second subtracts it.
        int nextOffset = 0;
        for (int pass = 0; pass < 2; pass++)
        {
            var (bytes, next) = Entry32(c, nextOffset);
            if (next == nextOffset)
                return bytes;
            nextOffset = next;
        }
        var (final, check) = Entry32(c, nextOffset);
        if (check != nextOffset)
            throw new InvalidOperationException("32-bit entry did not converge");
        return final;
    }

    private static (byte[] Bytes, int NextOffset) Entry32(Constants c, int nextOffset)
    {
        var a = new Assembler(32);
        var next = a.CreateLabel();
        var xok = a.CreateLabel();
        var pd = a.CreateLabel();

        a.cli();
        a.cld();
        a.mov(ebp, esi);
        // boot_params.scratch (4 bytes at 0x1E4) is the kernel's documented tiny stack for exactly this call/pop.
        a.lea(esp, __[esi + BootParamsScratch + 4]);
        a.call(next);
        a.Label(ref next);
        a.pop(ebx);
        a.sub(ebx, nextOffset); // %ebx = load address of the protected-mode part

        EmitScratchBase32(a, c, xok);
        a.mov(edx, edi); // %edx = scratch base X

        // Page tables at X: PML4 → PDPT → four PDs of 2 MiB pages = identity map of [0, 4 GiB).
        a.xor(eax, eax);
        a.mov(ecx, (int)(BootImageLayout.PageTablesSize / 4));
        a.rep.stosd();
        a.lea(eax, __[edx + 0x1003]);
        a.mov(__dword_ptr[edx], eax);
        a.lea(eax, __[edx + 0x2003]);
        for (int i = 0; i < 4; i++)
        {
            a.mov(__dword_ptr[edx + 0x1000 + i * 8], eax);
            a.add(eax, 0x1000);
        }
        a.lea(edi, __[edx + 0x2000]);
        a.mov(eax, 0x83); // present, writable, 2 MiB page
        a.mov(ecx, 2048);
        a.Label(ref pd);
        a.mov(__dword_ptr[edi], eax);
        a.add(eax, 0x200000);
        a.add(edi, 8);
        a.dec(ecx);
        a.jnz(pd);

        // Mover to X + 0x6000, its GDT loaded, flat data segments, stack at the top of the scratch area.
        a.lea(esi, __[ebx + BootImageLayout.MoverOffset]);
        a.lea(edi, __[edx + (int)BootImageLayout.ScratchMoverOffset]);
        a.mov(ecx, BootImageLayout.MoverLimit / 4);
        a.rep.movsd();
        a.lea(eax, __[edx + (int)BootImageLayout.ScratchMoverOffset + c.GdtOffset]);
        a.mov(__dword_ptr[edx + (int)BootImageLayout.ScratchMoverOffset + c.GdtrOffset + 2], eax);
        a.lgdt(__[edx + (int)BootImageLayout.ScratchMoverOffset + c.GdtrOffset]);
        a.mov(eax, KernelDs);
        a.mov(ds, ax);
        a.mov(es, ax);
        a.mov(fs, ax);
        a.mov(gs, ax);
        a.mov(ss, ax);
        a.lea(esp, __[edx + (int)BootImageLayout.ScratchSize]);
        a.mov(edi, edx);

        // Long mode: PAE, CR3, EFER.LME, paging.
        a.mov(eax, cr4);
        a.or(eax, 0x20);
        a.mov(cr4, eax);
        a.mov(cr3, edi);
        a.mov(ecx, unchecked((int)Efer));
        a.rdmsr();
        a.or(eax, 0x100);
        a.wrmsr();
        a.mov(eax, cr0);
        a.or(eax, unchecked((int)0x8000_0001));
        a.mov(cr0, eax);

        // Far return into the mover's 32-bit-caller entry with CS = 64-bit code.
        a.push(KernelCs);
        a.lea(eax, __[edi + (int)BootImageLayout.ScratchMoverOffset]);
        a.push(eax);
        a.retf();

        var r = Encode(a, BootImageLayout.Entry32Offset);
        return (r.Bytes, (int)r.Result.GetLabelRIP(next));
    }

    /// <summary>%edi = scratch base X for load address %ebx (see <see cref="BootImageLayout.ScratchBase"/>).</summary>
    private static void EmitScratchBase32(Assembler a, Constants c, Label xok)
    {
        a.mov(edi, unchecked((int)c.KernelEndAligned));
        a.lea(eax, __[edi + (int)BootImageLayout.ScratchSize]);
        a.cmp(ebx, eax);
        a.jae(xok);
        a.lea(eax, __[ebx + c.PmSize]);
        a.cmp(eax, edi);
        a.jbe(xok);
        a.add(eax, 0xFFF);
        a.and(eax, unchecked((int)0xFFFF_F000));
        a.mov(edi, eax);
        a.Label(ref xok);
    }

    /// <summary>
    /// 64-bit entry. In: long mode, 4-level paging with at least [load, load + init_size) identity-mapped,
    /// %rsi = boot_params, interrupts off.
    /// </summary>
    private static byte[] AssembleEntry64(Constants c)
    {
        var a = new Assembler(64);
        var start = a.CreateLabel();
        var hang = a.CreateLabel();
        var xok = a.CreateLabel();
        var keepX = a.CreateLabel();
        var single = a.CreateLabel();

        a.Label(ref start);
        a.cli();
        a.cld();
        a.mov(r15, rsi);
        a.lea(rbx, __[start]);
        a.sub(rbx, BootImageLayout.Entry64Offset); // %rbx = load address
        a.mov(rax, cr4);
        a.bt(eax, 12); // CR4.LA57: the stub only builds 4-level tables
        a.jb(hang);

        // Temporary tables T right after the image: inside [load, load + init_size), so mapped by the loader.
        a.lea(r9, __[rbx + c.PmSize + 0xFFF]);
        a.and(r9, -4096);
        EmitTables64(a, r9);
        a.mov(cr3, r9);

        // Scratch base X, as the 32-bit entry computes it; moved past T if the two would overlap.
        a.mov(edi, unchecked((int)c.KernelEndAligned));
        a.lea(rax, __[rdi + (int)BootImageLayout.ScratchSize]);
        a.cmp(rbx, rax);
        a.jae(xok);
        a.lea(rax, __[rbx + c.PmSize]);
        a.cmp(rax, rdi);
        a.jbe(xok);
        a.add(rax, 0xFFF);
        a.and(rax, -4096);
        a.mov(rdi, rax);
        a.Label(ref xok);
        a.mov(rdx, rdi); // %rdx = X from here on
        a.cmp(rdx, r9);
        a.je(single);
        a.lea(rax, __[rdx + (int)BootImageLayout.ScratchSize]);
        a.cmp(r9, rax);
        a.jae(keepX);
        a.lea(rax, __[r9 + (int)BootImageLayout.PageTablesSize]);
        a.cmp(rax, rdx);
        a.jbe(keepX);
        a.mov(rdx, rax); // T overlaps X: X = T + 0x6000 (init_size has room for it)
        a.Label(ref keepX);
        EmitTables64(a, rdx);
        a.Label(ref single);

        // Mover to X + 0x6000, GDT, final tables, stack; continue in the mover (CS stays the loader's __BOOT_CS).
        a.lea(rsi, __[rbx + BootImageLayout.MoverOffset]);
        a.lea(rdi, __[rdx + (int)BootImageLayout.ScratchMoverOffset]);
        a.mov(ecx, BootImageLayout.MoverLimit / 8);
        a.rep.movsq();
        a.lea(rax, __[rdx + (int)BootImageLayout.ScratchMoverOffset + c.GdtOffset]);
        a.mov(__qword_ptr[rdx + (int)BootImageLayout.ScratchMoverOffset + c.GdtrOffset + 2], rax);
        a.lgdt(__[rdx + (int)BootImageLayout.ScratchMoverOffset + c.GdtrOffset]);
        a.mov(cr3, rdx);
        a.lea(rsp, __[rdx + (int)BootImageLayout.ScratchSize]);
        a.lea(rax, __[rdx + (int)BootImageLayout.ScratchMoverOffset + c.MoverEntry]);
        a.jmp(rax);

        a.Label(ref hang);
        a.hlt();
        a.jmp(hang);

        return Encode(a, (ulong)BootImageLayout.Entry64Offset).Bytes;
    }

    /// <summary>Identity tables for [0, 4 GiB) at <paramref name="base"/> (clobbers rax, rcx, rdi).</summary>
    private static void EmitTables64(Assembler a, AssemblerRegister64 @base)
    {
        var pd = a.CreateLabel();
        a.mov(rdi, @base);
        a.xor(eax, eax);
        a.mov(ecx, (int)(BootImageLayout.PageTablesSize / 8));
        a.rep.stosq();
        a.lea(rax, __[@base + 0x1003]);
        a.mov(__qword_ptr[@base], rax);
        a.lea(rax, __[@base + 0x2003]);
        for (int i = 0; i < 4; i++)
        {
            a.mov(__qword_ptr[@base + 0x1000 + i * 8], rax);
            a.add(rax, 0x1000);
        }
        a.lea(rdi, __[@base + 0x2000]);
        a.mov(eax, 0x83);
        a.mov(ecx, 2048);
        a.Label(ref pd);
        a.mov(__qword_ptr[rdi], rax);
        a.add(rax, 0x200000);
        a.add(rdi, 8);
        a.dec(ecx);
        a.jnz(pd);
    }

    private static (byte[] Bytes, AssemblerResult Result) Encode(Assembler a, ulong rip)
    {
        using var ms = new MemoryStream();
        var result = a.Assemble(new StreamCodeWriter(ms), rip, BlockEncoderOptions.ReturnNewInstructionOffsets);
        return (ms.ToArray(), result);
    }
}
