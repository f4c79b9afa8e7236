using System.Buffers.Binary;
using UklLink.Inputs;
using static UklLink.X86_64.RelocationTypes;

namespace UklLink.X86_64;

/// <summary>Layout facts relocation needs beyond symbol values.</summary>
public interface IRelocationContext
{
    RelocationTarget Resolve(InputRelocation relocation);

    /// <summary>Address of the GOT entry the scan reserved for the relocation's target; false when there is none
    /// (a GOT relocation in a section the scan does not cover, such as debug information).</summary>
    bool TryGetGotEntryAddress(InputRelocation relocation, out ulong address);

    /// <summary>Start of the TLS template (PT_TLS p_vaddr) and the thread pointer's offset from it (aligned memsz).</summary>
    ulong TlsStart { get; }

    ulong TlsSize { get; }

    /// <summary>_GLOBAL_OFFSET_TABLE_ (the start of .got.plt), the base of GOT-relative relocations.</summary>
    ulong GotBase { get; }
}

/// <summary>One failure to relocate: which relocation and why; the caller turns it into a finding.</summary>
public sealed record RelocationProblem(InputRelocation Relocation, RelocationProblemKind Kind, string Message);

public enum RelocationProblemKind { Overflow, Unsupported, Sequence, Discarded }

/// <summary>
/// Applies x86-64 relocations for a static, non-PIC link at kernel addresses, with the relaxations GNU ld performs
/// (psABI "Optimize GOTPCRELX relocations" and the TLS GD/LD/IE to LE transitions), so the bytes match ld's.
/// Everything x86-64-specific about relocation lives here.
/// </summary>
public static class Relocator
{
    /// <summary>True when a relocation needs a GOT slot because its instruction cannot be relaxed.</summary>
    public static bool NeedsGotEntry(InputRelocation r, ReadOnlySpan<byte> data, RelocationTarget target)
    {
        return RelocationTypes.Get(r.Type).GotLoad && GotRelaxation(r, data, target) == GotForm.Keep;
    }

    private enum GotForm { Keep, Lea, MovImmediate, Call, Jump, TestImmediate, BinopImmediate }

    private static GotForm GotRelaxation(InputRelocation r, ReadOnlySpan<byte> data, RelocationTarget target)
    {
        int off = (int)r.Offset;
        if (off < 2 || r.Addend != -4 || target.Kind == TargetKind.Discarded || target.IsTls || target.IsIndirect)
            return GotForm.Keep;
        byte opcode = data[off - 2], modrm = data[off - 1];
        // Without the X marking only "mov foo@GOTPCREL(%rip), %reg" is known to be an instruction ld may rewrite, and
        // ld turns it into a lea when the symbol lives in a section.
        if (!RelocationTypes.Get(r.Type).RelaxableGotLoad)
            return opcode == 0x8b && (modrm & 0xc7) == 0x05 && target.Kind is TargetKind.Section or TargetKind.Absolute ? GotForm.Lea : GotForm.Keep;
        bool absolute = target.Kind is TargetKind.Absolute or TargetKind.UndefinedWeak;
        bool rexW = r.Type == R_X86_64_REX_GOTPCRELX && off >= 3 && (data[off - 3] & 0x48) == 0x48;
        if (opcode == 0x8b)
        {
            // The output is not PIC, so GNU ld prefers "mov $foo, %reg" (sign-extended imm32 with REX.W, zero-extended
            // without) whenever the value fits, and falls back to "lea foo(%rip), %reg" for symbols in sections.
            bool fits = rexW ? FitsSigned32(target.Value) : target.Value <= uint.MaxValue;
            return fits ? GotForm.MovImmediate : absolute ? GotForm.Keep : GotForm.Lea;
        }
        if (opcode == 0xff && r.Type != R_X86_64_REX_GOTPCRELX)
            return modrm == 0x15 ? GotForm.Call : modrm == 0x25 ? GotForm.Jump : GotForm.Keep;
        if (opcode == 0x85 || IsBinop(opcode))
        {
            // Immediate forms: only when the (sign- or zero-extended) value fits.
            bool fits = rexW ? FitsSigned32(target.Value) : target.Value <= uint.MaxValue;
            return !fits ? GotForm.Keep : opcode == 0x85 ? GotForm.TestImmediate : GotForm.BinopImmediate;
        }
        return GotForm.Keep;
    }

