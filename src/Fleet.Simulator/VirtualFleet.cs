using System.Collections.Immutable;
using Fleet.Abstractions.Actions;
using Fleet.Abstractions.Nodes;

namespace Fleet.Simulator;

/// <summary>One simulated server: what is really wrong with it (the ground truth the scorecard judges Fleet against).</summary>
public sealed class VirtualNode(string id, string domain)
{
    public const long Total = 16L << 30;
    public const long Baseline = 4L << 30;

    public string Id { get; } = id;
    public string Domain { get; } = domain;
    public long Sequence { get; set; }
    public long MemoryUsed { get; set; } = Baseline;
    public bool Crashed { get; set; }
    public bool Hung { get; set; }
    public bool Silenced { get; set; }
    public bool Exhausted { get; set; }
    /// <summary>Registered with the fleet (in a long real-time registration, the nodes already in report while the rest join).</summary>
    public bool Registered { get; set; }
    public bool Drained { get; set; }
    public double LeakBytesPerSecond { get; set; }
    public int FlapsLeft { get; set; }
    public TimeSpan FlapAfter { get; set; }
    public TimeSpan? RecrashAt { get; set; }
    public FaultResultBuilder? Fault { get; set; }

    /// <summary>The service instances really running here (<c>service/instance</c>), as start and stop actions left them.</summary>
    public HashSet<string> Instances { get; } = [];

    public bool Reports => !Hung && !Silenced;

    /// <summary>Whether something is really wrong (an action on a node without a fault is a false action).</summary>
    public bool HasFault => Crashed || Hung || Exhausted || LeakBytesPerSecond > 0 || RecrashAt is not null;

    /// <summary>Down for its users: a crashed, hung or exhausted node.</summary>
    public bool Unavailable => Crashed || Hung || Exhausted;

    public TelemetryReport NextReport(DateTimeOffset now, TimeSpan ttl) => new(++Sequence, now, ttl, Crashed ? 3 : 25,
        Math.Min(MemoryUsed, Total), Total, 40, [new CheckResult("service", !Crashed, Crashed ? "connection refused" : null)], "simulator");
}

/// <summary>What the scorecard keeps of one fault while the run goes on.</summary>
public sealed class FaultResultBuilder(string id, FaultKind kind, string node, TimeSpan injectedAt)
{
    public string Id { get; } = id;
    public FaultKind Kind { get; } = kind;
    public string Node { get; } = node;
    public TimeSpan InjectedAt { get; } = injectedAt;
    public TimeSpan? DetectedAt { get; set; }
    public TimeSpan? RecoveredAt { get; set; }
    public bool? Prevented { get; set; }
    public List<(TimeSpan At, string Action)> Actions { get; } = [];

    public FaultResult Build() => new(Id, Kind.ToString(), Node, InjectedAt, DetectedAt, RecoveredAt,
        [.. Actions.Select(a => $"{Scorecard.Clock(a.At)} {a.Action}")], Prevented, Actions.Count > 0 ? Actions[0].At : null);
}

/// <summary>
/// The simulated fleet: nodes, their faults, and what an action really does to them — a restart clears a crash or a
/// leak, a reboot also clears a hang, a drain moves a leaking workload away, a replacement comes back clean, and a
/// restart cannot reach a hung node.
/// </summary>
/// <summary>A service instance the simulated actuator started.</summary>
public sealed record RunningInstance(string Node, string Version, TimeSpan StartedAt);

public sealed class VirtualFleet
{
    private readonly object _gate = new();
    private readonly Dictionary<string, VirtualNode> _byId;
    public ImmutableArray<VirtualNode> Nodes { get; }
    public ImmutableArray<string> Domains { get; }
    public List<FaultResultBuilder> Faults { get; } = [];
    public int FalseActions { get; private set; }
    public int Actions { get; private set; }
    public List<string> FalseActionLog { get; } = [];

    /// <summary>Every started instance ("service/instance"): its node, its version and when it started.</summary>
    public Dictionary<string, RunningInstance> Running { get; } = [];

    public VirtualFleet(int nodes, int domains)
    {
        Domains = [.. Enumerable.Range(0, domains).Select(d => $"d-{d:D3}")];
        Nodes = [.. Enumerable.Range(0, nodes).Select(i => new VirtualNode($"n-{i:D5}", Domains[i % domains]))];
        _byId = Nodes.ToDictionary(n => n.Id);
    }

    public VirtualNode this[string id] => _byId[id];

    public T Locked<T>(Func<T> f) { lock (_gate) return f(); }

