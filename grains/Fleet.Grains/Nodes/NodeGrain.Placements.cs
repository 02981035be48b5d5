using System.Collections.Immutable;
using Fleet.Abstractions.Nodes;
using Fleet.Abstractions.Services;
using Fleet.Abstractions.Supervision;
using Fleet.Core.Services;

namespace Fleet.Grains.Nodes;

/// <summary>The room a node holds for service instances, in its own state row (so a reservation never races the node's loop).</summary>
[GenerateSerializer, Immutable, Alias("fleet.NodePlacements")]
public sealed record NodePlacements([property: Id(0)] ImmutableDictionary<string, NodePlacement> ByKey)
{
    public NodePlacements() : this(ImmutableDictionary<string, NodePlacement>.Empty) { }
}

/// <summary>
/// The node's half of placement by negotiation. These calls interleave with the node's own loop (a service may ask while
/// the node waits on that service's consent to a drain, and neither may wait on the other), so they touch only the
/// placements row, one at a time behind a gate: a check and its reservation never interleave with another reservation,
/// so two services racing for the last room never oversubscribe the node.
/// </summary>
public sealed partial class NodeGrain
{
    private SemaphoreSlim? _gate;

    /// <summary>Made on a node's first placement call: most nodes never host an instance, and a gate costs ~100 bytes a node.</summary>
    private SemaphoreSlim _placementGate => _gate ??= new(1, 1);

    /// <summary>The name of the placements' row in the fleet's storage (as the <c>[PersistentState]</c> it was before).</summary>
    private const string PlacementsState = "placements";

    /// <summary>
    /// The placements' row, read on the node's first use of it rather than on activation: most nodes never host an
    /// instance, and a plain report does not look at it — an activation reads one row, not two, and keeps ~200 bytes less.
    /// </summary>
    private GrainState<NodePlacements>? _placements;

    /// <summary>
    /// What every node whose placements row was never written holds once it has looked (most nodes: they host nothing),
    /// one copy for all, never written through: a node's first write makes its own row (<see cref="WritePlacementsAsync"/>).
    /// </summary>
    private static readonly GrainState<NodePlacements> NoRow = new(new NodePlacements());

    /// <summary>The node's placements; every path that reaches here has read them first (<see cref="LoadPlacementsAsync"/>).</summary>
    private NodePlacements P => _placements?.State
        ?? throw new InvalidOperationException($"Node {Id}'s placements were used before they were read.");

    /// <summary>Reads the placements' row if this activation has not yet.</summary>
    private ValueTask LoadPlacementsAsync() => _placements is null ? new(ReadPlacementsAsync()) : ValueTask.CompletedTask;

    private async Task ReadPlacementsAsync()
    {
        var read = new GrainState<NodePlacements>();
        await services.Storage.ReadStateAsync(PlacementsState, this.GetGrainId(), read);
        read.State ??= new NodePlacements();
        _placements ??= read.ETag is null && read.State.ByKey.IsEmpty ? NoRow : read; // two interleaved first uses: the first read kept (the other's copy is the same row)
    }

    public async Task<CapacityOffer> OfferAsync(PlacementAsk ask)
    {
        await LoadPlacementsAsync();
        return OfferNow(ask);
    }

    private CapacityOffer OfferNow(PlacementAsk ask) => S.Registration is { } reg
        ? Placement.Offer(reg, S.Effective, S.Admin, P.ByKey.Values, ask, time.GetUtcNow())
        : new CapacityOffer(Id, "", 0, 0, 0, 0, HealthState.Unknown, false, $"{Id} is not registered");

    public async Task<ReservationResult> ReserveAsync(PlacementAsk ask)
    {
        await LoadPlacementsAsync();
        await _placementGate.WaitAsync();
        try
        {
            var offer = OfferNow(ask);
            if (!offer.Accepts) return new ReservationResult(false, offer);
            var now = time.GetUtcNow();
            var reservation = new NodePlacement(ask.Service, ask.Instance, ask.CpuCores, ask.MemoryBytes, false, now, now + ask.Ttl);
            await WritePlacementsAsync(Pruned(now).SetItem(reservation.Key, reservation));
            return new ReservationResult(true, offer);
        }
        finally
        {
            _placementGate.Release();
        }
    }

    public async Task<bool> ConfirmAsync(string service, string instance)
    {
        await LoadPlacementsAsync();
        await _placementGate.WaitAsync();
        try
        {
            var now = time.GetUtcNow();
            if (!P.ByKey.TryGetValue($"{service}/{instance}", out var p) || !(p.Confirmed || p.ExpiresAt > now)) return false;
            if (!p.Confirmed) await WritePlacementsAsync(Pruned(now).SetItem(p.Key, p with { Confirmed = true, ExpiresAt = null }));
            return true;
        }
        finally
        {
            _placementGate.Release();
        }
    }

