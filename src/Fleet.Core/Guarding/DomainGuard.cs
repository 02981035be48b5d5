using System.Collections.Immutable;
using Fleet.Abstractions.Nodes;
using Fleet.Abstractions.Policy;
using Fleet.Abstractions.Supervision;
using Fleet.Core.Text;

namespace Fleet.Core.Guarding;

/// <summary>
/// A failure domain's budget: leases in flight, actions in the rate window, the storm brake — and its members' health,
/// which is kept in memory and stored a row per member elsewhere (it is not part of this document).
/// </summary>
[GenerateSerializer, Immutable, Alias("fleet.DomainGuardState")]
public sealed record DomainGuardState(
    [property: Id(0)] ImmutableDictionary<string, LeaseView> Leases,
    [property: Id(1)] ImmutableArray<DateTimeOffset> ActionStarts,
    [property: Id(3)] bool StormActive,
    [property: Id(4)] DateTimeOffset? StormHeldUntil)
{
    /// <summary>When the current storm (or its cool-down) began: it names the storm's incident.</summary>
    [Id(5)] public DateTimeOffset? StormSince { get; init; }

    /// <summary>The incident the storm's records belong to (<c>storm/rack-a/20261202T101500Z</c>), while the brake holds.</summary>
    public string? StormIncident(string domain) => StormSince is { } since ? Incidents.Storm(domain, since) : null;

    public DomainGuardState() : this(ImmutableDictionary<string, LeaseView>.Empty, [], false, null) { }

    /// <summary>The members and their health, by node id (not serialized: the member store holds them, a row each).</summary>
    public ImmutableDictionary<string, NodeSummary> Members
    {
        get => _members ?? ImmutableDictionary<string, NodeSummary>.Empty;
        init
        {
            _members = value;
            _troubled = -1;
        }
    }

    [NonSerialized] private readonly ImmutableDictionary<string, NodeSummary>? _members;

    /// <summary>Members counting toward the storm, kept up to date by <see cref="WithMember"/> (-1: count on first use).</summary>
    [NonSerialized] private int _troubled = -1;

    public static DomainGuardState Empty { get; } = new();

    /// <summary>Members that are Suspect or Unhealthy: O(1) once counted, however many members the domain has.</summary>
    public int Troubled
    {
        get
        {
            if (_troubled < 0) _troubled = Members.Values.Count(m => DomainGuard.CountsTowardStorm(m.Health));
            return _troubled;
        }
    }

    /// <summary>The state with one member added or replaced; the troubled count moves by that member alone.</summary>
    public DomainGuardState WithMember(NodeSummary member)
    {
        var troubled = Troubled;
        if (Members.TryGetValue(member.NodeId, out var old) && DomainGuard.CountsTowardStorm(old.Health)) troubled--;
        if (DomainGuard.CountsTowardStorm(member.Health)) troubled++;
        var next = this with { Members = Members.SetItem(member.NodeId, member) };
        next._troubled = troubled;
        return next;
    }

    /// <summary>The state without one member.</summary>
    public DomainGuardState WithoutMember(string nodeId)
    {
        if (!Members.TryGetValue(nodeId, out var old)) return this;
        var troubled = Troubled - (DomainGuard.CountsTowardStorm(old.Health) ? 1 : 0);
        var next = this with { Members = Members.Remove(nodeId) };
        next._troubled = troubled;
        return next;
    }

    /// <summary>Action slots the live leases take (each lease takes its cost).</summary>
    public int SlotsInUse => Leases.Values.Sum(l => l.Cost);

    /// <summary>Whether the brake holds: during a storm, and until its cool-down has passed.</summary>
    public bool Frozen(DateTimeOffset now) => StormActive || (StormHeldUntil is { } until && now < until);
}

public enum StormEvent { None, Started, Ended, Thawed }

public sealed record StormCheck(DomainGuardState State, StormEvent Event, string Reason, ImmutableDictionary<string, string> Evidence);

