using System.Collections.Immutable;
using Fleet.Abstractions.Audit;
using Fleet.Abstractions.Policy;
using Fleet.Core.Policies;
using Fleet.Grains.Audit;

namespace Fleet.Grains.Policy;

[GenerateSerializer, Immutable, Alias("fleet.PolicyState")]
public sealed record PolicyState(
    [property: Id(0)] FleetPolicy? Current,
    [property: Id(1)] ImmutableArray<PolicyVersionInfo> History)
{
    public PolicyState() : this(null, []) { }
}

/// <summary>The versioned policy document. Keeps the last <see cref="HistoryKept"/> versions.</summary>
public sealed class PolicyGrain(
    [PersistentState("policy", StorageNames.Fleet)] IPersistentState<PolicyState> state,
    PolicyCache cache, IAuditStore audit, Tracing.TraceRecorder trace, TimeProvider time) : Grain, IPolicyGrain
{
    public const int HistoryKept = 50;

    public Task<FleetPolicy> GetCurrentAsync() => Task.FromResult(state.State.Current ?? FleetPolicy.Default);

    public Task<PolicyVersionInfo> GetCurrentDocumentAsync() =>
        Task.FromResult(state.State.History.IsDefaultOrEmpty
            ? new PolicyVersionInfo(0, DateTimeOffset.UnixEpoch, "built-in", PolicyWriter.Write(FleetPolicy.Default))
            : state.State.History[^1]);

    public Task<ImmutableArray<PolicyVersionInfo>> GetHistoryAsync() =>
        Task.FromResult(state.State.History.IsDefault ? [] : state.State.History.Reverse().ToImmutableArray());

    public Task<PolicyApplyResult> ApplyAsync(string yaml, string appliedBy) => ApplyCoreAsync(yaml, appliedBy, null);

    public async Task<PolicyApplyResult> RollbackAsync(int version, string by)
    {
        var current = state.State.Current?.Version ?? 0;
        var target = version == 0 ? new PolicyVersionInfo(0, DateTimeOffset.UnixEpoch, "built-in", PolicyWriter.Write(FleetPolicy.Default))
            : (state.State.History.IsDefault ? [] : state.State.History).FirstOrDefault(h => h.Version == version);
        if (target is null || version < 0 || version > current)
            return new PolicyApplyResult(false, current, [new PolicyProblem("version",
                version > current || version < 0 ? $"there is no version {version}: the current one is {current}"
                : $"version {version} is no longer in the history (the last {HistoryKept} versions are kept)", null)]);
        return await ApplyCoreAsync(target.Document, by, $"rolled back to version {version} (applied {target.AppliedAt:yyyy-MM-dd HH:mm} UTC by {target.AppliedBy})");
    }

    private async Task<PolicyApplyResult> ApplyCoreAsync(string yaml, string appliedBy, string? why)
    {
        var before = state.State.Current ?? FleetPolicy.Default;
        var version = (state.State.Current?.Version ?? 0) + 1;
        var parsed = PolicyParser.Parse(yaml, version);
        if (!parsed.IsValid) return new PolicyApplyResult(false, state.State.Current?.Version ?? 0, parsed.Problems);

        var now = time.GetUtcNow();
        var history = (state.State.History.IsDefault ? [] : state.State.History).Add(new PolicyVersionInfo(version, now, appliedBy, yaml));
        if (history.Length > HistoryKept) history = history.RemoveRange(0, history.Length - HistoryKept);
        state.State = new PolicyState(parsed.Policy, history);
        await state.WriteStateAsync();
        cache.Set(parsed.Policy!);
        if (trace.On) trace.Add(new Core.Replay.TraceEntry { Kind = Core.Replay.TraceKinds.Policy, At = now, Version = version, Document = yaml, By = appliedBy });
        var changes = PolicyDiff.Compare(before, parsed.Policy!);
        var said = changes.IsEmpty ? "no effective value changes"
            : string.Join("; ", changes.Take(12).Select(c => c.ToString())) + (changes.Length > 12 ? $"; and {changes.Length - 12} more" : "");
        // Consolidation or provisioning turned on (or off) starts (or stops) the capacity supervisor's looks.
        if (parsed.Policy!.Lifecycle.Consolidate.Enabled != before.Lifecycle.Consolidate.Enabled || parsed.Policy.Lifecycle.Provision.Enabled != before.Lifecycle.Provision.Enabled)
            GrainFactory.GetGrain<Fleet.Abstractions.Lifecycle.ICapacityGrain>(Fleet.Abstractions.Supervision.FleetNames.Default).PolicyChangedAsync().Ignore();
        await audit.AppendAsync([Decisions.Create(now, appliedBy, "policy", DecisionKinds.PolicyApplied,
            $"Applied policy version {version}{(why is null ? "" : $", {why}")}, submitted by {appliedBy}: {said}.", version, rule: "policy")]);
        return new PolicyApplyResult(true, version, []);
    }
}
