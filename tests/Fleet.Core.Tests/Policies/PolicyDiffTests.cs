using Fleet.Abstractions.Policy;
using Fleet.Core.Policies;

namespace Fleet.Core.Tests.Policies;

public class PolicyDiffTests
{
    private static FleetPolicy Parse(string yaml)
    {
        var parsed = PolicyParser.Parse(yaml, 1);
        Assert.True(parsed.IsValid, string.Join("; ", parsed.Problems));
        return parsed.Policy!;
    }

    [Fact]
    public void Changes_AreSaidFieldByField_OnEffectiveValues()
    {
        var before = Parse("guardrails:\n  maxConcurrentPerDomain: 1\n");
        var after = Parse("guardrails:\n  maxConcurrentPerDomain: 2\n  window: 30m\nsecurity:\n  approvalRequired: [admin@corp]\n");
        var text = PolicyDiff.Compare(before, after).Select(c => c.ToString()).ToList();
        Assert.Contains("guardrails.maxConcurrentPerDomain 1 → 2", text);
        Assert.Contains(text, t => t.StartsWith("guardrails.window ") && t.EndsWith(" → 30m"));
        Assert.Contains("security.approvalRequired[0] added: admin@corp", text);
        Assert.Equal(3, text.Count);
        Assert.Contains("security.approvalRequired[0] removed (was admin@corp)", PolicyDiff.Compare(after, before).Select(c => c.ToString()));
    }

    [Fact]
    public void ADocumentThatOnlyWritesOutTheDefaults_ChangesNothing()
    {
        var written = PolicyWriter.Write(FleetPolicy.Default);
        Assert.Empty(PolicyDiff.Compare(FleetPolicy.Default, Parse(written)));
        Assert.Empty(PolicyDiff.Compare(Parse("guardrails:\n  maxConcurrentPerDomain: 1\n"), Parse("guardrails: {maxConcurrentPerDomain: 1}\n")));
    }

    [Fact]
    public void LadderRungs_AreComparedByPosition()
    {
        var before = Parse("remediation:\n  ladder:\n    - {action: restart-services, verifyWindow: 2m}\n    - {action: reboot, verifyWindow: 5m}\n");
        var after = Parse("remediation:\n  ladder:\n    - {action: reboot, verifyWindow: 5m}\n");
        var text = PolicyDiff.Compare(before, after).Select(c => c.ToString()).ToList();
        Assert.Contains("remediation.ladder[0].action restart-services → reboot", text);
        Assert.Contains("remediation.ladder[1].action removed (was reboot)", text);
    }
}