    public void Locked(Action f) { lock (_gate) f(); }

    /// <summary>Why an actuator could not carry an action out, or null when it can.</summary>
    public string? Refusal(ActionRequest r)
    {
        lock (_gate)
            return r.Target is { } id && _byId.TryGetValue(id, out var n) && n.Hung && r.Action == ActionNames.RestartServices
                ? "node unreachable: restarting services needs a running agent" : null;
    }

    /// <summary>Applies what the action really does; returns whether it was a false action (the node had nothing wrong).</summary>
    public bool Apply(ActionRequest r, TimeSpan at)
    {
        lock (_gate)
        {
            if (r.Target is not { } id || !_byId.TryGetValue(id, out var n)) return false;
            if (r.Action == ActionNames.RestartInstance) return false; // an instance's own healing: the virtual instance runs on as it was
            if (r.Action is ActionNames.StartInstance or ActionNames.StopInstance)
            {
                // Placing instances is the services' routine work, not a remedy: it is neither an action on the node nor a false one.
                var key = $"{r.Parameters.GetValueOrDefault("service")}/{r.Parameters.GetValueOrDefault("instance")}";
                if (r.Action == ActionNames.StartInstance)
                {
                    n.Instances.Add(key);
                    Running[key] = new RunningInstance(n.Id, r.Parameters.GetValueOrDefault("version") ?? "1", at);
                }
                else
                {
                    n.Instances.Remove(key);
                    Running.Remove(key);
                }
                return false;
            }
            Actions++;
            var wasFaulty = n.HasFault;
            var wasCrashed = n.Crashed;
            switch (r.Action)
            {
                case ActionNames.RestartServices:
                    n.Crashed = false; ClearLeak(n); n.Exhausted = false;
                    break;
                case ActionNames.Reboot:
                    n.Crashed = false; n.Hung = false; ClearLeak(n); n.Exhausted = false;
                    break;
                case ActionNames.Drain:
                    if (n.LeakBytesPerSecond > 0 && !n.Exhausted && n.Fault is { } f) f.Prevented = true;
                    ClearLeak(n); n.Drained = true;
                    break;
                case ActionNames.Replace:
                    n.Crashed = false; n.Hung = false; ClearLeak(n); n.Exhausted = false; n.RecrashAt = null; n.FlapsLeft = 0; n.Drained = false;
                    break;
            }
            if (wasCrashed && !n.Crashed && n.FlapsLeft > 0)
            {
                n.FlapsLeft--;
                n.RecrashAt = at + n.FlapAfter;
            }
            if (n.Fault is { } fault)
            {
                fault.Actions.Add((at, r.Action));
                if (!n.HasFault && fault.RecoveredAt is null) fault.RecoveredAt = at;
            }
            if (!wasFaulty)
            {
                FalseActions++;
                FalseActionLog.Add($"{Scorecard.Clock(at)} {r.Action} on {r.Target}");
            }
            return !wasFaulty;
        }
    }

    /// <summary>Instances of each service serving now: started, and on a node that is up.</summary>
    public Dictionary<string, int> Serving()
    {
        lock (_gate)
        {
            var serving = new Dictionary<string, int>();
            foreach (var n in Nodes.Where(n => !n.Unavailable))
                foreach (var i in n.Instances)
                {
                    var service = i[..i.IndexOf('/')];
                    serving[service] = serving.GetValueOrDefault(service) + 1;
                }
            return serving;
        }
    }

    private static void ClearLeak(VirtualNode n)
    {
        n.LeakBytesPerSecond = 0;
        n.MemoryUsed = VirtualNode.Baseline;
    }

    /// <summary>Moves the ground truth on by one step: leaks grow (and exhaust), flapping nodes crash again.</summary>
    public void Step(TimeSpan now, TimeSpan step)
    {
        lock (_gate)
            foreach (var n in Nodes)
            {
                if (n.LeakBytesPerSecond > 0 && !n.Exhausted)
                {
                    n.MemoryUsed += (long)(n.LeakBytesPerSecond * step.TotalSeconds);
                    if (n.MemoryUsed >= VirtualNode.Total)
                    {
                        n.MemoryUsed = VirtualNode.Total;
                        n.Exhausted = true;
                        n.Crashed = true;
                        if (n.Fault is { } f) f.Prevented = false;
                    }
                }
                if (n.RecrashAt is { } at && now >= at)
                {
                    n.RecrashAt = null;
                    n.Crashed = true;
                    if (n.Fault is { } f) f.RecoveredAt = null;
                }
            }
    }
}
