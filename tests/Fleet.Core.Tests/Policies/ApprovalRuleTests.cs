using Fleet.Abstractions.Supervision;
using Fleet.Core.Policies;

namespace Fleet.Core.Tests.Policies;

/// <summary>Approvals by action, by class and by size: parsed with problems by path, written back, and matched against lease requests.</summary>
public class ApprovalRuleTests
{
    private const string Yaml = """
        oversight:
          approvals:
            actions: [replace]
            classes: [containment]
            rules:
              - {action: rollback, moreThan: 10}
              - {class: reroute, moreThan: 100}
        """;

    private static LeaseRequest Request(string action, ActionClass c, int size) => new("r1", "service/api", action, 1, [], c) { Size = size };

    [Theory]
    [InlineData("rollback", ActionClass.Rollout, 10, null)]
    [InlineData("rollback", ActionClass.Rollout, 11, "oversight.approvals.rules[0]: rollback touching more than 10, and this one touches 11")]
    [InlineData("rollout", ActionClass.Rollout, 50, null)] // the rule names rollback only
    [InlineData("reroute", ActionClass.Reroute, 101, "oversight.approvals.rules[1]: every reroute action touching more than 100, and this one touches 101")]
    [InlineData("reroute", ActionClass.Reroute, 100, null)]
    [InlineData("replace", ActionClass.Disruptive, 1, "oversight.approvals.actions (replace)")]
    [InlineData("revoke-tokens", ActionClass.Containment, 1, "oversight.approvals.classes (containment)")]
    [InlineData("restart-services", ActionClass.Disruptive, 1000, null)]
    public void ARequestWaitsForAPerson_WhenAnActionAClassOrASizeRuleSaysSo(string action, ActionClass c, int size, string? reason)
    {
        var policy = PolicyParser.Parse(Yaml);
        Assert.True(policy.IsValid, string.Join("\n", policy.Problems));
        Assert.Equal(reason, policy.Policy!.Oversight.ApprovalReason(Request(action, c, size)));
    }

    [Fact]
    public void TheRulesAreWrittenBack_AsTheyWereRead()
    {
        var policy = PolicyParser.Parse(Yaml).Policy!;
        var again = PolicyParser.Parse(PolicyWriter.Write(policy));
        Assert.True(again.IsValid, string.Join("\n", again.Problems));
        Assert.Equal(policy.Oversight.ApprovalRules.ToArray(), again.Policy!.Oversight.ApprovalRules.ToArray());
        Assert.Equal(policy.Oversight.ApprovalClasses.ToArray(), again.Policy.Oversight.ApprovalClasses.ToArray());
    }

    [Fact]
    public void BadRules_AreRefusedByPath_NothingApplied()
    {
        var r = PolicyParser.Parse("""
            oversight:
              approvals:
                classes: [containment, sometimes]
                rules:
                  - {moreThan: 3}
                  - {action: rollback}
                  - {class: loud, moreThan: 1}
                  - {action: human, moreThan: 0}
                  - {action: rollback, moreThan: -1}
                  - just a string
            """);
        Assert.False(r.IsValid);
        var problems = r.Problems.ToDictionary(p => p.Path, p => p.Message);
        Assert.Contains("'sometimes' is not a class of action", problems["oversight.approvals.classes[1]"]);
        Assert.Contains("names no action and no class", problems["oversight.approvals.rules[0]"]);
        Assert.Contains("is required", problems["oversight.approvals.rules[1].moreThan"]);
        Assert.Contains("'loud' is not a class of action", problems["oversight.approvals.rules[2].class"]);
        Assert.Contains("is a person already", problems["oversight.approvals.rules[3].action"]);
        Assert.True(problems.ContainsKey("oversight.approvals.rules[4].moreThan"));
        Assert.Contains("must be a mapping", problems["oversight.approvals.rules[5]"]);
    }
}
