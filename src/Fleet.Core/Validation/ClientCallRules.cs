using System.Collections.Immutable;
using System.Reflection;
using Fleet.Abstractions.Agents;
using Fleet.Abstractions.Audit;
using Fleet.Abstractions.Links;
using Fleet.Abstractions.Nodes;
using Fleet.Abstractions.Principals;
using Fleet.Abstractions.Security;
using Fleet.Abstractions.Services;

namespace Fleet.Core.Validation;

/// <summary>
/// The input rules applied to a client's grain call at the grain's own door (the gateway filter), whatever the client
/// skipped: the same <see cref="InputRules"/> the SDK and the REST API apply, chosen by each parameter's type and name, and
/// the grain's key by its interface. Every parameter of every client-reachable method has a rule (a test holds it to
/// that), so a method added later cannot take unchecked input.
/// </summary>
public static class ClientCallRules
{
    private delegate void Rule(object? value, DateTimeOffset now, Dictionary<string, string[]> problems);

    /// <summary>Parameters whose value the gateway replaces with the caller's key name: nothing to check.</summary>
    private static readonly HashSet<string> ReplacedByTheGateway = ["by", "appliedBy"];

    private static readonly Dictionary<(Type, string?), Rule> Rules = new()
    {
        // Whole documents and reports, by type (any parameter name).
        [(typeof(NodeRegistration), null)] = (v, _, p) => Add(p, InputRules.Check((NodeRegistration)v!)),
        [(typeof(TelemetryReport), null)] = (v, now, p) => Add(p, InputRules.Check((TelemetryReport)v!, now)),
        [(typeof(ImmutableArray<NodeReport>), null)] = (v, now, p) => CheckBatch((ImmutableArray<NodeReport>)v!, now, p),
        [(typeof(ServiceSpec), null)] = (v, _, p) => Add(p, InputRules.Check((ServiceSpec)v!)),
        [(typeof(InstanceReport), null)] = (v, now, p) => Add(p, InputRules.Check((InstanceReport)v!, now)),
        [(typeof(PrincipalReport), null)] = (v, now, p) => Add(p, InputRules.Check((PrincipalReport)v!, now, InputRules.MaxPrincipalHistory)),
        [(typeof(LinkSpec), null)] = (v, _, p) => Add(p, InputRules.Check((LinkSpec)v!)),
        [(typeof(FlowSpec), null)] = (v, _, p) => Add(p, InputRules.Check((FlowSpec)v!)),
        [(typeof(LinkProbe), null)] = (v, _, p) => Add(p, InputRules.Check([(LinkProbe)v!])),
        [(typeof(AuditQuery), null)] = (v, _, p) => Add(p, InputRules.Check((AuditQuery)v!)),
        [(typeof(AgentRefusal), null)] = (v, _, p) => Add(p, InputRules.Check((AgentRefusal)v!)),
        [(typeof(IAgentObserver), null)] = (v, _, p) => { if (v is null) p["observer"] = ["is required"]; },
        [(typeof(FleetRole), null)] = (v, _, p) => { if (!Enum.IsDefined((FleetRole)v!)) p["role"] = [$"{v} is not a role"]; },
        [(typeof(bool), null)] = (_, _, _) => { },
        // Scalars, by type and name.
        [(typeof(string), "reason")] = (v, _, p) => Add(p, InputRules.CheckText("reason", (string?)v, false)),
        [(typeof(string), "yaml")] = (v, _, p) => Add(p, InputRules.CheckDocument("document", (string?)v)),
        [(typeof(string), "name")] = (v, _, p) => Add(p, InputRules.CheckId("name", (string?)v, "key name")),
        [(typeof(string), "node")] = (v, _, p) => { if (v is not null) Add(p, InputRules.CheckId("node", (string)v)); },
        [(typeof(string), "idOrName")] = (v, _, p) => Add(p, InputRules.CheckId("key", (string?)v, "key id or name")),
        [(typeof(string), "id")] = (v, _, p) => Add(p, InputRules.CheckId("id", (string?)v, "approval id")),
        [(typeof(string), "domain")] = (v, _, p) => { if (v is not null) Add(p, InputRules.CheckId("domain", (string)v, "domain")); },
        [(typeof(string), "action")] = (v, _, p) => { if (v is not null && !InputRules.IsValidActionName((string)v)) p["action"] = [$"'{v}' is not an action name (lower-case letters, digits and '-')"]; },
        [(typeof(string), "version")] = (v, _, p) => Add(p, InputRules.CheckVersion("version", (string?)v)),
        [(typeof(string), "strategy")] = (v, _, p) => { if (v is not null && !Rollouts.RolloutPlanner.Strategies.Contains((string)v)) p["strategy"] = [$"'{v}' is not a strategy; accepted: {string.Join(", ", Rollouts.RolloutPlanner.Strategies)}"]; },
        [(typeof(string), "agentId")] = (v, _, p) => Add(p, InputRules.CheckText("agentId", (string?)v, true, InputRules.MaxIdLength)),
        [(typeof(int), "replicas")] = (v, _, p) => { if ((int)v! is < 0 or > InputRules.MaxReplicas) p["replicas"] = [$"{v} is out of range; accepted 0 to {InputRules.MaxReplicas}"]; },
        [(typeof(int), "batch")] = (v, _, p) => { if ((int)v! is < 1 or > InputRules.MaxTrainBatch) p["batch"] = [$"{v} is out of range; accepted 1 to {InputRules.MaxTrainBatch}"]; },
        [(typeof(int), "version")] = (v, _, p) => { if ((int)v! < 0) p["version"] = [$"{v} is not a policy version (0 or more)"]; },
        [(typeof(int), "maxChars")] = (v, _, p) => { if ((int)v! is < 1 or > 4 << 20) p["maxChars"] = [$"{v} is out of range; accepted 1 to {4 << 20}"]; },
        [(typeof(long), "offset")] = (v, _, p) => { if ((long)v! < 0) p["offset"] = [$"{v} is not an offset (0 or more)"]; },
        [(typeof(long), "maxBytes")] = (v, _, p) => { if ((long)v! is < 1L << 20 or > 65536L << 20) p["maxBytes"] = [$"{v} is out of range; accepted 1 MiB to 64 GiB"]; },
        [(typeof(DateTimeOffset), "since")] = (v, now, p) => { if (v is DateTimeOffset at && at > now.AddDays(1)) p["since"] = [$"{at:O} is in the future"]; },
        [(typeof(TimeSpan), "duration")] = (v, _, p) => { if ((TimeSpan)v! <= TimeSpan.Zero || (TimeSpan)v! > TimeSpan.FromDays(7)) p["duration"] = [$"{v} is out of range; accepted more than 0 and at most 7 days"]; },
    };