/// <summary>The checks a domain supervisor makes before it grants a lease. Pure: the caller supplies the time.</summary>
public static class DomainGuard
{
    /// <summary>The fewest troubled members that can make a storm.</summary>
    public const int MinStormTroubled = 2;

    public static bool CountsTowardStorm(HealthState health) =>
        health is HealthState.Suspect or HealthState.Unhealthy or HealthState.Remediating;

    /// <summary>Drops expired leases (a crashed holder never keeps budget) and actions past the rate window.</summary>
    public static (DomainGuardState State, ImmutableArray<LeaseView> Expired) Prune(DomainGuardState state, DateTimeOffset now, GuardrailPolicy policy)
    {
        var expired = state.Leases.Values.Where(l => l.ExpiresAt <= now).ToImmutableArray();
        var starts = state.ActionStarts.RemoveAll(t => now - t >= policy.Window);
        if (expired.IsEmpty && starts.Length == state.ActionStarts.Length) return (state, expired);
        return (state with { Leases = state.Leases.RemoveRange(expired.Select(l => l.LeaseId)), ActionStarts = starts }, expired);
    }

    /// <summary>Compares the share of troubled members with the threshold and moves the brake on or off.</summary>
    public static StormCheck CheckStorm(DomainGuardState state, DateTimeOffset now, GuardrailPolicy policy)
    {
        var members = state.Members.Count;
        var troubled = state.Troubled;
        var share = members == 0 ? 0 : (double)troubled / members;
        var evidence = ImmutableDictionary<string, string>.Empty
            .Add("troubled", $"{troubled} of {members}")
            .Add("share", Format.Percent(share * 100))
            .Add("threshold", Format.Percent(policy.StormThreshold * 100))
            .Add("minMembers", policy.StormMinMembers.ToString());
        // A storm is mass alarm: one sick node is never one, whatever share of a small domain it is.
        var storm = members >= policy.StormMinMembers && troubled >= MinStormTroubled && share >= policy.StormThreshold;

        if (storm && !state.StormActive)
            return new StormCheck(state with { StormActive = true, StormHeldUntil = null, StormSince = state.StormSince ?? now }, StormEvent.Started,
                $"{troubled} of {members} members ({Format.Percent(share * 100)}) are Suspect or Unhealthy at once, at or past the storm threshold of " +
                $"{Format.Percent(policy.StormThreshold * 100)}; the telemetry itself is suspected, so disruptive actions are frozen", evidence);
        if (!storm && state.StormActive)
        {
            var until = now + policy.StormCooldown;
            return new StormCheck(state with { StormActive = false, StormHeldUntil = until }, StormEvent.Ended,
                $"the storm passed ({troubled} of {members} troubled, under {Format.Percent(policy.StormThreshold * 100)}); " +
                $"the freeze holds for the {Format.Duration(policy.StormCooldown)} cool-down, until {until:HH:mm:ss} UTC", evidence);
        }
        if (!state.StormActive && state.StormHeldUntil is { } held && now >= held)
            return new StormCheck(state with { StormHeldUntil = null, StormSince = null }, StormEvent.Thawed,
                $"the storm cool-down ended; disruptive actions are allowed again ({troubled} of {members} troubled)", evidence);
        return new StormCheck(state, StormEvent.None, "", evidence);
    }

