using Fleet.Abstractions.Audit;
using Fleet.Abstractions.Supervision;

namespace Fleet.Grains.Tests.Supervision;

public sealed class IncidentCluster : FleetTestCluster
{
    protected override string PolicyYaml => """
        guardrails:
          stormBrakeHolds: allDisruptive
        """;
}

/// <summary>Incidents on an in-process silo: a storm's records — the domain's brake and the denials it caused — share one incident id.</summary>
public class IncidentTests(IncidentCluster f) : IClassFixture<IncidentCluster>
{
    [Fact]
    public async Task AStormsRecords_ShareItsIncident_WhileEachCaseKeepsItsOwnId()
    {
        foreach (var i in Enumerable.Range(1, 5)) await f.RegisterAsync($"inc-{i}", "d-inc");
        foreach (var i in Enumerable.Range(1, 3))
            for (var r = 0; r < 3; r++) await f.ReportAsync($"inc-{i}", healthy: false);

        var frozen = Assert.Single(await f.TrailAsync("domain/d-inc"), r => r.Kind == DecisionKinds.Frozen);
        Assert.NotNull(frozen.IncidentId);
        Assert.StartsWith("storm/d-inc/", frozen.IncidentId);

        var page = await f.Client.GetGrain<IAuditGrain>(0).QueryAsync(new AuditQuery(Limit: 1000) { Incident = frozen.IncidentId });
        var records = page.Records;
        Assert.Contains(records, r => r.Kind == DecisionKinds.Frozen && r.Subject == "domain/d-inc");
        var denials = records.Where(r => r.Kind == DecisionKinds.Denied && r.Guardrail == Guardrails.StormBrake).ToList();
        Assert.NotEmpty(denials);
        Assert.All(denials, d => Assert.StartsWith("node/inc-", d.Subject));
        Assert.All(denials, d => Assert.NotNull(d.CaseId));
        Assert.All(records, r => Assert.Equal(frozen.IncidentId, r.IncidentId));

        // The same node's proposal belongs to its own case's incident (the case id).
        var node = denials[0].Subject;
        var proposed = (await f.TrailAsync(node)).First(r => r.Kind == DecisionKinds.Proposed);
        Assert.Equal(denials[0].CaseId, proposed.CaseId);
        Assert.Equal(proposed.CaseId, proposed.IncidentId);
    }
}