    /// <summary>Whether a parameter has a rule (or is one the gateway replaces).</summary>
    public static bool Covers(ParameterInfo parameter) =>
        parameter.Name is { } name && ReplacedByTheGateway.Contains(name) || Find(parameter) is not null;

    /// <summary>One parameter as checked: its name, its rule (null: replaced by the gateway), whether null is refused.</summary>
    private sealed record Checked(int Index, string Name, Rule? Rule, bool Required);

    /// <summary>Each method's parameters with their rules, found once.</summary>
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<MethodInfo, Checked[]> Methods = new();

    /// <summary>The problems with a client's call, by field; none when it may go on.</summary>
    public static Dictionary<string, string[]> Check(MethodInfo method, string grainKey, Func<int, object?> argument, DateTimeOffset now)
    {
        var problems = new Dictionary<string, string[]>();
        CheckKey(method.DeclaringType, grainKey, problems);
        foreach (var p in Methods.GetOrAdd(method, Compile))
        {
            if (p.Rule is null)
            {
                problems[p.Name] = ["has no input rule, so a client may not send it"];
                continue;
            }
            var value = argument(p.Index);
            if (value is null && p.Required)
            {
                problems[p.Name] = ["is required"];
                continue;
            }
            try
            {
                p.Rule(value, now, problems);
            }
            catch (Exception e) when (e is NullReferenceException or InvalidCastException or ArgumentException)
            {
                problems[p.Name] = ["is missing or malformed"];
            }
        }
        return problems;
    }

