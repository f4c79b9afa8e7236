using Iced.Intel;
using UklLink.Inputs;

namespace UklLink.Analysis;

/// <summary>
/// Finds red-zone use: memory accesses below the current %rsp, directly (<c>-8(%rsp)</c>) or through a frame pointer
/// that was set from %rsp (<c>push %rbp; mov %rsp,%rbp; mov %edi,-0x14(%rbp)</c> with no <c>sub</c> of %rsp).
/// Each region of the section's <see cref="CodeMap"/> is explored along its control flow from the entry, over the
/// instructions the map decoded, tracking %rsp and %rbp relative to the entry %rsp; the first state that reaches an
/// instruction is used. Anything the tracker cannot follow (indirect jumps, unknown writes to %rsp or %rbp, bytes the
/// map does not hold for code) ends precision for that path rather than producing a guess.
/// </summary>
public static class RedZoneAnalyzer
{
    private readonly record struct StackState(long Rsp, bool RspKnown, long Rbp, bool RbpKnown);

    internal static IReadOnlyList<(CodeRegion Region, IReadOnlyList<RedZoneUse> Uses)> Analyze(CodeMap map)
    {
        var result = new List<(CodeRegion, IReadOnlyList<RedZoneUse>)>();
        var visited = new System.Collections.BitArray(checked((int)map.Size)); // regions do not overlap: one set serves them all
        foreach (var region in map.Regions)
        {
            var uses = AnalyzeRegion(map, region, visited);
            if (uses.Count > 0)
                result.Add((region, uses));
        }
        return result;
    }

    private static List<RedZoneUse> AnalyzeRegion(CodeMap map, CodeRegion region, System.Collections.BitArray visited)
    {
        var uses = new List<RedZoneUse>();
        var work = new Stack<(ulong Ip, StackState State)>();
        work.Push((region.Start, new StackState(0, true, 0, false)));
        GasFormatter? formatter = null; // only the few instructions that use the red zone are worded
        StringOutput? output = null;

        while (work.Count > 0)
        {
            var (ip, state) = work.Pop();
            while (ip >= region.Start && ip < region.End && !visited[(int)ip])
            {
                visited[(int)ip] = true;
                if (!map.TryDecode(ip, out var instr))
                    break;

                long below = BytesBelowRsp(instr, state);
                if (below > 0)
                {
                    (formatter ??= new GasFormatter()).Format(instr, output ??= new StringOutput());
                    uses.Add(new RedZoneUse(ip, below, output.ToStringAndReset()));
                }

                var flow = instr.FlowControl;
                bool pathEnds = flow is FlowControl.Return or FlowControl.Exception or FlowControl.IndirectBranch
                                || (flow == FlowControl.Interrupt && instr.Code == Code.Int3);
                if (pathEnds)
                    break;
                if (flow == FlowControl.UnconditionalBranch)
                {
                    ip = instr.NearBranchTarget;
                    continue; // a target outside the region (tail call) ends the loop condition
                }
                if (flow == FlowControl.ConditionalBranch)
                    work.Push((instr.NearBranchTarget, state));
                state = Step(instr, state);
                ip = instr.NextIP;
            }
        }
        uses.Sort((a, b) => a.Offset.CompareTo(b.Offset));
        return uses;
    }

    /// <summary>How many bytes below %rsp the lowest memory operand reaches (0 when it does not).</summary>
    private static long BytesBelowRsp(in Instruction instr, StackState state)
    {
        if (instr.Mnemonic is Mnemonic.Lea or Mnemonic.Nop)
            return 0; // computes an address, touches no memory
        for (int i = 0; i < instr.OpCount; i++)
        {
            if (instr.GetOpKind(i) != OpKind.Memory)
                continue;
            long disp = (long)instr.MemoryDisplacement64;
            if (instr.MemoryIndex != Register.None)
            {
                // buf[i] with buf below %rsp: the index is unknown, so only flag it when the function has not
                // allocated as many bytes as the displacement reaches down (a -mno-red-zone frame always has).
                long allocated = state.RspKnown ? -state.Rsp : long.MaxValue;
                if (instr.MemoryBase == Register.RSP && disp < 0 && -disp > allocated)
                    return -disp;
                continue;
            }
            if (instr.MemoryBase == Register.RSP && disp < 0)
                return -disp;
            if (instr.MemoryBase == Register.RBP && state.RbpKnown && state.RspKnown)
            {
                long address = state.Rbp + disp;
                if (address < state.Rsp)
                    return state.Rsp - address;
            }
        }
        return 0;
    }

