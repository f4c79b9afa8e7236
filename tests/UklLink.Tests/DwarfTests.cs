using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using UklLink.Dwarf;
using Xunit;

namespace UklLink.Tests;

public sealed class DwarfTests
{
    // Each function body is on one line so every line-table row of the function has that line.
    private const string HeaderSource =
        "__attribute__((noinline)) static int h(int y) { return y * y - 7; } /* LINE_H */\n";

    private const string MainSource =
        "#include \"t.h\"\n" +
        "extern int k(int);\n" +
        "int g(int x) { return x * 3 + 1; } /* LINE_G */\n" +
        "\n" +
        "int f(void) { return g(5) + h(2) + k(3); } /* LINE_F */\n";

    private const string SecondSource =
        "/* second compile unit */\n" +
        "int k(int z) { return z ^ 0x55; } /* LINE_K */\n";

    // ---------------------------------------------------------------- helpers

    private sealed record Fixture(string Dir, string Exe, DwarfSections Sections, Dictionary<string, ulong> Symbols);

    private static int MarkerLine(string source, string marker)
    {
        var lines = source.Split('\n');
        for (int i = 0; i < lines.Length; i++)
        {
            if (lines[i].Contains(marker, StringComparison.Ordinal))
                return i + 1;
        }
        throw new InvalidOperationException($"marker {marker} not found");
    }

