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
    PolicyCache cache, IAuditStore audit, TimeProvider time) : Grain, IPolicyGrain
{
    public const int HistoryKept = 50;

    public Task<FleetPolicy> GetCurrentAsync() => Task.FromResult(state.State.Current ?? FleetPolicy.Default);

    public Task<PolicyVersionInfo> GetCurrentDocumentAsync() =>
        Task.FromResult(state.State.History.IsDefaultOrEmpty
            ? new PolicyVersionInfo(0, DateTimeOffset.UnixEpoch, "built-in", PolicyWriter.Write(FleetPolicy.Default))
            : state.State.History[^1]);

    public Task<ImmutableArray<PolicyVersionInfo>> GetHistoryAsync() =>
        Task.FromResult(state.State.History.IsDefault ? [] : state.State.History.Reverse().ToImmutableArray());

    public async Task<PolicyApplyResult> ApplyAsync(string yaml, string appliedBy)
    {
        var version = (state.State.Current?.Version ?? 0) + 1;
        var parsed = PolicyParser.Parse(yaml, version);
        if (!parsed.IsValid) return new PolicyApplyResult(false, state.State.Current?.Version ?? 0, parsed.Problems);

        var now = time.GetUtcNow();
        var history = (state.State.History.IsDefault ? [] : state.State.History).Add(new PolicyVersionInfo(version, now, appliedBy, yaml));
        if (history.Length > HistoryKept) history = history.RemoveRange(0, history.Length - HistoryKept);
        state.State = new PolicyState(parsed.Policy, history);
        await state.WriteStateAsync();
        cache.Set(parsed.Policy!);
        await audit.AppendAsync([Decisions.Create(now, appliedBy, "policy", DecisionKinds.PolicyApplied,
            $"Applied policy version {version}, submitted by {appliedBy}.", version, rule: "policy")]);
        return new PolicyApplyResult(true, version, []);
    }
}
