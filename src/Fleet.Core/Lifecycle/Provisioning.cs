using System.Collections.Immutable;
using System.Globalization;
using Fleet.Abstractions.Actions;
using Fleet.Abstractions.Audit;
using Fleet.Abstractions.Lifecycle;
using Fleet.Abstractions.Policy;
using Fleet.Abstractions.Supervision;
using Fleet.Core.Remediation;
using Fleet.Core.Services;
using Fleet.Core.Text;

namespace Fleet.Core.Lifecycle;

/// <summary>What the capacity supervisor knows: each service's unplaceable demand, the requests made, what held the last ask back.</summary>
[GenerateSerializer, Immutable, Alias("fleet.ProvisionState")]
public sealed record ProvisionState(
    [property: Id(0)] ImmutableDictionary<string, CapacityDemand> Demands,
    [property: Id(1)] ImmutableArray<ProvisionRequest> Requests)
{
    public ProvisionState() : this(ImmutableDictionary<string, CapacityDemand>.Empty, []) { }

    public static ProvisionState Empty { get; } = new();

    /// <summary>The guardrail (or cap) that held the last ask back, so a repeat of it is not recorded again.</summary>
    [Id(2)] public string? HeldBy { get; init; }

    /// <summary>The ask waiting on the permit path: its request id, domain, count and why.</summary>
    [Id(3)] public ProvisionRequest? Asking { get; init; }

    /// <summary>The node consolidation is freeing now (one at a time), with why and since when.</summary>
    [Id(4)] public ConsolidationRun? Consolidating { get; init; }

    /// <summary>When consolidation last made a plan.</summary>
    [Id(5)] public DateTimeOffset? LastPlanAt { get; init; }

    /// <summary>Consolidations started so far (numbers each run's lease request).</summary>
    [Id(6)] public int Runs { get; init; }

    /// <summary>What last held a consolidation back, by node and guardrail, so a repeat is not recorded again.</summary>
    [Id(7)] public string? ConsolidationHeldBy { get; init; }

    /// <summary>Machines asked for by requests let go from <see cref="Requests"/> (they still count toward the policy's maxTotal).</summary>
    [Id(9)] public int EarlierMachines { get; init; }

    /// <summary>Requests let go from <see cref="Requests"/> (request ids go on from them).</summary>
    [Id(10)] public int EarlierRequests { get; init; }

    /// <summary>The maintenance train retiring a domain (or the last one, finished).</summary>
    [Id(11)] public TrainRun? Train { get; init; }

    /// <summary>Serving nodes with nothing placed on them, and since when (the give-back's stabilisation window counts from it).</summary>
    [Id(8)] public ImmutableDictionary<string, DateTimeOffset> EmptySince { get; init; } = ImmutableDictionary<string, DateTimeOffset>.Empty;
}

/// <summary>A node consolidation is freeing: its instances moving off under the lease, then its retirement.</summary>
[GenerateSerializer, Immutable, Alias("fleet.ConsolidationRun")]
public sealed record ConsolidationRun(
    [property: Id(0)] string Node,
    [property: Id(1)] string LeaseId,
    [property: Id(2)] DateTimeOffset Since,
    [property: Id(3)] int Moves,
    [property: Id(4)] string Why)
{
    /// <summary>What the run is: consolidate (its instances moved off first) or give-back (an empty node beyond the headroom).</summary>
    [Id(5)] public string Action { get; init; } = Fleet.Abstractions.Actions.ActionNames.Consolidate;
}

public abstract record ProvisionEvent
{
    /// <summary>Look again (the supervisor's timer).</summary>
    public sealed record Tick : ProvisionEvent;

    public sealed record DemandChanged(CapacityDemand Demand) : ProvisionEvent;

    public sealed record Arrived(string Key, string Node) : ProvisionEvent;

    /// <summary>A machine of a request serves (its burn-in passed): it no longer counts as on its way.</summary>
    public sealed record Serving(string Key, string Node) : ProvisionEvent;