    private static string Run(string exe, string args, string workDir)
    {
        var psi = new ProcessStartInfo(exe, args)
        {
            WorkingDirectory = workDir,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        using var p = Process.Start(psi)!;
        var stdoutTask = p.StandardOutput.ReadToEndAsync();
        var stderrTask = p.StandardError.ReadToEndAsync();
        p.WaitForExit();
        var stdout = stdoutTask.Result;
        Assert.True(p.ExitCode == 0, $"{exe} {args} failed ({p.ExitCode}): {stderrTask.Result}");
        return stdout;
    }

    private static Fixture Build(string gccFlags)
    {
        var dir = Path.Combine(Path.GetTempPath(), "ukl-dwarf-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "t.h"), HeaderSource);
        File.WriteAllText(Path.Combine(dir, "t.c"), MainSource);
        File.WriteAllText(Path.Combine(dir, "u.c"), SecondSource);
        Run("gcc", $"-g -O1 {gccFlags} -nostdlib -static -Wl,-e,f -o t t.c u.c", dir);
        var exe = Path.Combine(dir, "t");
        var symbols = new Dictionary<string, ulong>();
        foreach (var line in Run("nm", "t", dir).Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length == 3)
                symbols[parts[2]] = ulong.Parse(parts[0], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
        }
        return new Fixture(dir, exe, LoadSections(exe), symbols);
    }

    /// <summary>Minimal ELF64 little-endian section reader.</summary>
    private static Dictionary<string, byte[]> ReadElfSections(string path)
    {
        var b = File.ReadAllBytes(path);
        Assert.True(b.Length > 64 && b[0] == 0x7f && b[1] == (byte)'E' && b[4] == 2 && b[5] == 1, "not an ELF64 LE file");
        ulong shoff = BinaryPrimitives.ReadUInt64LittleEndian(b.AsSpan(0x28));
        int shentsize = BinaryPrimitives.ReadUInt16LittleEndian(b.AsSpan(0x3a));
        int shnum = BinaryPrimitives.ReadUInt16LittleEndian(b.AsSpan(0x3c));
        int shstrndx = BinaryPrimitives.ReadUInt16LittleEndian(b.AsSpan(0x3e));
        var headers = new (uint Name, uint Type, ulong Offset, ulong Size)[shnum];
        for (int i = 0; i < shnum; i++)
        {
            var h = b.AsSpan((int)shoff + i * shentsize);
            headers[i] = (BinaryPrimitives.ReadUInt32LittleEndian(h), BinaryPrimitives.ReadUInt32LittleEndian(h[4..]),
                BinaryPrimitives.ReadUInt64LittleEndian(h[0x18..]), BinaryPrimitives.ReadUInt64LittleEndian(h[0x20..]));
        }
        var strtab = headers[shstrndx];
        var result = new Dictionary<string, byte[]>();
        foreach (var h in headers)
        {
            int nameStart = (int)strtab.Offset + (int)h.Name;
            int nameEnd = Array.IndexOf(b, (byte)0, nameStart);
            var name = Encoding.ASCII.GetString(b, nameStart, nameEnd - nameStart);
            if (h.Type == 8 /* SHT_NOBITS */)
                continue;
            result[name] = b.AsSpan((int)h.Offset, (int)h.Size).ToArray();
        }
        return result;
    }

    private static DwarfSections LoadSections(string exe)
    {
        var s = ReadElfSections(exe);
        return new DwarfSections(s.GetValueOrDefault(".debug_info"), s.GetValueOrDefault(".debug_abbrev"),
            s.GetValueOrDefault(".debug_line"), s.GetValueOrDefault(".debug_str"), s.GetValueOrDefault(".debug_line_str"),
            s.GetValueOrDefault(".debug_str_offsets"));
    }

    private sealed record OracleRow(string File, int? Line, ulong Address);

    /// <summary>Parses `readelf --debug-dump=decodedline -W` output: (file, line or null for end_sequence, address).</summary>
    private static List<OracleRow> ReadelfDecodedLines(Fixture fx)
    {
        var rows = new List<OracleRow>();
        foreach (var raw in Run("readelf", "-W --debug-dump=decodedline t", fx.Dir).Split('\n'))
        {
            var parts = raw.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length < 3 || !parts[2].StartsWith("0x", StringComparison.Ordinal))
                continue;
            ulong addr = ulong.Parse(parts[2].AsSpan(2), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            int? line = parts[1] == "-" ? null : int.Parse(parts[1], CultureInfo.InvariantCulture);
            rows.Add(new OracleRow(parts[0], line, addr));
        }
        return rows;
    }

    private static DwarfInfo ReadOk(DwarfSections sections)
    {
        var info = DwarfInfo.Read(sections, out var problems);
        Assert.True(problems.Count == 0, "unexpected problems: " + string.Join("; ", problems));
        return info;
    }

    // ---------------------------------------------------------------- real gcc output

    [Theory]
    [InlineData("")] // gcc 12 default: DWARF 5
    [InlineData("-gdwarf-5")]
    [InlineData("-gdwarf-4")]
    [InlineData("-gdwarf-3")]
    [InlineData("-gdwarf-2")]
    public void Lines_MatchReadelfDecodedLine(string flags)
    {
        var fx = Build(flags);
        var info = ReadOk(fx.Sections);
        var oracle = ReadelfDecodedLines(fx);
        Assert.NotEmpty(oracle);

        var expected = oracle.Where(r => r.Line is not null).OrderBy(r => r.Address)
            .Select(r => (r.File, r.Line!.Value, r.Address)).ToList();
        var actual = info.Lines.Select(r => (Path.GetFileName(r.File), r.Line, r.Address)).ToList();
        Assert.Equal(expected, actual);
        Assert.True(info.Lines.Zip(info.Lines.Skip(1)).All(p => p.First.Address <= p.Second.Address));

        // sequence ends: the end address of each sequence is not covered (unless another sequence starts there)
        var rowStarts = oracle.Where(r => r.Line is not null).Select(r => r.Address).ToHashSet();
        foreach (var end in oracle.Where(r => r.Line is null).Select(r => r.Address))
        {
            if (!rowStarts.Contains(end))
                Assert.Null(info.FindLine(end));
            // the byte before the end is covered by the last row of that sequence
            var last = oracle.Where(r => r.Line is not null && r.Address < end).MaxBy(r => r.Address)!;
            var found = info.FindLine(end - 1);
            Assert.NotNull(found);
            Assert.Equal(last.Address, found.Value.Address);
        }
        Assert.Null(info.FindLine(0));
        Assert.Null(info.FindLine(ulong.MaxValue));
    }

    [Theory]
    [InlineData("")]
    [InlineData("-gdwarf-4")]
    [InlineData("-gdwarf-2")]
    public void FindLine_FunctionAddresses_GiveMarkedLinesAndFiles(string flags)
    {
        var fx = Build(flags);
        var info = ReadOk(fx.Sections);

        void Check(string func, string file, string source, string marker)
        {
            var addr = fx.Symbols[func];
            foreach (var a in new[] { addr, addr + 1 })
            {
                var row = info.FindLine(a);
                Assert.NotNull(row);
                Assert.Equal(MarkerLine(source, marker), row.Value.Line);
                Assert.Equal(Path.Combine(fx.Dir, file), row.Value.File);
            }
        }

        Check("g", "t.c", MainSource, "LINE_G");
        Check("f", "t.c", MainSource, "LINE_F");
        Check("h", "t.h", HeaderSource, "LINE_H");
        Check("k", "u.c", SecondSource, "LINE_K");
    }

    [Theory]
    [InlineData("", "DW_LANG_C11")]
    [InlineData("-gdwarf-4", null)]
    [InlineData("-gdwarf-2", null)]
    public void CompileUnits_HaveNameCompDirProducerLanguage(string flags, string? language)
    {
        var fx = Build(flags);
        var info = ReadOk(fx.Sections);
        Assert.Equal(["t.c", "u.c"], info.CompileUnits.Select(u => u.Name));
        foreach (var cu in info.CompileUnits)
        {
            Assert.Equal(fx.Dir, cu.CompDir);
            Assert.NotNull(cu.Producer);
            Assert.StartsWith("GNU C", cu.Producer);
            Assert.Contains("-O1", cu.Producer);
            Assert.NotNull(cu.Language);
            Assert.StartsWith("DW_LANG_C", cu.Language);
            if (language is not null)
                Assert.Equal(language, cu.Language);
        }
    }

    [Theory]
    [InlineData("")]
    [InlineData("-gdwarf-4")]
    public void Producer_RecordsCommandLineSwitches(string flags)
    {
        var with = ReadOk(Build(flags + " -mno-red-zone").Sections);
        Assert.All(with.CompileUnits, u => Assert.Contains("-mno-red-zone", u.Producer));

        var without = ReadOk(Build(flags).Sections);
        Assert.All(without.CompileUnits, u => Assert.DoesNotContain("-mno-red-zone", u.Producer));
    }

    // ---------------------------------------------------------------- malformed input

    private static DwarfInfo ReadNoThrow(DwarfSections s, out IReadOnlyList<string> problems)
    {
        var sw = Stopwatch.StartNew();
        var info = DwarfInfo.Read(s, out problems);
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(20), "reading took too long");
        _ = info.Lines.Count;
        _ = info.FindLine(0x401000);
        return info;
    }

    [Theory]
    [InlineData("")]
    [InlineData("-gdwarf-4")]
    public void TruncatedSections_ReportProblemsAndNeverThrow(string flags)
    {
        var good = Build(flags).Sections;
        var fullInfo = ReadOk(good);

        foreach (var which in new[] { "info", "abbrev", "line", "str", "line_str" })
        {
            var full = which switch
            {
                "info" => good.Info,
                "abbrev" => good.Abbrev,
                "line" => good.Line,
                "str" => good.Str,
                _ => good.LineStr,
            };
            if (full is null)
                continue;
            // truncating .debug_info exactly between units is indistinguishable from fewer units
            var unitBoundaries = new HashSet<int>();
            if (which == "info")
            {
                for (int at = 0; at + 4 <= full.Length; at += 4 + (int)BinaryPrimitives.ReadUInt32LittleEndian(full.AsSpan(at)))
                    unitBoundaries.Add(at);
            }
            int step = Math.Max(1, full.Length / 200);
            for (int len = 0; len < full.Length; len += (len < 64 ? 1 : step))
            {
                var cut = full.AsSpan(0, len).ToArray();
                var s = which switch
                {
                    "info" => good with { Info = cut },
                    "abbrev" => good with { Abbrev = cut },
                    "line" => good with { Line = cut },
                    "str" => good with { Str = cut },
                    _ => good with { LineStr = cut },
                };
                var info = ReadNoThrow(s, out var problems);
                bool lostSomething = info.CompileUnits.Count != fullInfo.CompileUnits.Count
                    || info.Lines.Count != fullInfo.Lines.Count
                    || !info.CompileUnits.SequenceEqual(fullInfo.CompileUnits)
                    || !info.Lines.SequenceEqual(fullInfo.Lines);
                if (unitBoundaries.Contains(len))
                    continue;
                if (lostSomething && len > 0)
                    Assert.True(problems.Count > 0, $"{which} truncated to {len}: data lost but no problem reported");
                if (which is "info" or "line" or "abbrev" && len > 0)
                    Assert.NotEmpty(problems);
            }
        }
    }

    [Fact]
    public void RandomGarbage_NeverThrows()
    {
        var rng = new Random(12345);
        int withProblems = 0;
        for (int i = 0; i < 2000; i++)
        {
            byte[]? Garbage() => rng.Next(8) == 0 ? null : RandomBytes(rng, rng.Next(0, 300));
            var s = new DwarfSections(Garbage(), Garbage(), Garbage(), Garbage(), Garbage(), Garbage());
            ReadNoThrow(s, out var problems);
            if (problems.Count > 0)
                withProblems++;
        }
        Assert.True(withProblems > 1000);

        // garbage with a plausible header so the parsers get deeper
        for (int i = 0; i < 2000; i++)
        {
            var info = RandomBytes(rng, rng.Next(12, 200));
            BinaryPrimitives.WriteUInt32LittleEndian(info, (uint)(info.Length - 4 - rng.Next(0, 3)));
            BinaryPrimitives.WriteUInt16LittleEndian(info.AsSpan(4), (ushort)rng.Next(2, 6));
            var line = RandomBytes(rng, rng.Next(12, 400));
            BinaryPrimitives.WriteUInt32LittleEndian(line, (uint)(line.Length - 4));
            BinaryPrimitives.WriteUInt16LittleEndian(line.AsSpan(4), (ushort)rng.Next(2, 6));
            var s = new DwarfSections(info, RandomBytes(rng, 64), line, RandomBytes(rng, 64), RandomBytes(rng, 64), RandomBytes(rng, 64));
            ReadNoThrow(s, out var problems);
            Assert.NotEmpty(problems);
        }
    }

    private static byte[] RandomBytes(Random rng, int n)
    {
        var b = new byte[n];
        rng.NextBytes(b);
        return b;
    }

    [Theory]
    [InlineData("")]
    [InlineData("-gdwarf-4")]
    public void BitFlippedRealSections_NeverThrow(string flags)
    {
        var good = Build(flags).Sections;
        var rng = new Random(777);
        for (int i = 0; i < 1500; i++)
        {
            byte[]? Flip(byte[]? src)
            {
                if (src is null || src.Length == 0 || rng.Next(2) == 0)
                    return src;
                var copy = (byte[])src.Clone();
                int flips = rng.Next(1, 6);
                for (int j = 0; j < flips; j++)
                    copy[rng.Next(copy.Length)] = (byte)rng.Next(256);
                return copy;
            }
            var s = new DwarfSections(Flip(good.Info), Flip(good.Abbrev), Flip(good.Line), Flip(good.Str), Flip(good.LineStr), good.StrOffsets);
            ReadNoThrow(s, out _);
        }
    }

    [Fact]
    public void MissingSections()
    {
        var none = ReadOk(new DwarfSections(null, null, null, null, null));
        Assert.Empty(none.CompileUnits);
        Assert.Empty(none.Lines);
        Assert.Null(none.FindLine(0));

        var good = Build("").Sections;
        DwarfInfo.Read(good with { Abbrev = null }, out var p1);
        Assert.Contains(p1, p => p.Contains(".debug_abbrev", StringComparison.Ordinal));

        var noStr = DwarfInfo.Read(good with { Str = null, LineStr = null }, out var p2);
        Assert.NotEmpty(p2);
        Assert.Equal(2, noStr.CompileUnits.Count);
        Assert.All(noStr.CompileUnits, u => Assert.Null(u.Producer));
    }

    // ---------------------------------------------------------------- hand-built DWARF

    private sealed class Bytes
    {
        public readonly List<byte> B = [];
        public Bytes U8(int v) { B.Add((byte)v); return this; }
        public Bytes U16(int v) { B.Add((byte)v); B.Add((byte)(v >> 8)); return this; }
        public Bytes U32(uint v) { for (int i = 0; i < 4; i++) B.Add((byte)(v >> (8 * i))); return this; }
        public Bytes U64(ulong v) { for (int i = 0; i < 8; i++) B.Add((byte)(v >> (8 * i))); return this; }
        public Bytes Str(string s) { B.AddRange(Encoding.UTF8.GetBytes(s)); B.Add(0); return this; }
        public Bytes Raw(params byte[] bytes) { B.AddRange(bytes); return this; }
        public Bytes Uleb(ulong v)
        {
            do
            {
                byte b = (byte)(v & 0x7f);
                v >>= 7;
                B.Add(v != 0 ? (byte)(b | 0x80) : b);
            } while (v != 0);
            return this;
        }
        public Bytes Sleb(long v)
        {
            while (true)
            {
                byte b = (byte)(v & 0x7f);
                v >>= 7;
                bool done = (v == 0 && (b & 0x40) == 0) || (v == -1 && (b & 0x40) != 0);
                B.Add(done ? b : (byte)(b | 0x80));
                if (done)
                    return this;
            }
        }
        public byte[] ToArray() => [.. B];
        /// <summary>Prefixes a 32-bit unit length.</summary>
        public byte[] WithLength32() => [.. new Bytes().U32((uint)B.Count).B, .. B];
        public byte[] WithLength64() => [.. new Bytes().U32(0xffffffff).U64((ulong)B.Count).B, .. B];
    }

    /// <summary>A DWARF 3 line program exercising opcodes gcc rarely emits, with a custom opcode_base.</summary>
    private static byte[] HandLineProgram(bool endSequence = true, int lineRange = 14)
    {
        var header = new Bytes()
            .U8(1)        // min_inst_length
            .U8(1)        // default_is_stmt
            .U8(unchecked((byte)-5)) // line_base
            .U8(lineRange)
            .U8(15)       // opcode_base: 13 and 14 are vendor standard opcodes
            .Raw(0, 1, 1, 1, 1, 0, 0, 0, 1, 0, 0, 1, /*13*/ 2, /*14*/ 0)
            .Str("inc").Str("/abs").Str("")       // include_directories: 1=inc (relative), 2=/abs
            .Str("a.c").Uleb(0).Uleb(0).Uleb(0)   // file 1
            .Str("b.h").Uleb(1).Uleb(0).Uleb(0)   // file 2
            .Str("");
        var program = new Bytes()
            .U8(0).Uleb(9).U8(2).U64(0x1000)       // set_address 0x1000
            .U8(3).Sleb(9)                         // advance_line -> 10
            .U8(1)                                 // copy: (0x1000, a.c, 10)
            .U8(13).Uleb(300).Uleb(5)              // vendor opcode with two ULEB args: skipped
            .U8(14)                                // vendor opcode without args
            .U8(5).Uleb(7)                         // set_column 7
            .U8(15 + (2 * 14) + (5 + 1))           // special: addr += 2, line += 1 -> (0x1002, a.c, 11, col 7)
            .U8(8)                                 // const_add_pc: addr += (255-15)/14 = 17 -> 0x1013
            .U8(9).U16(0x10)                       // fixed_advance_pc: 0x1023
            .U8(4).Uleb(2)                         // set_file 2
            .U8(0).Uleb(2).U8(4).Uleb(3)           // set_discriminator
            .U8(1)                                 // copy: (0x1023, inc/b.h, 11, col 7)
            .U8(0).Uleb(8).U8(3).Str("c.c").Uleb(2).Uleb(0).Uleb(0) // define_file 3 = /abs/c.c
            .U8(4).Uleb(3)
            .U8(2).Uleb(5)                         // advance_pc 5 -> 0x1028
            .U8(3).Sleb(-3)                        // line 8
            .U8(1)                                 // copy: (0x1028, /abs/c.c, 8)
            .U8(0).Uleb(3).U8(0x80).U8(1).U8(2)    // unknown extended opcode: skipped by length
            .U8(2).Uleb(4);                        // advance_pc -> 0x102c
        if (endSequence)
            program.U8(0).Uleb(1).U8(1);           // end_sequence at 0x102c
        var headerBytes = header.ToArray();
        var body = new Bytes().U16(3).U32((uint)headerBytes.Length).Raw(headerBytes).Raw(program.ToArray());
        return body.WithLength32();
    }

    [Fact]
    public void HandBuiltLineProgram_AllOpcodes()
    {
        var line = HandLineProgram();
        var info = ReadOk(new DwarfSections(null, null, line, null, null));
        Assert.Equal(
        [
            new DwarfLineRow(0x1000, "a.c", 10, 0),
            new DwarfLineRow(0x1002, "a.c", 11, 7),
            new DwarfLineRow(0x1023, "inc/b.h", 11, 7),
            new DwarfLineRow(0x1028, "/abs/c.c", 8, 7),
        ], info.Lines);
        Assert.Null(info.FindLine(0xfff));
        Assert.Equal(10, info.FindLine(0x1001)!.Value.Line);
        Assert.Equal("inc/b.h", info.FindLine(0x1027)!.Value.File);
        Assert.Equal("/abs/c.c", info.FindLine(0x102b)!.Value.File);
        Assert.Null(info.FindLine(0x102c));

        // two copies of the unit: two sequences over the same range, still found
        var twice = ReadOk(new DwarfSections(null, null, [.. line, .. line], null, null));
        Assert.Equal(8, twice.Lines.Count);
        Assert.Equal(8, twice.FindLine(0x1029)!.Value.Line);
    }

    [Fact]
    public void HandBuiltLineProgram_Malformed()
    {
        var noEnd = DwarfInfo.Read(new DwarfSections(null, null, HandLineProgram(endSequence: false), null, null), out var p1);
        Assert.Contains(p1, p => p.Contains("end_sequence", StringComparison.Ordinal));
        Assert.Equal(4, noEnd.Lines.Count);

        var zeroRange = DwarfInfo.Read(new DwarfSections(null, null, HandLineProgram(lineRange: 0), null, null), out var p2);
        Assert.Contains(p2, p => p.Contains("line_range", StringComparison.Ordinal));
        Assert.Empty(zeroRange.Lines);

        // a program consisting of empty extended opcodes / zero advances must terminate
        var good = HandLineProgram();
        var spin = new byte[100_000];
        var loop = (byte[])good.Clone();
        byte[] big = [.. loop.AsSpan(0, loop.Length), .. spin];
        BinaryPrimitives.WriteUInt32LittleEndian(big, (uint)(big.Length - 4));
        var spun = DwarfInfo.Read(new DwarfSections(null, null, big, null, null), out _);
        Assert.Equal(4, spun.Lines.Count);

        // reserved unit length
        DwarfInfo.Read(new DwarfSections(null, null, [0xf0, 0xff, 0xff, 0xff, 0, 0], null, null), out var p3);
        Assert.Contains(p3, p => p.Contains("reserved", StringComparison.Ordinal));

        // unsupported version
        DwarfInfo.Read(new DwarfSections(null, null, new Bytes().U16(9).U32(0).WithLength32(), null, null), out var p4);
        Assert.Contains(p4, p => p.Contains("version", StringComparison.Ordinal));

        // row cap: many copies in one sequence are fine, just make sure a large program is handled
        var many = new Bytes().U16(3);
        var hdr = new Bytes().U8(1).U8(1).U8(unchecked((byte)-5)).U8(14).U8(13).Raw(0, 1, 1, 1, 1, 0, 0, 0, 1, 0, 0, 1).Str("").Str("x.c").Uleb(0).Uleb(0).Uleb(0).Str("");
        var hb = hdr.ToArray();
        many.U32((uint)hb.Length).Raw(hb);
        for (int i = 0; i < 50_000; i++)
            many.U8(13 + 14 + 5); // special opcode: addr += 1, line += 0
        many.U8(0).Uleb(1).U8(1);
        var manyInfo = ReadOk(new DwarfSections(null, null, many.WithLength32(), null, null));
        Assert.Equal(50_000, manyInfo.Lines.Count);
        Assert.Equal("x.c", manyInfo.FindLine(49_999)!.Value.File);
    }

    /// <summary>DWARF 5 compile unit using strx1 + DW_AT_str_offsets_base (clang style) and data2 language.</summary>
    private static (byte[] Info, byte[] Abbrev, byte[] Str, byte[] StrOffsets) HandInfoV5(bool dwarf64)
    {
        var abbrev = new Bytes()
            .Uleb(1).Uleb(0x11).U8(1)                          // code 1: compile_unit, children
            .Uleb(0x25).Uleb(0x25)                              // producer strx1
            .Uleb(0x13).Uleb(0x05)                              // language data2
            .Uleb(0x03).Uleb(0x25)                              // name strx1
            .Uleb(0x72).Uleb(0x17)                              // str_offsets_base sec_offset
            .Uleb(0x1b).Uleb(0x08)                              // comp_dir string
            .Uleb(0x11).Uleb(0x01)                              // low_pc addr
            .Uleb(0x12).Uleb(0x06)                              // high_pc data4
            .Uleb(0x3e).Uleb(0x21).Sleb(-3)                     // implicit_const
            .Uleb(0x10).Uleb(0x1e)                              // data16
            .Uleb(0).Uleb(0)
            .Uleb(0).ToArray();
        var str = new Bytes().Str("clang version 99").Str("x.c").ToArray();
        var offs = new Bytes();
        if (dwarf64)
            offs.U32(0xffffffff).U64(4 + 2 * 8).U16(5).U16(0).U64(0).U64(17);
        else
            offs.U32(4 + 2 * 4).U16(5).U16(0).U32(0).U32(17);
        ulong strOffsetsBase = dwarf64 ? 16ul : 8ul;
        var unit = new Bytes().U16(5).U8(1).U8(8);
        if (dwarf64) unit.U64(0); else unit.U32(0);              // abbrev offset
        unit.Uleb(1).U8(0).U16(0x1d).U8(1);
        if (dwarf64) unit.U64(strOffsetsBase); else unit.U32((uint)strOffsetsBase);
        unit.Str("/src").U64(0x1000).U32(0x20).Raw(new byte[16]).U8(0); // DIE + end of children
        var info = dwarf64 ? unit.WithLength64() : unit.WithLength32();
        return (info, abbrev, str, offs.ToArray());
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void HandBuiltInfo_StrxAndStrOffsetsBase(bool dwarf64)
    {
        var (info, abbrev, str, offs) = HandInfoV5(dwarf64);
        var r = ReadOk(new DwarfSections(info, abbrev, null, str, null, offs));
        Assert.Equal([new DwarfCompileUnit("x.c", "clang version 99", "/src", "DW_LANG_C11")], r.CompileUnits);

        // without .debug_str_offsets the strx strings stay null
        var r2 = ReadOk(new DwarfSections(info, abbrev, null, str, null, null));
        Assert.Equal([new DwarfCompileUnit(null, null, "/src", "DW_LANG_C11")], r2.CompileUnits);

        // unknown form in the abbreviation: problem, no exception
        var badAbbrev = (byte[])abbrev.Clone();
        badAbbrev[Array.IndexOf(badAbbrev, (byte)0x1e)] = 0x7f;
        DwarfInfo.Read(new DwarfSections(info, badAbbrev, null, str, null, offs), out var p);
        Assert.Contains(p, x => x.Contains("form", StringComparison.Ordinal));

        // abbreviation code not in table
        var badCode = (byte[])info.Clone();
        int dieOffset = dwarf64 ? 12 + 2 + 1 + 1 + 8 : 4 + 2 + 1 + 1 + 4;
        badCode[dieOffset] = 9;
        DwarfInfo.Read(new DwarfSections(badCode, abbrev, null, str, null, offs), out var p2);
        Assert.Contains(p2, x => x.Contains("abbreviation code 9", StringComparison.Ordinal));
    }
}