    private static bool IsBinop(byte opcode) => opcode is 0x13 or 0x03 or 0x23 or 0x3b or 0x0b or 0x1b or 0x2b or 0x33;

    private static bool FitsSigned32(ulong v) => (long)v >= int.MinValue && (long)v <= int.MaxValue;

    /// <summary>
    /// Applies <paramref name="section"/>'s relocations to <paramref name="buffer"/>, where the section's bytes start
    /// at <paramref name="bufferOffset"/> and its address is <paramref name="address"/>.
    /// </summary>
    public static void Apply(InputSection section, IReadOnlyList<InputRelocation> relocations, byte[] buffer, int bufferOffset,
        ulong address, IRelocationContext context, List<RelocationProblem> problems)
    {
        bool code = section.IsExecutable;
        for (int i = 0; i < relocations.Count; i++)
        {
            var r = relocations[i];
            var type = RelocationTypes.Get(r.Type);
            if (type.Class == RelocationClass.None)
                continue;
            if (type.Class is RelocationClass.Unsupported)
            {
                problems.Add(new RelocationProblem(r, RelocationProblemKind.Unsupported, $"relocation {type.Name} is not supported: {type.Why}"));
                continue;
            }
            var target = context.Resolve(r);
            if (target.Kind == TargetKind.Discarded)
            {
                if (section.IsAlloc && !section.Name.StartsWith(".eh_frame", StringComparison.Ordinal))
                    problems.Add(new RelocationProblem(r, RelocationProblemKind.Discarded, $"relocation {type.Name} refers to '{target.Name}' in a discarded section"));
                continue; // ld resolves references from debug info to discarded code as 0: the field stays as assembled
            }
            if (target.Kind == TargetKind.IndirectAtStartup && !type.GotLoad)
            {
                if (r.Type != R_X86_64_64)
                    problems.Add(new RelocationProblem(r, RelocationProblemKind.Unsupported,
                        $"relocation {type.Name} against STT_GNU_IFUNC symbol '{target.Name}' is not supported (it has no PLT entry)"));
                continue; // a static pointer: its IRELATIVE relocation stores the resolved address at start-up
            }
            int at = bufferOffset + (int)r.Offset;
            ulong p = address + r.Offset;
            ulong s = target.Value;
            long a = target.AddendOverride ?? r.Addend;
            var span = buffer.AsSpan();
            switch (r.Type)
            {
                case R_X86_64_64:
                    Write(span, at, s + (ulong)a, r, type, problems);
                    break;
                case R_X86_64_PC64:
                    Write(span, at, s + (ulong)a - p, r, type, problems);
                    break;
                case R_X86_64_PC32:
                case R_X86_64_PLT32:
                    Write(span, at, s + (ulong)a - p, r, type, problems);
                    break;
                case R_X86_64_32:
                    Write(span, at, s + (ulong)a, r, type, problems);
                    break;
                case R_X86_64_32S:
                    Write(span, at, s + (ulong)a, r, type, problems);
                    break;
                case R_X86_64_16:
                    Write(span, at, s + (ulong)a, r, type, problems);
                    break;
                case R_X86_64_PC16:
                    Write(span, at, s + (ulong)a - p, r, type, problems);
                    break;
                case R_X86_64_8:
                    Write(span, at, s + (ulong)a, r, type, problems);
                    break;
                case R_X86_64_PC8:
                    Write(span, at, s + (ulong)a - p, r, type, problems);
                    break;
                case R_X86_64_SIZE32:
                    Write(span, at, target.Size + (ulong)a, r, type, problems);
                    break;
                case R_X86_64_SIZE64:
                    Write(span, at, target.Size + (ulong)a, r, type, problems);
                    break;
                case R_X86_64_TPOFF32:
                    Write(span, at, TpOff(s + (ulong)a, context), r, type, problems);
                    break;
                case R_X86_64_TPOFF64:
                    Write(span, at, TpOff(s + (ulong)a, context), r, type, problems);
                    break;
                case R_X86_64_DTPOFF32:
                    // In code, DTPOFF32 follows a TLSLD sequence that was relaxed to LE: it becomes a TP offset.
                    Write(span, at, code ? TpOff(s + (ulong)a, context) : s + (ulong)a - context.TlsStart, r, type, problems);
                    break;
                case R_X86_64_DTPOFF64:
                    Write(span, at, code ? TpOff(s + (ulong)a, context) : s + (ulong)a - context.TlsStart, r, type, problems);
                    break;
                case R_X86_64_GOTPCREL:
                case R_X86_64_GOTPCRELX:
                case R_X86_64_REX_GOTPCRELX:
                    ApplyGot(span, at, p, r, a, target, context, buffer, bufferOffset, problems);
                    break;
                case R_X86_64_GOTPC32:
                    Write(span, at, context.GotBase + (ulong)a - p, r, type, problems);
                    break;
                case R_X86_64_GOTPC64:
                    Write(span, at, context.GotBase + (ulong)a - p, r, type, problems);
                    break;
                case R_X86_64_GOTOFF64:
                    Write(span, at, s + (ulong)a - context.GotBase, r, type, problems);
                    break;
                case R_X86_64_GOTTPOFF:
                    if (!RelaxIeToLe(span, at, TpOff(s, context), r, type, problems))
                        problems.Add(new RelocationProblem(r, RelocationProblemKind.Sequence, $"{type.Name} is not on a movq or addq from memory that can be relaxed to local-exec"));
                    break;
                case R_X86_64_TLSGD:
                    if (RelaxGdToLe(span, at, TpOff(s + (ulong)a + 4, context), r, type, problems))
                        i = SkipTlsGetAddr(relocations, i);
                    else
                        problems.Add(new RelocationProblem(r, RelocationProblemKind.Sequence, $"{type.Name} is not in the standard general-dynamic sequence (data16 lea; data16 data16 rex64 call __tls_get_addr)"));
                    break;
                case R_X86_64_TLSLD:
                    if (RelaxLdToLe(span, at))
                        i = SkipTlsGetAddr(relocations, i);
                    else
                        problems.Add(new RelocationProblem(r, RelocationProblemKind.Sequence, $"{type.Name} is not in the standard local-dynamic sequence (lea; call __tls_get_addr)"));
                    break;
                default:
                    problems.Add(new RelocationProblem(r, RelocationProblemKind.Unsupported, $"relocation {type.Name} is not supported"));
                    break;
            }
        }
    }