    private static Checked[] Compile(MethodInfo method) =>
        [.. method.GetParameters().Select((p, i) => (p, i)).Where(x => !(x.p.Name is { } name && ReplacedByTheGateway.Contains(name)))
            .Select(x => new Checked(x.i, x.p.Name ?? $"[{x.i}]", Find(x.p), x.p.ParameterType.IsClass && x.p.ParameterType != typeof(string)))];

    private static Rule? Find(ParameterInfo parameter) =>
        Rules.GetValueOrDefault((Nullable.GetUnderlyingType(parameter.ParameterType) ?? parameter.ParameterType, parameter.Name))
        ?? Rules.GetValueOrDefault((parameter.ParameterType, null));

    /// <summary>One per fleet, keyed <c>default</c>: a second one under another key would run a supervisor of its own (its own train, its own timers).</summary>
    private static readonly HashSet<Type?> Singletons =
    [
        typeof(Abstractions.Lifecycle.ICapacityGrain), typeof(INetworkGrain), typeof(Abstractions.Supervision.IFleetSupervisorGrain),
        typeof(Abstractions.Supervision.IOversightGrain), typeof(IServiceDirectoryGrain),
    ];

    /// <summary>The grain's key, by the kind of subject its interface owns.</summary>
    private static void CheckKey(Type? grain, string key, Dictionary<string, string[]> problems)
    {
        if (grain == typeof(INodeGrain) || grain == typeof(IAgentGrain)) Add(problems, InputRules.CheckId("(grain key)", key));
        else if (grain == typeof(IServiceGrain)) Add(problems, InputRules.CheckId("(grain key)", key, "service name"));
        else if (grain == typeof(IFlowGrain)) Add(problems, InputRules.CheckId("(grain key)", key, "flow id"));
        else if (grain == typeof(ILinkGrain)) { if (!InputRules.IsValidLinkId(key, out _, out _)) problems["(grain key)"] = [$"'{key}' is not a link id: {InputRules.LinkIdRule}"]; }
        else if (grain == typeof(IPrincipalGrain)) { if (!InputRules.IsValidPrincipal(key)) problems["(grain key)"] = [$"'{key}' is not a principal id: {InputRules.PrincipalRule}"]; }
        else if (Singletons.Contains(grain) && key != Abstractions.Supervision.FleetNames.Default)
            problems["(grain key)"] = [$"'{key}' is not this fleet's supervisor; its key is {Abstractions.Supervision.FleetNames.Default}"];
        else if (key.Length > InputRules.MaxIdLength || key.Any(char.IsControl)) problems["(grain key)"] = [$"at most {InputRules.MaxIdLength} characters, no control characters"];
    }

    private static void CheckBatch(ImmutableArray<NodeReport> reports, DateTimeOffset now, Dictionary<string, string[]> problems)
    {
        Add(problems, InputRules.CheckBatchSize(reports.Length));
        if (reports.Length > InputRules.MaxBatch) return;
        for (var i = 0; i < reports.Length; i++)
        {
            Add(problems, InputRules.CheckId($"[{i}].nodeId", reports[i].NodeId));
            Add(problems, InputRules.Check(reports[i].Report, now, $"[{i}]."));
        }
    }

    private static void Add(Dictionary<string, string[]> problems, Dictionary<string, string[]> more)
    {
        foreach (var (k, v) in more) problems[k] = v;
    }
}
