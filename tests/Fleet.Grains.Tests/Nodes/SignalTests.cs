using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Net;
using System.Net.Sockets;
using Fleet.Abstractions.Audit;
using Fleet.Abstractions.Nodes;
using Fleet.Abstractions.Supervision;

namespace Fleet.Grains.Tests.Nodes;

public sealed class SignalCluster : FleetTestCluster
{
    protected override string PolicyYaml => """
        telemetry:
          reportInterval: 1s
          allowedMisses: 3
          maxClockSkew: 30s
        health:
          unhealthyAfterFailedReports: 2
        remediation:
          cooldown: 0s
        guardrails:
          fleetMaxConcurrent: 1000
          stormMinMembers: 3
          stormThreshold: 0.5
        probes:
          allowedNetworks: [127.0.0.0/8]
        """;
}

/// <summary>Signals Fleet can believe: silence confirmed by a probe before acting, the evidence-aware storm brake, data integrity.</summary>
public sealed class SignalTests(SignalCluster f) : IClassFixture<SignalCluster>, IDisposable
{
    private readonly List<TcpListener> _listeners = [];

    /// <summary>A loopback port that accepts connections (a live node's probe address).</summary>
    private string Alive()
    {
        var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        _listeners.Add(l);
        _ = Task.Run(async () =>
        {
            try { while (true) (await l.AcceptTcpClientAsync()).Dispose(); } catch (Exception) { /* stopped */ }
        });
        return $"127.0.0.1:{((IPEndPoint)l.LocalEndpoint).Port}";
    }