    /// <summary>The relocation after a GD/LD sequence's first one is the call to __tls_get_addr, which relaxation removed.</summary>
    private static int SkipTlsGetAddr(IReadOnlyList<InputRelocation> relocations, int i)
    {
        if (i + 1 < relocations.Count && relocations[i + 1].Type is R_X86_64_PLT32 or R_X86_64_PC32 || RelocationTypes.Get(relocations[i + 1].Type).GotLoad)
            return i + 1;
        return i;
    }

    /// <summary>x86-64 TLS variant II: a thread's block ends at the thread pointer, so offsets are negative.</summary>
    private static ulong TpOff(ulong address, IRelocationContext context) => address - (context.TlsStart + context.TlsSize);

    private static void ApplyGot(Span<byte> span, int at, ulong p, InputRelocation r, long addend, RelocationTarget target, IRelocationContext context,
        byte[] buffer, int bufferOffset, List<RelocationProblem> problems)
    {
        var type = RelocationTypes.Get(r.Type);
        // The relaxation decision reads the instruction as assembled, before any byte of it changes.
        var form = GotRelaxation(r, buffer.AsSpan(bufferOffset, (int)r.Section.Size), target);
        ulong s = target.Value;
        switch (form)
        {
            case GotForm.Keep:
                if (!context.TryGetGotEntryAddress(r, out ulong entry))
                {
                    problems.Add(new RelocationProblem(r, RelocationProblemKind.Unsupported, $"relocation {type.Name} needs a GOT entry, which only allocated code and data get"));
                    return;
                }
                WriteSigned(span, at, 4, (long)(entry + (ulong)addend - p), r, type, problems);
                return;
            case GotForm.Lea:
                span[at - 2] = 0x8d;
                WriteSigned(span, at, 4, (long)(s + (ulong)addend - p), r, type, problems);
                return;
            case GotForm.MovImmediate:
            {
                byte modrm = span[at - 1];
                span[at - 2] = 0xc7;
                span[at - 1] = (byte)(0xc0 | ((modrm >> 3) & 7));
                MoveRexRToB(span, at - 3, r);
                BinaryPrimitives.WriteUInt32LittleEndian(span[at..], (uint)s);
                return;
            }
            case GotForm.Call:
                // "addr32 call foo": the 0x67 prefix keeps the instruction length.
                span[at - 2] = 0x67;
                span[at - 1] = 0xe8;
                WriteSigned(span, at, 4, (long)(s + (ulong)addend - p), r, type, problems);
                return;
            case GotForm.Jump:
                // "jmp foo; nop": the displacement moves one byte down.
                span[at - 2] = 0xe9;
                WriteSigned(span, at - 1, 4, (long)(s + (ulong)addend - (p - 1)), r, type, problems);
                span[at + 3] = 0x90;
                return;
            case GotForm.TestImmediate:
            {
                byte modrm = span[at - 1];
                span[at - 2] = 0xf7;
                span[at - 1] = (byte)(0xc0 | ((modrm >> 3) & 7));
                MoveRexRToB(span, at - 3, r);
                BinaryPrimitives.WriteUInt32LittleEndian(span[at..], (uint)s);
                return;
            }
            case GotForm.BinopImmediate:
            {
                byte opcode = span[at - 2], modrm = span[at - 1];
                span[at - 2] = 0x81;
                span[at - 1] = (byte)(0xc0 | (opcode & 0x38) | ((modrm >> 3) & 7));
                MoveRexRToB(span, at - 3, r);
                BinaryPrimitives.WriteUInt32LittleEndian(span[at..], (uint)s);
                return;
            }
        }
    }