    public async Task ReleasePlacementAsync(string service, string instance)
    {
        await LoadPlacementsAsync();
        await _placementGate.WaitAsync();
        try
        {
            var key = $"{service}/{instance}";
            if (P.ByKey.ContainsKey(key)) await WritePlacementsAsync(Pruned(time.GetUtcNow()).Remove(key));
            // The last instance of a node being decommissioned has moved off: the node's own loop retires it now.
            if (S.Stage == LifecycleStage.Draining && !Placement.Live(P.ByKey.Values, time.GetUtcNow()).Any())
                this.AsReference<INodeGrain>().WakeAsync().Ignore();
        }
        finally
        {
            _placementGate.Release();
        }
    }

    public async Task<NodeView?> GetViewAsync()
    {
        if (S.Registration is not { } reg) return null;
        await LoadPlacementsAsync();
        var now = time.GetUtcNow();
        return new NodeView(Id, reg.Domain, S.Health.Health, S.Effective, S.Admin, S.Health.HealthSince,
            S.Case?.Step, S.Case?.Phase.ToString(), [.. Placement.Live(P.ByKey.Values, now)])
        {
            LastReportAt = S.Health.LastReportAt,
            Packing = S.Stage == LifecycleStage.Draining && S.DrainLease?.Action == Fleet.Abstractions.Actions.ActionNames.Consolidate,
        };
    }

    private ImmutableDictionary<string, NodePlacement> Pruned(DateTimeOffset now) =>
        P.ByKey.Values.All(p => p.Confirmed || p.ExpiresAt > now) ? P.ByKey : Placement.Live(P.ByKey.Values, now).ToImmutableDictionary(p => p.Key);

    /// <summary>Writes the placements (put back as they were if storage refuses) and tells the domain the node's new free room.</summary>
    private async Task WritePlacementsAsync(ImmutableDictionary<string, NodePlacement> next)
    {
        var row = ReferenceEquals(_placements, NoRow) ? _placements = new GrainState<NodePlacements>(NoRow.State) : _placements!;
        var before = row.State;
        row.State = new NodePlacements(next);
        try
        {
            await services.Storage.WriteStateAsync(PlacementsState, this.GetGrainId(), row);
        }
        catch
        {
            row.State = before;
            throw;
        }
        if (S.Registration is { } reg) await Domain(reg.Domain).ReportMemberAsync(Summary(reg));
    }

    private async ValueTask<bool> HostsInstancesAsync(DateTimeOffset now)
    {
        await LoadPlacementsAsync();
        return Placement.Live(P.ByKey.Values, now).Any();
    }

    /// <summary>What a lease for an action on this node touches: its domain, and every service with an instance here.</summary>
    private ImmutableArray<string> ScopesOf(NodeRegistration reg, DateTimeOffset now) => P.ByKey.IsEmpty
        ? services.DomainScope(reg.Domain) // most nodes host nothing: no list built on every report
        : [Subjects.Domain(reg.Domain), .. Placement.Live(P.ByKey.Values, now).Select(p => p.Service).Distinct().Order(StringComparer.Ordinal).Select(Subjects.Service)];

    /// <summary>The node's row in its domain's inventory, with its free room for new instances.</summary>
    private NodeSummary Summary(NodeRegistration reg)
    {
        var live = Placement.Live(P.ByKey.Values, time.GetUtcNow()).ToList();
        return new NodeSummary(Id, reg.Domain, S.Effective, S.EffectiveSince)
        {
            FreeCpu = reg.Capacity.CpuCores - live.Sum(p => p.CpuCores),
            FreeMemory = reg.Capacity.MemoryBytes - live.Sum(p => p.MemoryBytes),
            Admin = S.Admin,
            Labels = reg.Labels.IsEmpty ? null : reg.Labels,
            Instances = live.Count,
            CpuCores = reg.Capacity.CpuCores,
            MemoryBytes = reg.Capacity.MemoryBytes,
        };
    }

    /// <summary>Tells every service with an instance here that the node's state moved, so it looks again now (one-way).</summary>
    private void NotifyServices()
    {
        foreach (var service in P.ByKey.Values.Select(p => p.Service).Distinct())
            GrainFactory.GetGrain<IServiceGrain>(service).NodeChangedAsync(Id).Ignore();
    }
}
