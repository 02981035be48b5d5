using System.Collections.Immutable;
using Fleet.Abstractions.Audit;
using Fleet.Abstractions.Nodes;
using Fleet.Abstractions.Policy;
using Fleet.Abstractions.Services;
using Fleet.Abstractions.Supervision;
using Fleet.Core.Text;
using Fleet.Grains.Audit;
using Fleet.Grains.Policy;

namespace Fleet.Grains.Oversight;

/// <summary>The oversight grain's state: the approvals kept (by id) and the shadow switches people turned on.</summary>
[GenerateSerializer, Immutable, Alias("fleet.OversightState")]
public sealed record OversightState(
    [property: Id(0)] ImmutableDictionary<string, Approval> Approvals,
    [property: Id(1)] ImmutableArray<ShadowSwitch> Switches)
{
    public OversightState() : this(ImmutableDictionary<string, Approval>.Empty, []) { }
}

/// <summary>
/// Shadow mode and approvals for every automatic action, whatever its subject: its gate is asked before each lease
/// (LeaseBroker). A shadowed action is evaluated as a dry run and recorded by its owner; an action the policy marks
/// high-risk gets an approval that waits, holding no lease, for a person or for its timeout (the policy's default then
/// decides). A decision wakes a node subject so it asks again at once.
/// </summary>
public sealed class OversightGrain(
    [PersistentState("oversight", StorageNames.Fleet)] IPersistentState<OversightState> state,
    PolicyCache policies, IAuditStore audit, TimeProvider time) : Grain, IOversightGrain
{
    /// <summary>Decided approvals kept for the list (the oldest are forgotten first).</summary>
    public const int Keep = 1000;

    private OversightState S => state.State;
    private string Fleet => $"fleet/{this.GetPrimaryKeyString()}";

    public async Task<GateAnswer> GateAsync(LeaseRequest request)
    {
        var policy = policies.Current;
        if (ShadowReason(policy, request) is { } shadow) return new GateAnswer(GateKind.Shadow, shadow);
        var rule = request.ApprovalRequired ? "the subject asks for a person" : policy.Oversight.ApprovalReason(request);
        if (rule is null) return GateAnswer.Proceed;

        var now = time.GetUtcNow();
        var records = new List<DecisionRecord>();
        var approval = S.Approvals.Values.FirstOrDefault(a => a.RequestId == request.RequestId);
        if (approval is null)
        {
            string id;
            do id = $"ap-{Guid.NewGuid():N}"[..15]; while (S.Approvals.ContainsKey(id)); // 48 random bits, never one in use
            approval = new Approval(id, request.RequestId, request.Subject, request.Action, request.Scopes,
                request.Why ?? $"{request.Action} on {Subjects.Describe(request.Subject)}", now, now + policy.Oversight.ApprovalTimeout, ApprovalStatus.Pending,
                policy.Oversight.ApproveOnTimeout ? "approve" : "reject");
            records.Add(Decisions.Create(now, Fleet, request.Subject, DecisionKinds.AwaitingApproval,
                $"{request.Action} on {Subjects.Describe(request.Subject)} waits for a person's approval ({approval.Id}; {rule}): {approval.Why}. " +
                $"It holds no lease while it waits; after {Format.Duration(policy.Oversight.ApprovalTimeout)} it is {(policy.Oversight.ApproveOnTimeout ? "approved" : "rejected")} " +
                $"(fleet approvals approve|reject {approval.Id}).", policy.Version, request.Action, rule: "oversight.approvals"));
            Put(approval);
        }
        else if (Expired(approval, now, policy, records) is { } decided) approval = decided;
        await SaveAsync(records);
        return approval.Status switch
        {
            ApprovalStatus.Approved => GateAnswer.Proceed,
            ApprovalStatus.Rejected => new GateAnswer(GateKind.Rejected, $"{request.Action} was rejected by {approval.DecidedBy}" + (approval.Note is { } n ? $": {n}" : ""), approval.Id),
            _ => new GateAnswer(GateKind.AwaitApproval, $"it waits for a person's approval ({approval.Id}, until {approval.ExpiresAt:HH:mm:ss} UTC, then {approval.OnTimeout})", approval.Id),
        };
    }

    public async Task<ImmutableArray<Approval>> ListApprovalsAsync(bool all)
    {
        var now = time.GetUtcNow();
        var records = new List<DecisionRecord>();
        foreach (var a in S.Approvals.Values.Where(a => a.Status == ApprovalStatus.Pending).ToList()) Expired(a, now, policies.Current, records);
        await SaveAsync(records);
        return [.. S.Approvals.Values.Where(a => all || a.Status == ApprovalStatus.Pending).OrderByDescending(a => a.CreatedAt)];
    }

    public Task<Approval> ApproveAsync(string id, string by, string? reason) => DecideAsync(id, true, by, reason);

    public Task<Approval> RejectAsync(string id, string by, string? reason) => DecideAsync(id, false, by, reason);

    private async Task<Approval> DecideAsync(string id, bool approve, string by, string? reason)
    {
        if (!S.Approvals.TryGetValue(id, out var a)) throw new ApprovalNotFoundException(id);
        var now = time.GetUtcNow();
        var records = new List<DecisionRecord>();
        a = Expired(a, now, policies.Current, records) ?? a;
        if (a.Status != ApprovalStatus.Pending)
        {
            await SaveAsync(records);
            throw new ActionRefusedException("approval-decided", a.Status == ApprovalStatus.Withdrawn
                ? $"Approval {id} was withdrawn at {a.DecidedAt:u}: {a.Note}."
                : $"Approval {id} was already {a.Status.ToString().ToLowerInvariant()} by {a.DecidedBy} at {a.DecidedAt:u}.");
        }
        a = Decide(a, approve, by, string.IsNullOrWhiteSpace(reason) ? null : reason, now, records, policies.Current.Version);
        await SaveAsync(records);
        // A node asks again at once; other subjects on their next pass.
        if (Subjects.IsKind(a.Subject, Subjects.NodeKind)) await GrainFactory.GetGrain<INodeGrain>(Subjects.IdOf(a.Subject)).WakeAsync();
        if (Subjects.IsKind(a.Subject, Subjects.ServiceKind)) await GrainFactory.GetGrain<IServiceGrain>(Subjects.IdOf(a.Subject)).NodeChangedAsync("");
        return a;
    }

    public async Task WithdrawAsync(string requestId, string why)
    {
        if (S.Approvals.Values.FirstOrDefault(a => a.RequestId == requestId && a.Status == ApprovalStatus.Pending) is not { } a) return;
        var now = time.GetUtcNow();
        Put(a with { Status = ApprovalStatus.Withdrawn, DecidedBy = "withdrawn", DecidedAt = now, Note = why });
        await SaveAsync([Decisions.Create(now, Fleet, a.Subject, DecisionKinds.Operator,
            $"Withdrew approval {a.Id} ({a.Action} on {Subjects.Describe(a.Subject)}) before anyone decided: {why}.", policies.Current.Version, a.Action, rule: "oversight.approvals")]);
    }

    public async Task<ShadowStatus> SetShadowAsync(bool on, string? domain, string? action, string by, string reason)
    {
        var scope = domain is not null ? Subjects.Domain(domain) : action is not null ? $"action/{action}" : "fleet";
        var now = time.GetUtcNow();
        var had = S.Switches.FirstOrDefault(x => x.Scope == scope);
        if (on == had is not null) return await GetShadowAsync();
        state.State = S with { Switches = on ? S.Switches.Add(new ShadowSwitch(scope, by, reason, now)) : S.Switches.Remove(had!) };
        var what = scope == "fleet" ? "the whole fleet" : domain is not null ? $"domain {domain}" : $"action {action}";
        await SaveAsync([Decisions.Create(now, by, Fleet, DecisionKinds.Operator, on
            ? $"Shadow mode on for {what} at the request of {by}: {reason}. Automatic actions there are decided and recorded, and nothing runs."
            : $"Shadow mode off for {what} at the request of {by}: {reason}. Automatic actions there run again.", policies.Current.Version, rule: "fleet shadow")], force: true);
        return await GetShadowAsync();
    }

    public Task<ShadowStatus> GetShadowAsync()
    {
        var o = policies.Current.Oversight;
        return Task.FromResult(new ShadowStatus(S.Switches, o.ShadowFleet, o.ShadowDomains.IsDefault ? [] : o.ShadowDomains, o.ShadowActions.IsDefault ? [] : o.ShadowActions));
    }

    /// <summary>Why this request is shadowed (the policy's lists, or a person's switch), or null.</summary>
    private string? ShadowReason(FleetPolicy policy, LeaseRequest request)
    {
        if (policy.Oversight.ShadowReason(request.Action, request.Domains) is { } rule) return rule;
        foreach (var sw in S.Switches)
        {
            var matches = sw.Scope == "fleet" || sw.Scope == $"action/{request.Action}" || request.Scopes.Contains(sw.Scope);
            if (matches) return $"fleet shadow on {(sw.Scope == "fleet" ? "" : sw.Scope + " ")}by {sw.By}: {sw.Reason}";
        }
        return null;
    }

    /// <summary>A pending approval past its time takes the policy's default; null when it is not expired.</summary>
    private Approval? Expired(Approval a, DateTimeOffset now, FleetPolicy policy, List<DecisionRecord> records)
    {
        if (a.Status != ApprovalStatus.Pending || now < a.ExpiresAt) return null;
        return Decide(a, a.OnTimeout == "approve", "timeout", $"no one decided within {Format.Duration(a.ExpiresAt - a.CreatedAt)} (oversight.approvals.onTimeout: {a.OnTimeout})",
            now, records, policy.Version);
    }

    private Approval Decide(Approval a, bool approve, string by, string? note, DateTimeOffset now, List<DecisionRecord> records, int policyVersion)
    {
        var decided = a with { Status = approve ? ApprovalStatus.Approved : ApprovalStatus.Rejected, DecidedBy = by, DecidedAt = now, Note = note };
        Put(decided);
        records.Add(Decisions.Create(now, by == "timeout" ? Fleet : by, a.Subject, approve ? DecisionKinds.Approved : DecisionKinds.Rejected,
            $"{(approve ? "Approved" : "Rejected")} {a.Action} on {Subjects.Describe(a.Subject)} ({a.Id}) " +
            (by == "timeout" ? "on timeout" : $"at the request of {by}") + (note is null ? "" : $": {note}") +
            (approve ? "; it asks for its lease now." : "; the case goes to a person."), policyVersion, a.Action, rule: "oversight.approvals"));
        return decided;
    }

    private void Put(Approval a)
    {
        var approvals = S.Approvals.SetItem(a.Id, a);
        if (approvals.Count > Keep)
            foreach (var old in approvals.Values.Where(x => x.Status != ApprovalStatus.Pending).OrderBy(x => x.CreatedAt).Take(approvals.Count - Keep).ToList())
                approvals = approvals.Remove(old.Id);
        state.State = S with { Approvals = approvals };
    }

    private async Task SaveAsync(List<DecisionRecord> records, bool force = false)
    {
        if (records.Count == 0 && !force) return;
        await state.WriteOrResetAsync(DeactivateOnIdle);
        if (records.Count > 0) await audit.AppendAsync(records);
    }
}