    private static void MoveRexRToB(Span<byte> span, int rexAt, InputRelocation r)
    {
        if (r.Type != R_X86_64_REX_GOTPCRELX || rexAt < 0)
            return;
        byte rex = span[rexAt];
        if ((rex & 0xf0) == 0x40 && (rex & 0x04) != 0)
            span[rexAt] = (byte)((rex & ~0x04) | 0x01);
    }

    /// <summary>movq foo@gottpoff(%rip),%reg → movq $tpoff,%reg; addq → leaq tpoff(%reg),%reg (addq $tpoff for %rsp/%r12).</summary>
    private static bool RelaxIeToLe(Span<byte> span, int at, ulong tpoff, InputRelocation r, RelocationType type, List<RelocationProblem> problems)
    {
        if (at < 3)
            return false;
        byte rex = span[at - 3], opcode = span[at - 2], modrm = span[at - 1];
        if ((rex & 0xf8) != 0x48 || (modrm & 0xc7) != 0x05)
            return false;
        int reg = (modrm >> 3) & 7;
        bool rexR = (rex & 0x04) != 0;
        if (opcode == 0x8b)
        {
            span[at - 3] = (byte)(rexR ? 0x49 : 0x48);
            span[at - 2] = 0xc7;
            span[at - 1] = (byte)(0xc0 | reg);
        }
        else if (opcode == 0x03)
        {
            if (reg == 4)
            {
                span[at - 3] = (byte)(rexR ? 0x49 : 0x48);
                span[at - 2] = 0x81;
                span[at - 1] = (byte)(0xc0 | reg);
            }
            else
            {
                span[at - 3] = (byte)(rexR ? 0x4d : 0x48);
                span[at - 2] = 0x8d;
                span[at - 1] = (byte)(0x80 | reg | (reg << 3));
            }
        }
        else
            return false;
        WriteSigned(span, at, 4, (long)tpoff, r, type, problems);
        return true;
    }

    private static readonly byte[] GdPrefix = { 0x66, 0x48, 0x8d, 0x3d };
    private static readonly byte[] LeLoadTp = { 0x64, 0x48, 0x8b, 0x04, 0x25, 0x00, 0x00, 0x00, 0x00 };