    /// <summary>
    /// Decides a lease request against the domain's guardrails; a grant still needs the fleet's slot. The storm brake
    /// holds back the classes that disrupt (<see cref="LeaseRequest.Freezable"/>) — by default only those resting on
    /// unconfirmed silence (the telemetry is what a storm puts in doubt), or all of them under
    /// <see cref="StormBrakeHolds.AllDisruptive"/>; every decision made during a storm says so. A forced request (an
    /// operator's <c>--force</c>) passes the concurrency and rate budgets, never the brake.
    /// </summary>
    public static LeaseDecision Decide(DomainGuardState state, string domain, LeaseRequest request, DateTimeOffset now, GuardrailPolicy policy)
    {
        var used = state.SlotsInUse;
        var evidence = ImmutableDictionary<string, string>.Empty
            .Add("domain", domain)
            .Add("slotsInUse", $"{used} of {policy.MaxConcurrentPerDomain}")
            .Add("actionsInWindow", $"{state.ActionStarts.Length} of {policy.MaxActionsPerWindow} in {Format.Duration(policy.Window)}")
            .Add("basis", Format.Camel(request.Basis.ToString()));
        var stormNote = "";
        if (request.Freezable && state.Frozen(now))
        {
            var share = state.Members.Count == 0 ? 0 : (double)state.Troubled / state.Members.Count;
            evidence = evidence.Add("storm", state.StormActive ? $"{state.Troubled} of {state.Members.Count} troubled ({Format.Percent(share * 100)}), threshold {Format.Percent(policy.StormThreshold * 100)}"
                : $"cool-down until {state.StormHeldUntil:HH:mm:ss} UTC").Add("stormBrakeHolds", Format.Camel(policy.StormBrakeHolds.ToString()));
            if (state.StormIncident(domain) is { } incident) evidence = evidence.Add("incident", incident);
            var holds = policy.StormBrakeHolds == StormBrakeHolds.AllDisruptive || request.Basis == ActionBasis.UnconfirmedSilence;
            var what = policy.StormBrakeHolds == StormBrakeHolds.AllDisruptive ? "it holds every disruptive action" : "it holds actions resting on silence nothing has confirmed, as this one does";
            if (holds)
                return LeaseDecision.Deny(Guardrails.StormBrake, state.StormActive
                    ? $"the storm brake is on in {domain}: {state.Troubled} of {state.Members.Count} members are Suspect or Unhealthy (threshold {Format.Percent(policy.StormThreshold * 100)}); {what}"
                    : $"the storm brake's cool-down holds {domain} frozen until {state.StormHeldUntil:HH:mm:ss} UTC; {what}", evidence);
            stormNote = state.StormActive
                ? $"; the storm brake is on in {domain} ({state.Troubled} of {state.Members.Count} troubled) but holds only actions on unconfirmed silence, and this one rests on {ActionBases.Describe(request.Basis)}"
                : $"; the storm brake's cool-down holds {domain} until {state.StormHeldUntil:HH:mm:ss} UTC but only for actions on unconfirmed silence, and this one rests on {ActionBases.Describe(request.Basis)}";
        }
        if (!request.Force && used + request.Cost > policy.MaxConcurrentPerDomain)
            return LeaseDecision.Deny(Guardrails.MaxConcurrent,
                $"{domain} had {used} of {policy.MaxConcurrentPerDomain} action slots in use ({string.Join(", ", state.Leases.Values.Select(l => $"{l.Action} on {Subjects.Short(l.Subject)}"))}){stormNote}", evidence);
        if (!request.Force && state.ActionStarts.Length >= policy.MaxActionsPerWindow)
            return LeaseDecision.Deny(Guardrails.RateLimit,
                $"{domain} already started {state.ActionStarts.Length} actions in the last {Format.Duration(policy.Window)} (limit {policy.MaxActionsPerWindow}){stormNote}", evidence);
        var forced = request.Force ? "; forced past the concurrency and rate budgets" : "";
        return new LeaseDecision(true, request.RequestId, now + policy.LeaseDuration, null,
            $"{domain} had {used} of {policy.MaxConcurrentPerDomain} action slots in use and " +
            $"{state.ActionStarts.Length} of {policy.MaxActionsPerWindow} actions in the last {Format.Duration(policy.Window)}{forced}{stormNote}") { Evidence = evidence };
    }

    public static DomainGuardState Grant(DomainGuardState state, LeaseRequest request, DateTimeOffset now, DateTimeOffset expiresAt) =>
        state with
        {
            Leases = state.Leases.SetItem(request.RequestId,
                new LeaseView(request.RequestId, request.Subject, request.Action, now, expiresAt, request.Class, request.Cost)),
            ActionStarts = state.ActionStarts.Add(now),
        };

    public static DomainGuardState Release(DomainGuardState state, string leaseId) =>
        state with { Leases = state.Leases.Remove(leaseId) };
}