    public sealed record LeaseAnswered(LeaseRequest Request, LeaseDecision Decision) : ProvisionEvent;

    public sealed record ActionFinished(ActionOutcome Outcome) : ProvisionEvent;
}

public abstract record ProvisionEffect
{
    public sealed record Record(RecordDraft Draft) : ProvisionEffect;

    public sealed record AskLease(LeaseRequest Request) : ProvisionEffect;

    public sealed record StartAction(ActionRequest Request) : ProvisionEffect;

    public sealed record ReleaseLease(string LeaseId, ImmutableArray<string> Scopes, string Outcome) : ProvisionEffect;
}

public sealed record ProvisionStep(ProvisionState State, ImmutableArray<ProvisionEffect> Effects);

/// <summary>
/// Provisioning as one pure step (docs/lifecycle.md#provisioning): instances Pending for lack of room longer than
/// <c>pendingFor</c> are packed first-fit onto machines of the policy's shape; the machines needed, less those already on
/// their way, are asked for — a lifecycle action under a lease on the target domain (shadow mode, approvals, the domain's
/// budget, a freeze), capped by machines per hour and in total — then handed to the provisioner actuator. Machines count
/// as on their way until they register with the request's key or the arrival timeout passes.
/// </summary>
public static class Provisioning
{
    public const string Subject = $"{Subjects.CapacityKind}/default";

    /// <summary>How many machines of <paramref name="shape"/> hold the demand's instances, first fit by decreasing size.</summary>
    public static int MachinesFor(IEnumerable<CapacityDemand> demands, MachineShape shape)
    {
        var bins = new List<(double Cpu, long Memory)>();
        foreach (var d in demands.OrderByDescending(d => Math.Max(d.CpuCores / shape.CpuCores, (double)d.MemoryBytes / shape.MemoryBytes)).ThenBy(d => d.Service, StringComparer.Ordinal))
            for (var n = 0; n < d.Pending; n++)
            {
                var i = bins.FindIndex(b => b.Cpu + 1e-9 >= d.CpuCores && b.Memory >= d.MemoryBytes);
                if (i < 0)
                {
                    bins.Add((shape.CpuCores, shape.MemoryBytes));
                    i = bins.Count - 1;
                }
                bins[i] = (bins[i].Cpu - d.CpuCores, bins[i].Memory - d.MemoryBytes);
            }
        return bins.Count;
    }

    /// <summary>Whether a machine of the shape could take one instance of the demand at all (room and labels).</summary>
    public static string? Unfit(CapacityDemand d, MachineShape shape) =>
        d.CpuCores > shape.CpuCores + 1e-9 || d.MemoryBytes > shape.MemoryBytes
            ? $"an instance of {d.Service} needs {Format.Num(d.CpuCores)} cores and {Format.Bytes(d.MemoryBytes)}; a {shape.Name} machine has {Format.Num(shape.CpuCores)} and {Format.Bytes(shape.MemoryBytes)}"
            : Placement.MissingLabel(shape.Labels, d.Labels) is { } missing ? $"{d.Service} needs the label {missing}, which a {shape.Name} machine lacks" : null;

    /// <summary>What the supervisor would do now, in one sentence (its status and <c>fleet capacity</c> show it).</summary>
    public static string Describe(ProvisionState s, ProvisionPolicy policy, DateTimeOffset now)
    {
        if (!policy.Enabled) return "provisioning is off (lifecycle.provision.enabled)";
        var (ready, unfit) = Ready(s, policy, now);
        var needed = MachinesFor(ready, policy.Shape);
        var onTheWay = s.Requests.Sum(r => r.OnTheWay);
        var pending = s.Demands.Values.Sum(d => d.Pending);
        return pending == 0 ? "nothing is Pending for lack of room"
            : $"{pending} instance(s) Pending, {ready.Sum(d => d.Pending)} for longer than {Format.Duration(policy.PendingFor)}: {needed} {policy.Shape.Name} machine(s) needed, {onTheWay} on their way" +
              (unfit.Count > 0 ? $"; not served by the shape: {string.Join("; ", unfit)}" : "");
    }