    private static StackState Step(in Instruction instr, StackState s)
    {
        switch (instr.Mnemonic)
        {
            case Mnemonic.Call:
                return s; // the callee returns with %rsp restored
            case Mnemonic.Push:
            case Mnemonic.Pushfq:
                return s with { Rsp = s.Rsp - 8 };
            case Mnemonic.Pop:
                s = s with { Rsp = s.Rsp + 8 };
                if (instr.Op0Kind == OpKind.Register && instr.Op0Register == Register.RBP)
                    s = s with { RbpKnown = false };
                if (instr.Op0Kind == OpKind.Register && instr.Op0Register == Register.RSP)
                    s = s with { RspKnown = false };
                return s;
            case Mnemonic.Popfq:
                return s with { Rsp = s.Rsp + 8 };
            case Mnemonic.Leave:
                return s.RbpKnown ? s with { Rsp = s.Rbp + 8, RbpKnown = false } : s with { RspKnown = false, RbpKnown = false };
            case Mnemonic.Enter:
                return s with { Rsp = s.Rsp - 8 - instr.Immediate16, Rbp = s.Rsp - 8, RbpKnown = s.RspKnown };
        }

        if (instr.OpCount >= 1 && instr.Op0Kind == OpKind.Register && instr.Op0Register is Register.RSP or Register.RBP)
        {
            bool toRsp = instr.Op0Register == Register.RSP;
            switch (instr.Mnemonic)
            {
                case Mnemonic.Sub or Mnemonic.Add when instr.OpCount == 2 && IsImmediate(instr.Op1Kind):
                    long imm = instr.GetImmediate(1) is var u ? (long)u : 0;
                    long delta = instr.Mnemonic == Mnemonic.Sub ? -imm : imm;
                    return toRsp ? s with { Rsp = s.Rsp + delta } : s with { Rbp = s.Rbp + delta };
                case Mnemonic.Mov when instr.OpCount == 2 && instr.Op1Kind == OpKind.Register:
                    var src = instr.Op1Register;
                    if (toRsp && src == Register.RBP)
                        return s with { Rsp = s.Rbp, RspKnown = s.RbpKnown };
                    if (!toRsp && src == Register.RSP)
                        return s with { Rbp = s.Rsp, RbpKnown = s.RspKnown };
                    break;
                case Mnemonic.Lea when instr.MemoryIndex == Register.None && instr.MemoryBase is Register.RSP or Register.RBP:
                    long disp = (long)instr.MemoryDisplacement64;
                    bool baseKnown = instr.MemoryBase == Register.RSP ? s.RspKnown : s.RbpKnown;
                    long baseValue = instr.MemoryBase == Register.RSP ? s.Rsp : s.Rbp;
                    return toRsp ? s with { Rsp = baseValue + disp, RspKnown = baseKnown } : s with { Rbp = baseValue + disp, RbpKnown = baseKnown };
            }
            // Any other write (and $-16,%rsp; mov from memory; ...): the value is no longer known.
            if (WritesOp0(instr))
                return toRsp ? s with { RspKnown = false } : s with { RbpKnown = false };
        }
        return s;
    }

    private static bool IsImmediate(OpKind k) => k is OpKind.Immediate8 or OpKind.Immediate8to64 or OpKind.Immediate32to64 or OpKind.Immediate32 or OpKind.Immediate16 or OpKind.Immediate8to32;

    private static bool WritesOp0(in Instruction instr) =>
        instr.Mnemonic is not (Mnemonic.Cmp or Mnemonic.Test or Mnemonic.Bt);
}
