using Iced.Intel;
using UklLink.Analysis;

namespace UklLink.Rewrite;

/// <summary>
/// The system call number a site passes in %rax, when every path into the site sets it to the same constant. A
/// backward walk over the section's decoded code (<see cref="CodeMap"/>) from the site follows the fall-through and
/// every direct branch into each instruction, tracking %rax and, through register copies (<c>mov %r12, %rax</c>, as
/// compilers write when the number lives in a callee-saved register across a loop), the register it came from, until
/// each path reaches a constant: <c>mov $N, %reg</c> or <c>xor %reg, %reg</c>. The answer is "not known" when a path
/// computes the value any other way, enters from elsewhere (a symbol, a code pointer, an address taken), runs into
/// code that was not decoded, crosses a call while the value is in a caller-saved register, or is longer than the
/// walk allows. A wrong answer would not make a wrong system call (a bypass entry takes the full path when %rax is
/// not its number); it would only cost the bypass.
/// </summary>
internal static class SyscallNumber
{
    /// <summary>Instructions the walk may visit per site: compilers set the number within a few of the site, or before
    /// a loop around it.</summary>
    public const int MaxSteps = 64;

    /// <summary>The constant in %rax at <paramref name="site"/> (a <c>syscall</c> of <paramref name="map"/>), or null.</summary>
    public static int? Find(CodeMap map, DecodedInstruction site)
    {
        long? found = null;
        var info = new InstructionInfoFactory(); // not thread-safe: one per walk, not one shared by every rewriter
        var work = new Stack<(ulong At, Register Reg)>();
        var seen = new HashSet<(ulong, Register)>();
        work.Push((site.Offset, Register.RAX));
        int steps = 0;
        while (work.Count > 0)
        {
            var (at, reg) = work.Pop();
            if (!seen.Add((at, reg)))
                continue; // a loop back to a point already walked adds no new definition
            if (++steps > MaxSteps)
                return null;
            var (branches, otherEntry) = map.WaysInto(at);
            if (otherEntry)
                return null;
            foreach (ulong from in branches)
                work.Push((from, reg)); // a jmp or jcc writes no general register: go on before it
            var prev = map.EndingAt(at);
            if (prev is null)
            {
                if (branches.Count == 0)
                    return null; // nothing known leads here
                continue; // only branches do (after a jmp, ret or padding)
            }
            if (prev.Doubtful)
                return null;
            var i = prev.Instruction;
            if (prev.IsTerminator)
            {
                if (branches.Count == 0)
                    return null;
                continue;
            }
            if (i.FlowControl is FlowControl.Call or FlowControl.IndirectCall)
            {
                if (!CalleeSaved(reg))
                    return null;
                work.Push((prev.Offset, reg));
                continue;
            }
            if (i.FlowControl is not (FlowControl.Next or FlowControl.ConditionalBranch) || i.Code == Code.Syscall && reg is Register.RAX or Register.RCX or Register.R11)
                return null;
            if (!Writes(info, i, reg))
            {
                work.Push((prev.Offset, reg));
                continue;
            }
            if (Constant(i, reg) is { } value)
            {
                if (found is { } f && f != value)
                    return null;
                found = value;
                continue;
            }
            if (CopiedFrom(i, reg) is { } source)
            {
                work.Push((prev.Offset, source));
                continue;
            }
            return null;
        }
        return found is >= 0 and <= int.MaxValue ? (int)found : null;
    }

    private static bool CalleeSaved(Register reg) =>
        reg is Register.RBX or Register.RBP or Register.R12 or Register.R13 or Register.R14 or Register.R15;

    private static bool Writes(InstructionInfoFactory info, in Instruction i, Register reg)
    {
        foreach (var r in info.GetInfo(i).GetUsedRegisters())
        {
            if (r.Register.GetFullRegister() == reg
                && r.Access is OpAccess.Write or OpAccess.ReadWrite or OpAccess.CondWrite or OpAccess.ReadCondWrite)
                return true;
        }
        return false;
    }

    /// <summary>The value <paramref name="i"/> puts into the whole of <paramref name="reg"/>, when it is a constant.</summary>
    private static long? Constant(in Instruction i, Register reg)
    {
        if (i.Op0Kind != OpKind.Register || i.Op0Register.GetFullRegister() != reg)
            return null;
        return i.Code switch
        {
            // 32-bit destinations zero the upper half.
            Code.Mov_r32_imm32 or Code.Mov_rm32_imm32 => i.Immediate32,
            Code.Mov_rm64_imm32 => i.Immediate32to64,
            Code.Mov_r64_imm64 => (long)i.Immediate64,
            Code.Xor_r32_rm32 or Code.Xor_rm32_r32 or Code.Xor_r64_rm64 or Code.Xor_rm64_r64 or Code.Sub_r32_rm32
                or Code.Sub_rm32_r32 or Code.Sub_r64_rm64 or Code.Sub_rm64_r64
                when i.Op1Kind == OpKind.Register && i.Op1Register == i.Op0Register => 0,
            _ => null,
        };
    }

    /// <summary>The register <paramref name="i"/> copies into <paramref name="reg"/> (a 64-bit or zero-extending 32-bit mov).</summary>
    private static Register? CopiedFrom(in Instruction i, Register reg)
    {
        if (i.Op0Kind != OpKind.Register || i.Op0Register.GetFullRegister() != reg || i.Op1Kind != OpKind.Register)
            return null;
        return i.Code is Code.Mov_r64_rm64 or Code.Mov_rm64_r64 or Code.Mov_r32_rm32 or Code.Mov_rm32_r32
            ? i.Op1Register.GetFullRegister()
            : null;
    }
}
