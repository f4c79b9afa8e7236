using UklLink.X86_64;
using Xunit;
using static UklLink.X86_64.RelocationTypes;

namespace UklLink.Tests.Link;

/// <summary>
/// The relocation table (X86_64/RelocationTypes.cs) is the one place the passes read relocation facts from; these
/// check its columns against the psABI and against each other, so a row typed wrong fails here before it changes a link.
/// </summary>
public class RelocationTableTests
{
    [Fact]
    public void EveryNumberHasOneRowNamedAfterItsConstant()
    {
        var constants = typeof(RelocationTypes).GetFields().Where(f => f.IsLiteral && f.Name.StartsWith("R_X86_64_", StringComparison.Ordinal))
            .ToDictionary(f => (uint)f.GetRawConstantValue()!, f => f.Name);
        Assert.Equal(constants.Count, All.Count);
        Assert.Equal(All.Count, All.Select(t => t.Number).Distinct().Count());
        foreach (var t in All)
            Assert.Equal(constants[t.Number], t.Name);
    }

    [Fact]
    public void GotLoadsAreExactlyTheGotpcrelTriple()
    {
        Assert.Equal(new[] { R_X86_64_GOTPCREL, R_X86_64_GOTPCRELX, R_X86_64_REX_GOTPCRELX }, All.Where(t => t.GotLoad).Select(t => t.Number));
        Assert.Equal(new[] { R_X86_64_GOTPCRELX, R_X86_64_REX_GOTPCRELX }, All.Where(t => t.RelaxableGotLoad).Select(t => t.Number));
        Assert.Equal(new[] { R_X86_64_GOTOFF64, R_X86_64_GOTPC32, R_X86_64_GOTPC64 }, All.Where(t => t.UsesGotBase).Select(t => t.Number));
    }

    [Fact]
    public void PcRelativeMatchesThePsAbiFormulas()
    {
        uint[] expected =
        [
            R_X86_64_PC32, R_X86_64_PLT32, R_X86_64_GOTPCREL, R_X86_64_PC16, R_X86_64_PC8, R_X86_64_TLSGD, R_X86_64_TLSLD,
            R_X86_64_GOTTPOFF, R_X86_64_PC64, R_X86_64_GOTPC32, R_X86_64_GOTPC64, R_X86_64_GOTPC32_TLSDESC,
            R_X86_64_GOTPCRELX, R_X86_64_REX_GOTPCRELX,
        ];
        Assert.Equal(expected, All.Where(t => t.PcRelative).Select(t => t.Number));
        // Every type whose expression subtracts P is marked PC-relative.
        Assert.All(All.Where(t => t.Expression is RelocationExpression.PcRelative or RelocationExpression.GotEntryPcRelative or RelocationExpression.GotBasePcRelative),
            t => Assert.True(t.PcRelative, t.Name));
    }

    [Fact]
    public void OverflowCheckFollowsFieldWidthAndSignedness()
    {
        foreach (var t in All.Where(t => t.Class is not (RelocationClass.Unsupported or RelocationClass.None)))
        {
            if (t.FieldSize == 8)
                Assert.Equal(OverflowCheck.None, t.Overflow);
            else if (t.Number == R_X86_64_TLSLD)
                Assert.Equal(OverflowCheck.None, t.Overflow); // the sequence is rewritten; no value is written
            else if (t.Number is R_X86_64_32 or R_X86_64_16 or R_X86_64_8 or R_X86_64_SIZE32)
                Assert.Equal(OverflowCheck.Unsigned, t.Overflow);
            else
                Assert.Equal(OverflowCheck.Signed, t.Overflow);
        }
        Assert.All(All.Where(t => t.Class == RelocationClass.Unsupported), t => Assert.Equal(OverflowCheck.None, t.Overflow));
    }

    [Fact]
    public void OnlySupportedFieldsMoveIntoATrampoline()
    {
        var movable = All.Where(t => t.Move != WindowMove.Never).ToList();
        Assert.All(movable, t => Assert.True(t.FieldSize > 0 && t.Class != RelocationClass.Unsupported, t.Name));
        Assert.Equal(new[] { R_X86_64_PC32, R_X86_64_PLT32 }, movable.Where(t => t.Move == WindowMove.RipDisplacementOrBranch).Select(t => t.Number));
        // A GOT or TLS load relaxation reads the bytes before its field: only as a RIP displacement, and flagged so.
        Assert.All(movable.Where(t => t.Move == WindowMove.RipDisplacement), t => Assert.True(t.RewritesInstruction, t.Name));
        Assert.All(movable.Where(t => t.Move == WindowMove.UnlessBranchTarget), t => Assert.False(t.PcRelative, t.Name));
    }

    [Fact]
    public void DwarfRelevantTypesAreTheAddressAndDtpOffsetFields()
    {
        Assert.Equal(new[] { R_X86_64_64, R_X86_64_32, R_X86_64_32S, R_X86_64_DTPOFF64, R_X86_64_DTPOFF32 },
            All.Where(t => t.DwarfRelevant).Select(t => t.Number));
        Assert.All(All.Where(t => t.DwarfRelevant), t => Assert.Contains(t.FieldSize, new[] { 4, 8 }));
    }

    [Fact]
    public void UnknownNumbersAreUnsupportedAndInert()
    {
        var t = Get(200);
        Assert.Equal(RelocationClass.Unsupported, t.Class);
        Assert.Equal(WindowMove.Never, t.Move);
        Assert.False(t.PcRelative || t.GotLoad || t.DwarfRelevant);
    }
}