    private static (List<CapacityDemand> Ready, List<string> Unfit) Ready(ProvisionState s, ProvisionPolicy policy, DateTimeOffset now)
    {
        var ready = new List<CapacityDemand>();
        var unfit = new List<string>();
        foreach (var d in s.Demands.Values.OrderBy(d => d.Service, StringComparer.Ordinal))
        {
            if (d.Pending <= 0 || now - d.Since < policy.PendingFor) continue;
            if (Unfit(d, policy.Shape) is { } why) unfit.Add(why);
            else ready.Add(d);
        }
        return (ready, unfit);
    }

    public static ProvisionStep Step(ProvisionState s, ProvisionEvent e, ProvisionPolicy policy, int policyVersion, DateTimeOffset now)
    {
        var effects = ImmutableArray.CreateBuilder<ProvisionEffect>();
        void Record(string kind, string reason, IReadOnlyDictionary<string, string>? evidence = null, string? guardrail = null, string? rule = null, string? outcome = null) =>
            effects.Add(new ProvisionEffect.Record(new RecordDraft(kind, reason, ActionNames.Provision, evidence, rule, guardrail, outcome)));

        switch (e)
        {
            case ProvisionEvent.DemandChanged d:
                s = s with { Demands = d.Demand.Pending > 0 ? s.Demands.SetItem(d.Demand.Service, d.Demand) : s.Demands.Remove(d.Demand.Service) };
                break;

            case ProvisionEvent.Arrived a:
                var index = s.Requests.IndexOf(s.Requests.FirstOrDefault(r => r.Key == a.Key)!);
                if (index >= 0 && s.Requests[index] is var arrived && !arrived.Arrived.Contains(a.Node))
                {
                    var r = arrived with { Arrived = arrived.Arrived.Add(a.Node) };
                    s = s with { Requests = s.Requests.SetItem(index, r) };
                    Record(DecisionKinds.Observed, $"Machine {a.Node} arrived for provision request {r.Key} ({r.Arrived.Length} of {r.Count}); it serves once it has passed its burn-in.", outcome: "arrived");
                }
                break;

            case ProvisionEvent.Serving sv:
                var at = s.Requests.IndexOf(s.Requests.FirstOrDefault(r => r.Key == sv.Key)!);
                if (at >= 0 && s.Requests[at] is var serving && !serving.Serving.Contains(sv.Node))
                {
                    var r = serving with
                    {
                        Serving = serving.Serving.Add(sv.Node),
                        LastServingAt = now,
                        Arrived = serving.Arrived.Contains(sv.Node) ? serving.Arrived : serving.Arrived.Add(sv.Node),
                    };
                    s = s with { Requests = s.Requests.SetItem(at, r) };
                    Record(DecisionKinds.Observed, $"Machine {sv.Node} of provision request {r.Key} serves ({r.Serving.Length} of {r.Count}).", outcome: "serving");
                }
                break;

            case ProvisionEvent.LeaseAnswered answer:
                Answered(answer.Request, answer.Decision);
                break;

            case ProvisionEvent.ActionFinished done:
                Finished(done.Outcome);
                break;

            case ProvisionEvent.Tick:
                // An ask is answered within the step that made it: one still here was cut short (the permit path threw).
                if (s.Asking is not null) s = s with { Asking = null };
                TimeOut();
                Prune();
                if (policy.Enabled && s.Asking is null && !s.Requests.Any(r => r.Phase == ProvisionPhase.Asking)) Ask();
                break;
        }
        return new ProvisionStep(s, effects.ToImmutable());

        // Requests older than a day that are no longer on their way are let go (their machines still count toward maxTotal).
        void Prune()
        {
            var old = s.Requests.Where(r => r.Phase is ProvisionPhase.Failed or ProvisionPhase.TimedOut or ProvisionPhase.Sent && r.OnTheWay == 0
                && now - r.At > TimeSpan.FromDays(1)).ToList();
            if (old.Count == 0) return;
            s = s with
            {
                Requests = [.. s.Requests.Except(old)],
                EarlierMachines = s.EarlierMachines + old.Where(r => r.Phase != ProvisionPhase.Failed).Sum(r => r.Count),
                EarlierRequests = s.EarlierRequests + old.Count,
            };
        }

        void TimeOut()
        {
            for (var i = 0; i < s.Requests.Length; i++)
                if (s.Requests[i] is { Phase: ProvisionPhase.Sent } r && r.Serving.Length < r.Count && now - r.At >= policy.ArrivalTimeout)
                {
                    s = s with { Requests = s.Requests.SetItem(i, r with { Phase = ProvisionPhase.TimedOut }) };
                    Record(DecisionKinds.Escalated, $"Provision request {r.Key} ({r.Count} {r.Shape} machine(s) in {r.Domain}, asked at {r.At:HH:mm:ss} UTC): {r.Arrived.Length} of {r.Count} registered " +
                        $"and {r.Serving.Length} serve within {Format.Duration(policy.ArrivalTimeout)}; the rest no longer count as on their way.", rule: "lifecycle.provision.arrivalTimeout", outcome: "timed-out");
                }
        }

        void Ask()
        {
            var (ready, _) = Ready(s, policy, now);
            var needed = MachinesFor(ready, policy.Shape);
            var onTheWay = s.Requests.Sum(r => r.OnTheWay);
            var want = needed - onTheWay;
            if (want <= 0) return;
            // A machine that has just begun to serve is given pendingFor to take the Pending instances before more are asked.
            if (s.Requests.Any(r => r.LastServingAt is { } t && now - t < policy.PendingFor)) return;
            var asked = s.Requests.Where(r => r.Phase is ProvisionPhase.Asking or ProvisionPhase.Sent or ProvisionPhase.TimedOut).ToList();
            // A failed ask counts toward the hour too: a provisioner that keeps failing is not asked without end.
            var lastHour = s.Requests.Where(r => now - r.At < TimeSpan.FromHours(1)).Sum(r => r.Count);
            var total = asked.Sum(r => r.Count) + s.EarlierMachines;
            var count = Math.Min(want, Math.Min(policy.MaxPerHour - lastHour, policy.MaxTotal - total));
            if (count <= 0)
            {
                var (cap, rule) = policy.MaxTotal - total <= 0
                    ? ($"{total} machine(s) asked for in all, the policy's most", "lifecycle.provision.maxTotal")
                    : ($"{lastHour} machine(s) asked for in the last hour, the policy's most", "lifecycle.provision.maxPerHour");
                if (s.HeldBy != rule)
                    Record(DecisionKinds.Denied, $"Held back: asking for {want} {policy.Shape.Name} machine(s) for {Pending(ready)}: {cap}.", guardrail: rule, rule: rule, outcome: "capped");
                s = s with { HeldBy = rule };
                return;
            }
            var domain = policy.Domains.IsDefaultOrEmpty ? ProvisionPolicy.DefaultDomain : policy.Domains[(s.EarlierRequests + s.Requests.Length) % policy.Domains.Length];
            var why = $"{Pending(ready)} cannot be placed for lack of room ({needed} machine(s) needed, {onTheWay} on their way)" +
                (count < want ? $"; {count} of the {want} asked for now (lifecycle.provision caps)" : "");
            // One id per request and size: a retry of the same ask finds its approval; a different count is a different ask.
            var key = $"{Subject}/provision/{s.EarlierRequests + s.Requests.Length + 1}-{count}";
            var request = new ProvisionRequest(key, policy.Shape.Name, domain, count, now, why, ProvisionPhase.Asking);
            s = s with { Asking = request };
            effects.Add(new ProvisionEffect.AskLease(new LeaseRequest(key, Subject, ActionNames.Provision, policyVersion, [Subjects.Domain(domain)], ActionClass.Lifecycle,
                Basis: ActionBasis.Reported) { Why = $"provision {count} {policy.Shape.Name} machine(s) in {domain}: {why}", Size = count }));
        }

        void Answered(LeaseRequest request, LeaseDecision decision)
        {
            if (s.Asking is not { } asking || asking.Key != request.RequestId)
            {
                if (decision.Granted) effects.Add(new ProvisionEffect.ReleaseLease(decision.LeaseId!, request.Scopes, "no longer needed"));
                return;
            }
            s = s with { Asking = null };
            var what = $"{asking.Count} {asking.Shape} machine(s) in {asking.Domain} ({asking.Reason})";
            if (!decision.Granted)
            {
                var by = decision.HeldBy;
                if (s.HeldBy != by)
                {
                    if (decision.Shadow is { } shadow)
                        Record(DecisionKinds.Shadowed, $"Shadow mode ({shadow}): would ask the provisioner for {what} and did nothing; it {decision.Reason}.",
                            decision.Evidence, Guardrails.Shadow, "lifecycle.provision", "shadowed");
                    else
                        Record(decision.HeldKind,
                            $"Held back: asking the provisioner for {what}: {decision.Reason}.", decision.Evidence, decision.Guardrail,
                            decision.Guardrail is { } g ? $"guardrails.{g}" : null);
                }
                s = s with { HeldBy = by };
                return;
            }
            var sent = asking with { LeaseId = decision.LeaseId, Scopes = request.Scopes };
            s = s with { Requests = s.Requests.Add(sent), HeldBy = null };
            Record(DecisionKinds.Permitted, $"Permitted provision of {what}: {decision.Reason}.", rule: "lifecycle.provision");
            effects.Add(new ProvisionEffect.StartAction(ActionFor(sent, policy.Shape)));
        }

        void Finished(ActionOutcome outcome)
        {
            var i = s.Requests.IndexOf(s.Requests.FirstOrDefault(r => r.Key == outcome.IdempotencyKey && r.Phase == ProvisionPhase.Asking)!);
            if (i < 0) return;
            var r = s.Requests[i];
            s = s with { Requests = s.Requests.SetItem(i, r with { Phase = outcome.Succeeded ? ProvisionPhase.Sent : ProvisionPhase.Failed, Detail = outcome.Detail }) };
            if (r.LeaseId is { } lease) effects.Add(new ProvisionEffect.ReleaseLease(lease, r.Scopes, outcome.Succeeded ? "sent" : "failed"));
            Record(outcome.Succeeded ? DecisionKinds.Executed : DecisionKinds.Failed, outcome.Succeeded
                ? $"Asked the provisioner for {r.Count} {r.Shape} machine(s) in {r.Domain} (request {r.Key}): {outcome.Detail}; they serve once they have registered (label {ProvisionLabels.Request}={r.Key}) and passed their burn-in."
                : $"Asking the provisioner for {r.Count} {r.Shape} machine(s) in {r.Domain} failed (request {r.Key}): {outcome.Detail}; asked again at the next look.",
                outcome: outcome.Succeeded ? "sent" : "failed");
        }
    }

    /// <summary>The provisioner's action for a request: its key, and the shape, domain and count in its parameters.</summary>
    public static ActionRequest ActionFor(ProvisionRequest r, MachineShape shape) => new(r.Key, null, ActionNames.Provision, r.Reason, r.LeaseId, Subject)
    {
        Parameters = ImmutableDictionary<string, string>.Empty
            .Add("shape", r.Shape).Add("domain", r.Domain).Add("count", r.Count.ToString(CultureInfo.InvariantCulture))
            .Add("cpuCores", shape.CpuCores.ToString(CultureInfo.InvariantCulture)).Add("memoryBytes", shape.MemoryBytes.ToString(CultureInfo.InvariantCulture))
            .Add("label", $"{ProvisionLabels.Request}={r.Key}"),
    };

    private static string Pending(IEnumerable<CapacityDemand> demands) =>
        string.Join(", ", demands.Select(d => $"{d.Pending} instance(s) of {d.Service}"));
}