    /// <summary>A loopback port nothing listens on (a dead node's probe address: connection refused).</summary>
    private static string Dead()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return $"127.0.0.1:{((IPEndPoint)l.LocalEndpoint).Port}";
    }

    private async Task RegisterAsync(string id, string domain, string? probe)
    {
        await f.Node(id).RegisterAsync(new NodeRegistration(id, domain, new NodeCapacity(8, 16 * FleetTestCluster.Gi, 100 * FleetTestCluster.Gi), ImmutableDictionary<string, string>.Empty)
        {
            Probe = probe is null ? null : new NodeProbe(ProbeKind.Tcp, probe, TimeSpan.FromSeconds(1)),
        });
        await f.ReportAsync(id);
    }

    /// <summary>Moves time on in 1 s steps; the listed nodes keep reporting (healthy unless named in <paramref name="failing"/>).</summary>
    private Task StepAsync(int seconds, IEnumerable<string> reporting, ISet<string>? failing = null) =>
        f.AdvanceAsync(TimeSpan.FromSeconds(seconds), TimeSpan.FromSeconds(1), async () =>
        {
            foreach (var n in reporting) await f.ReportAsync(n, healthy: failing is null || !failing.Contains(n));
        });

    [Fact]
    public async Task NodeKilled_ProbeFails_UnhealthyAtOnceAfterTheSuspectHold_ActedOn()
    {
        await RegisterAsync("sg-dead", "d-sg-dead", Dead());
        var lastReport = f.Time.GetUtcNow();
        await StepAsync(5, []);
        await FleetTestCluster.EventuallyAsync(async () => f.Actuator.History.Any(a => a.Target == "sg-dead"), "the dead node was acted on");

        var trail = await f.TrailAsync("node/sg-dead");
        var suspect = trail.First(r => r.Kind == DecisionKinds.HealthChanged && r.Reason.Contains("Judged node sg-dead Suspect"));
        var unhealthy = trail.First(r => r.Kind == DecisionKinds.HealthChanged && r.Reason.Contains("Judged node sg-dead Unhealthy"));
        var permitted = trail.First(r => r.Kind == DecisionKinds.Permitted);
        Assert.True(suspect.Time - lastReport <= TimeSpan.FromSeconds(4), $"Suspect after {suspect.Time - lastReport}");
        Assert.True(unhealthy.Time - suspect.Time <= TimeSpan.FromSeconds(1), "Unhealthy within one probe timeout of the Suspect hold, not after a second hold");
        Assert.Contains("the silo's probe (tcp 127.0.0.1:", unhealthy.Reason);
        Assert.Contains("connection refused) confirms it unreachable", unhealthy.Reason);
        Assert.Contains(trail, r => r.Kind == DecisionKinds.Observed && r.Reason.Contains("no answer, so its death is confirmed"));
        Assert.True(permitted.Time - suspect.Time <= TimeSpan.FromSeconds(1));
    }

    private sealed class FakeAgent(bool peerReachable) : Fleet.Abstractions.Agents.IAgentObserver
    {
        public ConcurrentBag<string> Asked { get; } = [];

        public Task<Fleet.Abstractions.Agents.AgentActionResult> ExecuteAsync(Fleet.Abstractions.Agents.SignedAction action) =>
            Task.FromResult(new Fleet.Abstractions.Agents.AgentActionResult(action.Request.IdempotencyKey, true, "ok"));

        public Task<Fleet.Abstractions.Agents.AgentActionResult?> OutcomeAsync(string idempotencyKey) =>
            Task.FromResult<Fleet.Abstractions.Agents.AgentActionResult?>(null);

        public Task<PeerProbe?> ProbePeerAsync(string peerNodeId)
        {
            Asked.Add(peerNodeId);
            return Task.FromResult<PeerProbe?>(new PeerProbe(peerNodeId, peerReachable, peerReachable ? "connected" : "connection refused"));
        }
    }

    [Fact]
    public async Task SilentNodeWithoutAProbe_ItsPeersAgentsAreAskedAtOnce_TheyConfirmItDead()
    {
        await RegisterAsync("sg-ind", "d-sg-ind", probe: null);
        await RegisterAsync("sg-ind-p1", "d-sg-ind-p", probe: null);
        // sg-ind-p1's agent probes sg-ind: its view was passed on once, long before sg-ind falls silent.
        await f.Node("sg-ind-p1").ReportAsync(new TelemetryReport(1000, f.Time.GetUtcNow(), TimeSpan.FromSeconds(30), 10, FleetTestCluster.Gi, 16 * FleetTestCluster.Gi, 10, [])
        {
            Peers = [new PeerProbe("sg-ind", true)],
        });
        var agent = new FakeAgent(peerReachable: false);
        var reference = f.Client.CreateObjectReference<Fleet.Abstractions.Agents.IAgentObserver>(agent);
        await f.Client.GetGrain<Fleet.Abstractions.Agents.IAgentGrain>("sg-ind-p1").AttachAsync(reference, "fake-agent");

        await StepAsync(6, ["sg-ind-p1"]);
        await FleetTestCluster.EventuallyAsync(async () => await f.HealthAsync("sg-ind") is HealthState.Unhealthy or HealthState.Remediating, "the peers confirmed it dead");
        Assert.Contains("sg-ind", agent.Asked);
        var trail = await f.TrailAsync("node/sg-ind");
        var unhealthy = trail.First(r => r.Kind == DecisionKinds.HealthChanged && r.Reason.Contains("Judged node sg-ind Unhealthy"));
        Assert.True(unhealthy.Reason.Contains("its peers sg-ind-p1 confirm it unreachable"), unhealthy.Reason);
        Assert.DoesNotContain("twice over", unhealthy.Reason);
    }

    [Fact]
    public async Task ReportsStopButTheProbeAnswers_NeverRemediated_TheRecordSaysThePathIsBroken()
    {
        await RegisterAsync("sg-cut", "d-sg-cut", Alive());
        await StepAsync(20, []);
        var status = (await f.Node("sg-cut").GetStatusAsync())!;
        Assert.Equal(HealthState.Suspect, status.Health);
        Assert.Contains(status.Conditions, c => c.Type == "PeerReachable" && c.Reason.Contains("still reaches it: the path to the monitor is broken, not the node"));
        Assert.DoesNotContain(f.Actuator.History, a => a.Target == "sg-cut");
        var trail = await f.TrailAsync("node/sg-cut");
        Assert.Single(trail, r => r.Kind == DecisionKinds.Observed && r.Reason.Contains("it answers, so the path to the monitor is what is broken"));
        Assert.DoesNotContain(trail, r => r.Kind is DecisionKinds.Proposed or DecisionKinds.Permitted);
    }

    [Fact]
    public async Task WholeRackStopsReportingWhileProbesAnswer_NoAction()
    {
        var rack = Enumerable.Range(1, 5).Select(i => $"sg-rk-{i}").ToArray();
        foreach (var n in rack) await RegisterAsync(n, "d-sg-rack", Alive());
        await StepAsync(20, []);
        Assert.All(await Task.WhenAll(rack.Select(f.HealthAsync)), h => Assert.Equal(HealthState.Suspect, h));
        Assert.DoesNotContain(f.Actuator.History, a => rack.Contains(a.Target));
        Assert.DoesNotContain(await f.TrailAsync("node/sg-rk-1"), r => r.Kind == DecisionKinds.Proposed);
    }

    [Fact]
    public async Task StormOfSilence_ARealCrashInTheSameRackIsStillHealed_SilentNeighboursAreNot()
    {
        var rack = Enumerable.Range(1, 5).Select(i => $"sg-st-{i}").ToArray();
        foreach (var n in rack) await RegisterAsync(n, "d-sg-storm", probe: null); // nothing to confirm their silence
        // Three go silent (the monitoring path is cut): the storm brake freezes the rack. Then one of the two still
        // reporting reports a failing check.
        await StepAsync(5, ["sg-st-4", "sg-st-5"]);
        Assert.True((await f.Client.GetGrain<IDomainSupervisorGrain>("d-sg-storm").GetStatusAsync()).StormBrakeOn, "the storm brake is on");
        await StepAsync(8, ["sg-st-4", "sg-st-5"], new HashSet<string> { "sg-st-4" });
        await FleetTestCluster.EventuallyAsync(async () => f.Actuator.History.Any(a => a.Target == "sg-st-4"), "the crashed node was acted on");

        var domainTrail = await f.TrailAsync("domain/d-sg-storm");
        Assert.Contains(domainTrail, r => r.Kind == DecisionKinds.Frozen && r.Guardrail == Guardrails.StormBrake);
        var permitted = (await f.TrailAsync("node/sg-st-4")).Single(r => r.Kind == DecisionKinds.Permitted);
        Assert.Contains("but holds only actions on unconfirmed silence, and this one rests on what the node itself reports (a failed check)", permitted.Reason);
        foreach (var silent in new[] { "sg-st-1", "sg-st-2", "sg-st-3" })
        {
            Assert.DoesNotContain(f.Actuator.History, a => a.Target == silent);
            var denied = (await f.TrailAsync($"node/{silent}")).Where(r => r.Kind == DecisionKinds.Denied).ToList();
            Assert.Contains(denied, d => d.Guardrail == Guardrails.StormBrake && d.Reason.Contains("as this one does") && d.Evidence.ContainsKey("storm"));
        }
    }

    [Fact]
    public async Task RestartedReporterWithANewBootId_Accepted_SequenceStartsAgain()
    {
        await RegisterAsync("sg-boot", "d-sg-boot", null);
        var node = f.Node("sg-boot");
        TelemetryReport Report(long seq, string boot) => new TelemetryReport(seq, f.Time.GetUtcNow(), TimeSpan.FromSeconds(30), 10, FleetTestCluster.Gi, 16 * FleetTestCluster.Gi, 10, []) { BootId = boot };
        Assert.Equal(ReportOutcome.Accepted, (await node.ReportAsync(Report(500, "boot-a"))).Outcome);
        Assert.Equal(ReportOutcome.DuplicateOrOutOfOrder, (await node.ReportAsync(Report(1, "boot-a"))).Outcome);
        Assert.Equal(ReportOutcome.Accepted, (await node.ReportAsync(Report(1, "boot-b"))).Outcome);
        Assert.Equal(ReportOutcome.Accepted, (await node.ReportAsync(Report(2, "boot-b"))).Outcome);
        var status = (await node.GetStatusAsync())!;
        Assert.Equal(("boot-b", 2L), (status.BootId, status.LastSequence));
        Assert.Equal(1, status.RefusedReports["DuplicateOrOutOfOrder"]);
        Assert.Contains(await f.TrailAsync("node/sg-boot"), r => r.Kind == DecisionKinds.Observed && r.Reason.Contains("started a new run (boot id boot-a → boot-b); its sequence starts again at 1"));
    }

    [Fact]
    public async Task TimestampAheadOfTheSilosClock_RefusedAndCounted_NeverJudgedHealthy()
    {
        await RegisterAsync("sg-skew", "d-sg-skew", null);
        var node = f.Node("sg-skew");
        var before = (await node.GetStatusAsync())!;
        var ahead = new TelemetryReport(99, f.Time.GetUtcNow().AddMinutes(2), TimeSpan.FromSeconds(30), 10, FleetTestCluster.Gi, 16 * FleetTestCluster.Gi, 10, []);
        Assert.Equal(ReportOutcome.Skewed, (await node.ReportAsync(ahead)).Outcome);
        Assert.Equal(ReportOutcome.Skewed, (await node.ReportAsync(ahead with { Sequence = 100 })).Outcome);
        var after = (await node.GetStatusAsync())!;
        Assert.Equal(2, after.RefusedReports["Skewed"]);
        Assert.Equal(before.LastSequence, after.LastSequence);
        Assert.Equal(before.LastReportAt, after.LastReportAt);
    }

    public void Dispose()
    {
        foreach (var l in _listeners) l.Stop();
    }
}

public sealed class UnconfirmedSilenceCluster : FleetTestCluster
{
    protected override string PolicyYaml => """
        telemetry:
          reportInterval: 1s
          allowedMisses: 3
        guardrails:
          fleetMaxConcurrent: 1000
        probes:
          actOnUnconfirmedSilence: false
        """;
}

public sealed class UnconfirmedSilenceTests(UnconfirmedSilenceCluster f) : IClassFixture<UnconfirmedSilenceCluster>
{
    [Fact]
    public async Task PolicyForbidsActingOnUnconfirmedSilence_NodeStaysSuspect_SayingWhy()
    {
        await f.RegisterAsync("us-1", "d-us");
        await f.ReportAsync("us-1");
        await f.AdvanceAsync(TimeSpan.FromSeconds(20), TimeSpan.FromSeconds(1));
        var status = (await f.Node("us-1").GetStatusAsync())!;
        Assert.Equal(HealthState.Suspect, status.Health);
        Assert.Contains(status.Conditions, c => c.Type == "UnconfirmedSilence" && c.Reason.Contains("the policy forbids acting on unconfirmed silence"));
        Assert.DoesNotContain(f.Actuator.History, a => a.Target == "us-1");
    }
}