    /// <summary>
    /// data16 leaq x@tlsgd(%rip),%rdi; data16 data16 rex64 call __tls_get_addr (16 bytes) →
    /// movq %fs:0,%rax; leaq x@tpoff(%rax),%rax. Also accepts the -fno-plt call *__tls_get_addr@GOTPCREL(%rip).
    /// </summary>
    private static bool RelaxGdToLe(Span<byte> span, int at, ulong tpoff, InputRelocation r, RelocationType type, List<RelocationProblem> problems)
    {
        int start = at - 4;
        if (start < 0 || start + 16 > span.Length || !span.Slice(start, 4).SequenceEqual(GdPrefix))
            return false;
        var call = span.Slice(at + 4, 4);
        bool plt = call[0] == 0x66 && call[1] == 0x66 && call[2] == 0x48 && call[3] == 0xe8;
        bool got = call[0] == 0x66 && call[1] == 0x48 && call[2] == 0xff && call[3] == 0x15;
        if (!plt && !got)
            return false;
        LeLoadTp.CopyTo(span[start..]);
        span[start + 9] = 0x48;
        span[start + 10] = 0x8d;
        span[start + 11] = 0x80;
        WriteSigned(span, start + 12, 4, (long)tpoff, r, type, problems);
        return true;
    }

    /// <summary>leaq x@tlsld(%rip),%rdi; call __tls_get_addr → data16 data16 data16 movq %fs:0,%rax (12 bytes; 13 for call *GOT).</summary>
    private static bool RelaxLdToLe(Span<byte> span, int at)
    {
        int start = at - 3;
        if (start < 0 || at + 5 > span.Length || span[start] != 0x48 || span[start + 1] != 0x8d || span[start + 2] != 0x3d)
            return false;
        if (span[at + 4] == 0xe8)
        {
            span[start] = 0x66;
            span[start + 1] = 0x66;
            span[start + 2] = 0x66;
            LeLoadTp.CopyTo(span[(start + 3)..]);
            return true;
        }
        if (at + 6 <= span.Length && span[at + 4] == 0xff && span[at + 5] == 0x15)
        {
            span[start] = 0x66;
            span[start + 1] = 0x66;
            span[start + 2] = 0x66;
            span[start + 3] = 0x66;
            LeLoadTp.CopyTo(span[(start + 4)..]);
            return true;
        }
        return false;
    }

    /// <summary>Writes a value into the type's field, checked as the relocation table says (signed, unsigned or not at all).</summary>
    private static void Write(Span<byte> span, int at, ulong value, InputRelocation r, RelocationType type, List<RelocationProblem> problems)
    {
        switch (type.Overflow)
        {
            case OverflowCheck.Signed:
                WriteSigned(span, at, type.FieldSize, (long)value, r, type, problems);
                break;
            case OverflowCheck.Unsigned:
                WriteUnsigned(span, at, type.FieldSize, value, r, type, problems);
                break;
            default:
                WriteField(span, at, type.FieldSize, value);
                break;
        }
    }

    private static void WriteSigned(Span<byte> span, int at, int size, long value, InputRelocation r, RelocationType type, List<RelocationProblem> problems)
    {
        long min = -(1L << (size * 8 - 1)), max = (1L << (size * 8 - 1)) - 1;
        if (value < min || value > max)
        {
            problems.Add(new RelocationProblem(r, RelocationProblemKind.Overflow, $"relocation {type.Name} out of range: {value} is not in [{min}, {max}]"));
            return;
        }
        WriteField(span, at, size, (ulong)value);
    }

    private static void WriteUnsigned(Span<byte> span, int at, int size, ulong value, InputRelocation r, RelocationType type, List<RelocationProblem> problems)
    {
        ulong max = size == 8 ? ulong.MaxValue : (1UL << (size * 8)) - 1;
        if (value > max)
        {
            problems.Add(new RelocationProblem(r, RelocationProblemKind.Overflow, $"relocation {type.Name} out of range: 0x{value:x} is not in [0, 0x{max:x}]"));
            return;
        }
        WriteField(span, at, size, value);
    }

    private static void WriteField(Span<byte> span, int at, int size, ulong value)
    {
        switch (size)
        {
            case 1: span[at] = (byte)value; break;
            case 2: BinaryPrimitives.WriteUInt16LittleEndian(span[at..], (ushort)value); break;
            case 4: BinaryPrimitives.WriteUInt32LittleEndian(span[at..], (uint)value); break;
            default: BinaryPrimitives.WriteUInt64LittleEndian(span[at..], value); break;
        }
    }
}
