using System.Collections.Immutable;
using Fleet.Abstractions.Actions;
using Fleet.Abstractions.Nodes;

namespace Fleet.Simulator;

/// <summary>One simulated server: what is really wrong with it (the ground truth the scorecard judges Fleet against).</summary>
public sealed class VirtualNode(string id, string domain)
{
    /// <summary>The label a provisioned machine registers with (<c>provision-request</c> and the request's key); null: one of the scenario's own.</summary>
    public KeyValuePair<string, string>? ProvisionLabel { get; init; }

    /// <summary>Its cores and memory (a provisioned machine has the shape it was asked for).</summary>
    public double CpuCores { get; init; } = Cores;
    /// <summary>The shape a provisioned machine was asked for (registered as its label <c>shape</c>); null for the scenario's own nodes.</summary>
    public string? Shape { get; init; }
    public long MemoryTotal { get; init; } = Total;

    /// <summary>Given back to the provisioner: the machine is gone, it reports no more.</summary>
    public bool GivenBack { get; set; }

    public const long Total = 16L << 30;
    /// <summary>The cores each virtual node registers with.</summary>
    public const double Cores = 8;
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
    public const double DiskBaseline = 40;
    public const double CpuBaseline = 25;
    public double DiskUsedPercent { get; set; } = DiskBaseline;
    public double CpuPercent { get; set; } = CpuBaseline;
    /// <summary>How fast the disk fills (percent a second) under a disk-fill fault.</summary>
    public double DiskFillPerSecond { get; set; }
    /// <summary>How fast CPU use climbs (percent a second) under a cpu-ramp fault.</summary>
    public double CpuRampPerSecond { get; set; }

    /// <summary>A resource filling toward its limit: memory leaking, the disk filling, CPU climbing (what a preventive drain moves away).</summary>
    public bool Filling => LeakBytesPerSecond > 0 || DiskFillPerSecond > 0 || CpuRampPerSecond > 0;
    public int FlapsLeft { get; set; }
    public TimeSpan FlapAfter { get; set; }
    public TimeSpan? RecrashAt { get; set; }
    public FaultResultBuilder? Fault { get; set; }

    /// <summary>The service instances really running here (<c>service/instance</c>), as start and stop actions left them.</summary>
    public HashSet<string> Instances { get; } = [];

    public bool Reports => !Hung && !Silenced && !GivenBack;

    /// <summary>Whether something is really wrong (an action on a node without a fault is a false action).</summary>
    public bool HasFault => Crashed || Hung || Exhausted || Filling || RecrashAt is not null;

    /// <summary>Down for its users: a crashed, hung or exhausted node.</summary>
    public bool Unavailable => Crashed || Hung || Exhausted;

    public TelemetryReport NextReport(DateTimeOffset now, TimeSpan ttl) => new(++Sequence, now, ttl, Crashed ? 3 : Math.Min(CpuPercent, 100),
        Math.Min(MemoryUsed, MemoryTotal), MemoryTotal, Math.Min(DiskUsedPercent, 100), [new CheckResult("service", !Crashed, Crashed ? "connection refused" : null)], "simulator");
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

    /// <summary>Every node, the scenario's and those provisioned since (a snapshot: a new one is made when machines arrive).</summary>
    public ImmutableArray<VirtualNode> Nodes { get; private set; }
    public ImmutableArray<string> Domains { get; }

    /// <summary>Machines the provisioner was asked for, each made at once; registered by the simulation at its next step.</summary>
    public List<VirtualNode> Arriving { get; } = [];

    /// <summary>Provision requests taken (one per idempotency key), with the machines each made.</summary>
    public Dictionary<string, int> Provisioned { get; } = [];

    /// <summary>Machines given back.</summary>
    public int GivenBack { get; private set; }
    public List<FaultResultBuilder> Faults { get; } = [];
    public int FalseActions { get; private set; }
    public int Actions { get; private set; }
    public List<string> FalseActionLog { get; } = [];

    /// <summary>Every started instance ("service/instance"): its node, its version and when it started.</summary>
    public Dictionary<string, RunningInstance> Running { get; } = [];

    /// <summary>When each instance ("service/instance") last started, kept after it stops.</summary>
    public Dictionary<string, TimeSpan> StartedAt { get; } = [];

