using System.Collections.Immutable;
using Fleet.Abstractions.Audit;
using Fleet.Core.Incidents;

namespace Fleet.Core.Tests.Incidents;

public class IncidentReportTests
{
    private static readonly DateTimeOffset T0 = new(2026, 12, 2, 10, 0, 0, TimeSpan.Zero);

    private static DecisionRecord R(int seconds, string subject, string kind, string reason, string incident, string? action = null, string? guardrail = null, string? outcome = null) =>
        new($"r{seconds:D5}{subject}", T0.AddSeconds(seconds), subject, subject, kind, action, reason, ImmutableDictionary<string, string>.Empty, null, 1, guardrail, outcome, incident, null);

    [Fact]
    public void Postmortem_OfACase_TellsTheTimelineInOrder_WithEachReason_AndTheOpenQuestion()
    {
        const string id = "case-1";
        var records = new[]
        {
            // Given out of order: the report sorts by time.
            R(130, "node/web-1", DecisionKinds.Failed, "Restarted services did not heal node web-1: check 'http' failed persisted past the verify window.", id, "restart-services", outcome: "symptom-persisted"),
            R(0, "node/web-1", DecisionKinds.HealthChanged, "Judged node web-1 Unhealthy (was Healthy): check 'http' failed.", id),
            R(1, "node/web-1", DecisionKinds.Proposed, "Proposed restart-services for node web-1: check 'http' failed.", id, "restart-services"),
            R(2, "node/web-1", DecisionKinds.Permitted, "Permitted restart-services on node web-1: rack-a had 0 of 1 action slots in use.", id, "restart-services"),
            R(10, "node/web-1", DecisionKinds.Executed, "Restarted services on node web-1.", id, "restart-services"),
            R(131, "node/web-1", DecisionKinds.HandedToHuman, "Handed node web-1 to a human: restart-services did not clear the symptom.", id, "human"),
        };
        var text = IncidentReport.Postmortem(id, records, T0.AddMinutes(10));
        Assert.StartsWith("# Postmortem: node/web-1: Proposed restart-services for node web-1", text);
        Assert.Contains("outcome: **handed to a person** (still open)", text);
        var timeline = text[text.IndexOf("## Timeline", StringComparison.Ordinal)..text.IndexOf("## Signals", StringComparison.Ordinal)];
        var order = new[] { "health-changed", "proposed restart-services", "permitted restart-services", "executed restart-services", "failed restart-services", "handed-to-human human" }
            .Select(k => timeline.IndexOf(k, StringComparison.Ordinal)).ToArray();
        Assert.All(order, i => Assert.True(i > 0));
        Assert.Equal(order.Order().ToArray(), order);
        Assert.Contains("| 10:00:02 | node/web-1 | permitted restart-services | Permitted restart-services on node web-1: rack-a had 0 of 1 action slots in use. |", text);
        Assert.Contains("No ladder rung healed this symptom", text);
        Assert.Contains("restart-services failed 1 time(s) here", text);
        Assert.Contains("* node/web-1: 10 min from the first sign of trouble (10:00:00) to now (not recovered).", text);
    }

    [Fact]
    public void AStorm_GroupsTheDomainsBrakeAndTheDenialsItCaused_AndAsksWhetherRealFailuresWaited()
    {
        const string id = "storm/rack-a/20261202T100000Z";
        var records = new[]
        {
            R(0, "domain/rack-a", DecisionKinds.Frozen, "Froze disruptive actions in rack-a: 3 of 5 members troubled.", id, guardrail: "storm-brake"),
            R(5, "node/a1", DecisionKinds.Denied, "Denied reboot on node a1: the storm brake is on in rack-a.", id, "reboot", "storm-brake"),
            R(6, "node/a2", DecisionKinds.Denied, "Denied reboot on node a2: the storm brake is on in rack-a.", id, "reboot", "storm-brake"),
            R(600, "domain/rack-a", DecisionKinds.Thawed, "Lifted the storm freeze in rack-a.", id, guardrail: "storm-brake"),
            R(700, "node/b1", DecisionKinds.Proposed, "Proposed restart-services for node b1.", "case-9", "restart-services"),
        };
        var incidents = IncidentReport.Group(records);
        Assert.Equal(2, incidents.Length);
        var storm = incidents.Single(i => i.Id == id);
        Assert.Equal("storm", storm.Kind);
        Assert.Equal(["domain/rack-a", "node/a1", "node/a2"], storm.Subjects.ToArray());
        Assert.Equal("the brake was lifted", storm.Outcome);
        Assert.False(storm.Open);
        Assert.Equal("Storm in rack-a: 2 node(s) held back", storm.Title);
        var text = IncidentReport.Postmortem(id, records.Where(r => r.IncidentId == id).ToList(), T0.AddHours(1));
        Assert.Contains("The storm brake held for 10 min while 2 node(s) asked for an action", text);
        Assert.Contains("* storm-brake: 4 time(s)", text);
    }
}
