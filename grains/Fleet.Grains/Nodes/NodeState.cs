using System.Collections.Immutable;
using Fleet.Abstractions.Nodes;
using Fleet.Abstractions.Supervision;
using Fleet.Core.Health;
using Fleet.Core.Remediation;

namespace Fleet.Grains.Nodes;

[GenerateSerializer, Immutable, Alias("fleet.NodeState")]
public sealed record NodeState(
    [property: Id(0)] NodeRegistration? Registration,
    [property: Id(1)] NodeHealthModel Health,
    [property: Id(2)] AdminState Admin,
    [property: Id(3)] RemediationCase? Case,
    [property: Id(4)] RemediationHistory History,
    [property: Id(5)] HealthState Effective,
    [property: Id(6)] DateTimeOffset EffectiveSince,
    [property: Id(7)] int PolicyVersion)
{
    public NodeState() : this(null, NodeHealthModel.Initial(DateTimeOffset.UnixEpoch), AdminState.None, null,
        RemediationHistory.Empty, HealthState.Unknown, DateTimeOffset.UnixEpoch, 0) { }

    /// <summary>The lease an operator's drain holds until the node's instances have moved away (or it expires).</summary>
    [Id(8)] public HeldLease? DrainLease { get; init; }

    /// <summary>Reports refused since registration, by outcome (soft: written with the checkpoint).</summary>
    [Id(9)] public ImmutableDictionary<ReportOutcome, long> Refused { get; init; } = ImmutableDictionary<ReportOutcome, long>.Empty;

    /// <summary>Alerts firing on the node from the team's own alerting, by fingerprint (<see cref="ExternalAlert"/>).</summary>
    [Id(10)] public ImmutableDictionary<string, ExternalAlert> Alerts { get; init; } = ImmutableDictionary<string, ExternalAlert>.Empty;

    /// <summary>Alert episodes resolved, by fingerprint with their start: a late or replayed firing of one does not bring it back.</summary>
    [Id(11)] public ImmutableDictionary<string, DateTimeOffset> ResolvedAlerts { get; init; } = ImmutableDictionary<string, DateTimeOffset>.Empty;

    /// <summary>Where the node is in its life (burn-in, serving, draining to retire, retired, quarantined); none stored: serving.</summary>
    [Id(12)] public Fleet.Core.Lifecycle.NodeLife? Life { get; init; }

    /// <summary>The node's stage of life.</summary>
    public LifecycleStage Stage => Life?.Stage ?? LifecycleStage.Serving;

    /// <summary>The health shown to people: operator states and remediation phases over the judged health.</summary>
    public HealthState Derive()
    {
        if (Admin == AdminState.Decommissioned) return HealthState.Decommissioned;
        switch (Stage)
        {
            case LifecycleStage.BurnIn: return HealthState.BurnIn;
            case LifecycleStage.Quarantined: return HealthState.Quarantined;
        }
        switch (Case?.Phase)
        {
            case RemediationPhase.Acting or RemediationPhase.Verifying: return HealthState.Remediating;
            case RemediationPhase.Probation: return HealthState.Probation;
        }
        var judged = Health.Health;
        if (judged is HealthState.Suspect or HealthState.Unhealthy) return judged;
        return Admin switch
        {
            AdminState.Draining => HealthState.Draining,
            AdminState.Cordoned => HealthState.Cordoned,
            _ => judged,
        };
    }
}