    public VirtualFleet(int nodes, int domains)
    {
        Domains = [.. Enumerable.Range(0, domains).Select(d => $"d-{d:D3}")];
        Nodes = [.. Enumerable.Range(0, nodes).Select(i => new VirtualNode($"n-{i:D5}", Domains[i % domains]))];
        _byId = Nodes.ToDictionary(n => n.Id);
        _initial = Nodes.Length;
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
            if (r.Action == ActionNames.Provision)
            {
                Provision(r);
                return false;
            }
            if (r.Target is not { } id || !_byId.TryGetValue(id, out var n)) return false;
            if (r.Action == ActionNames.GiveBack)
            {
                // The provisioner takes an empty machine back: lifecycle work, not a remedy.
                if (!n.GivenBack) GivenBack++;
                n.GivenBack = true;
                return false;
            }
            if (r.Action == ActionNames.RestartInstance) return false; // an instance's own healing: the virtual instance runs on as it was
            if (r.Action is ActionNames.StartInstance or ActionNames.StopInstance)
            {
                // Placing instances is the services' routine work, not a remedy: it is neither an action on the node nor a false one.
                var key = $"{r.Parameters.GetValueOrDefault("service")}/{r.Parameters.GetValueOrDefault("instance")}";
                if (r.Action == ActionNames.StartInstance)
                {
                    n.Instances.Add(key);
                    Running[key] = new RunningInstance(n.Id, r.Parameters.GetValueOrDefault("version") ?? "1", at);
                    StartedAt[key] = at;
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
                    // A restart frees leaked memory and a runaway process's CPU; the files on the disk stay.
                    n.Crashed = false; ClearLeak(n, disk: false); n.Exhausted = n.Exhausted && n.DiskUsedPercent >= 100;
                    if (n.Exhausted) n.Crashed = true;
                    break;
                case ActionNames.Reboot:
                    n.Crashed = false; n.Hung = false; ClearLeak(n); n.Exhausted = false;
                    break;
                case ActionNames.Drain:
                    if (n.Filling && !n.Exhausted && n.Fault is { } f) f.Prevented = true;
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

    /// <summary>
    /// The provisioner's side of a request (<c>provision</c>: shape, domain, count, label): that many machines, named
    /// <c>pv-00001</c> on, made at once and registered at the simulation's next step with the request's label. A request
    /// asked again under the same key makes nothing more (the simulated actuator also answers a repeat itself).
    /// </summary>
    private void Provision(ActionRequest r)
    {
        if (Provisioned.ContainsKey(r.IdempotencyKey)) return;
        var count = int.TryParse(r.Parameters.GetValueOrDefault("count"), out var c) ? Math.Clamp(c, 0, 10_000) : 0;
        var domain = r.Parameters.GetValueOrDefault("domain") ?? "provisioned";
        var label = r.Parameters.GetValueOrDefault("label") is { } l && l.IndexOf('=') is var eq and > 0
            ? new KeyValuePair<string, string>(l[..eq], l[(eq + 1)..]) : (KeyValuePair<string, string>?)null;
        Provisioned[r.IdempotencyKey] = count;
        var cores = double.TryParse(r.Parameters.GetValueOrDefault("cpuCores"), System.Globalization.CultureInfo.InvariantCulture, out var cc) && cc > 0 ? cc : VirtualNode.Cores;
        var memory = long.TryParse(r.Parameters.GetValueOrDefault("memoryBytes"), System.Globalization.CultureInfo.InvariantCulture, out var mb) && mb > 0 ? mb : VirtualNode.Total;
        var made = Enumerable.Range(Nodes.Length - _initial + 1, count)
            .Select(i => new VirtualNode($"pv-{i:D5}", domain) { ProvisionLabel = label, CpuCores = cores, MemoryTotal = memory, Shape = r.Parameters.GetValueOrDefault("shape") }).ToList();
        foreach (var n in made) _byId[n.Id] = n;
        Nodes = Nodes.AddRange(made);
        Arriving.AddRange(made);
    }

    private readonly int _initial;

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

    /// <summary>Clears what was filling (the workload that filled it moved or restarted): memory, CPU and, unless kept, the disk.</summary>
    private static void ClearLeak(VirtualNode n, bool disk = true)
    {
        n.LeakBytesPerSecond = 0;
        n.MemoryUsed = VirtualNode.Baseline;
        n.CpuRampPerSecond = 0;
        n.CpuPercent = VirtualNode.CpuBaseline;
        if (!disk) return;
        n.DiskFillPerSecond = 0;
        n.DiskUsedPercent = VirtualNode.DiskBaseline;
    }

    /// <summary>Moves the ground truth on by one step: leaks grow (and exhaust), flapping nodes crash again.</summary>
    public void Step(TimeSpan now, TimeSpan step)
    {
        lock (_gate)
            foreach (var n in Nodes)
            {
                if (n.Filling && !n.Exhausted)
                {
                    n.MemoryUsed += (long)(n.LeakBytesPerSecond * step.TotalSeconds);
                    n.DiskUsedPercent += n.DiskFillPerSecond * step.TotalSeconds;
                    n.CpuPercent += n.CpuRampPerSecond * step.TotalSeconds;
                    if (n.MemoryUsed >= n.MemoryTotal || n.DiskUsedPercent >= 100 || n.CpuPercent >= 100)
                    {
                        n.MemoryUsed = Math.Min(n.MemoryUsed, n.MemoryTotal);
                        n.DiskUsedPercent = Math.Min(n.DiskUsedPercent, 100);
                        n.CpuPercent = Math.Min(n.CpuPercent, 100);
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
