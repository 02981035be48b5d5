using Fleet.Core.Documents;

namespace Fleet.Core.Tests.Documents;

public class DocumentLimitsTests
{
    [Theory]
    [InlineData("a: 1\nb: [1, 2, {c: 3}]\n")]
    [InlineData("")]
    [InlineData("base: &b {x: 1}\nuse: *b\n")]
    [InlineData("not: [valid")] // not YAML: the reader says why, not the limits
    public void Check_AnOrdinaryDocument_PassesEveryLimit(string yaml) => Assert.Null(DocumentLimits.Check(yaml));

    [Fact]
    public void Check_NestingPastTheDepth_IsRefused_AtItsLine_WithoutRecursing()
    {
        Assert.Null(DocumentLimits.Check(new string('[', DocumentLimits.MaxDepth) + new string(']', DocumentLimits.MaxDepth)));
        var problem = DocumentLimits.Check("a:\n  b: " + new string('[', 200_000));
        Assert.Equal("depth", problem?.Limit);
        Assert.Equal(2, problem?.Line);
    }

    [Fact]
    public void Check_AnAliasBomb_IsRefusedAtItsExpandedSize()
    {
        var bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + string.Concat(Enumerable.Range(1, 8).Select(i => $"a{i}: &a{i} [{string.Join(", ", Enumerable.Repeat(i == 1 ? "*a" : $"*a{i - 1}", 10))}]\n"));
        Assert.True(bomb.Length < 1000);
        Assert.Equal("nodes", DocumentLimits.Check(bomb)?.Limit);
    }

    [Theory]
    [InlineData("? &a [ *a ]\n: x\n")]
    [InlineData("a: &a {b: *a}\n")]
    [InlineData("a: &a [1, [2, *a]]\n")]
    public void Check_AnAliasInsideTheNodeItNames_IsRefused_BeforeAnyReaderLoopsOnIt(string yaml)
    {
        Assert.Equal("recursion", DocumentLimits.Check(yaml)?.Limit);
        var parsed = Fleet.Core.Policies.PolicyParser.Parse(yaml);
        Assert.False(parsed.IsValid);
        Assert.Contains(parsed.Problems, p => p.Message.Contains("past a limit (recursion)"));
    }

    [Fact]
    public void Check_AHugeValue_ManyKeys_AndAHugeDocument_AreEachRefused()
    {
        Assert.Equal("value", DocumentLimits.Check("a: " + new string('x', DocumentLimits.MaxScalarChars + 1))?.Limit);
        Assert.Equal("nodes", DocumentLimits.Check("{" + string.Join(",", Enumerable.Range(0, 26_000).Select(i => $"k{i}: 1")) + "}")?.Limit);
        Assert.Equal("size", DocumentLimits.Check(new string('#', DocumentLimits.MaxChars + 1))?.Limit);
    }
}

