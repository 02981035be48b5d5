using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Reflection;
using Fleet.Abstractions.Nodes;
using Fleet.Abstractions.Security;

namespace Fleet.Grains.Security;

/// <summary>Whether Fleet checks credentials (the default), and what it leaves open.</summary>
public sealed class AccessSettings
{
    /// <summary>Check a credential on every API call and every call through the gateway. Turning it off logs a warning at every start.</summary>
    public bool Enabled { get; init; } = true;
}

/// <summary>
/// The gateway's door: a call from a client outside the cluster (the SDK, the CLI, an agent) must carry a live key in the
/// request context (<see cref="CallerContext.Key"/>), and the key's role must be at least what the grain method's
/// <see cref="RequiresRoleAttribute"/> asks; a method without one is for grains only. An agent key reaches only its own
/// node's grains. The key is removed once checked (it never travels to other grains or to an agent), and who called is
/// set from the key's name, replacing any <c>by</c> argument and any name the client put in the context. Calls between
/// grains, and the silo's own API (already authenticated over HTTP), pass unchecked.
/// </summary>
public sealed class GatewayAccessFilter(KeyRing keys, AccessSettings settings) : IIncomingGrainCallFilter
{
    private static readonly ConcurrentDictionary<MethodInfo, Rule?> Rules = new();

    private sealed record Rule(RequiresRoleAttribute Needs, int ByIndex, string Name);

    private static readonly string[] TraceHeaders = ["traceparent", "tracestate", "baggage", "Request-Id", "Correlation-Context"];

    public async Task Invoke(IIncomingGrainCallContext context)
    {
        // Orleans' own system targets answer a client's connection (the cluster's manifest, the gateway list): they pass.
        if (!settings.Enabled || !FromOutside(context.SourceId) || context.TargetId.IsSystemTarget())
        {
            await context.Invoke();
            return;
        }
        var key = RequestContext.Get(CallerContext.Key) as string;
        RequestContext.Remove(CallerContext.Key);
        RequestContext.Remove(CallerContext.Who);
        RequestContext.Remove(CallerContext.Node);
        // A client does not choose the trace a call joins (it could force its calls to be exported, or stamp a case's trace on them).
        foreach (var header in TraceHeaders) RequestContext.Remove(header);
        var rule = Rules.GetOrAdd(context.InterfaceMethod, Read);
        var caller = await keys.AuthenticateAsync(key)
            ?? throw new AccessDeniedException(key is null
                ? "This cluster checks credentials: give the client a key (FLEET_KEY, --key, or the key file the silo wrote at its first start)."
                : "The key is not valid: it is unknown, malformed or revoked.", unauthenticated: true);
        if (rule is null)
            throw new AccessDeniedException($"{Describe(context)} is not open to clients: only the cluster's own grains call it.", unauthenticated: false);
        if (!caller.Role.Satisfies(rule.Needs.Role))
            throw new AccessDeniedException($"{rule.Name} needs {Article(rule.Needs.Role)} key; '{caller.Name}' is {Article(caller.Role)} key.", unauthenticated: false);
        if (caller.Role == FleetRole.Agent)
        {
            if (rule.Needs.OwnNode && context.TargetId.Key.ToString() != caller.Node)
                throw new AccessDeniedException($"The agent key '{caller.Name}' is bound to node {caller.Node}; it cannot act for node {context.TargetId.Key}.", unauthenticated: false);
            if (context.Request.GetArgumentCount() > 0 && context.Request.GetArgument(0) is ImmutableArray<NodeReport> batch && batch.FirstOrDefault(r => r.NodeId != caller.Node) is { } other)
                throw new AccessDeniedException($"The agent key '{caller.Name}' is bound to node {caller.Node}; the batch holds a report for node {other.NodeId}.", unauthenticated: false);
            RequestContext.Set(CallerContext.Node, caller.Node!);
        }
        RequestContext.Set(CallerContext.Who, caller.Name);
        if (rule.ByIndex >= 0) context.Request.SetArgument(rule.ByIndex, caller.Name);
        await context.Invoke();
        if (context.InterfaceMethod.DeclaringType == typeof(IKeyStoreGrain)) keys.Invalidate();
    }

    /// <summary>
    /// A client outside the cluster: a client id that is not a silo's own hosted client. (The check trusts Orleans' message
    /// header for the sender, so the gateway port belongs on a network only Fleet's clients reach; see docs/security.md.)
    /// </summary>
    private static bool FromOutside(GrainId? source) =>
        source is not { } s || s.IsClient() && !s.Key.ToString().StartsWith("hosted-", StringComparison.Ordinal);

    private static Rule? Read(MethodInfo method)
    {
        // Grains that are not Fleet's (Orleans' management grain, the dashboard's): an admin's.
        if (method.DeclaringType?.Assembly != typeof(RequiresRoleAttribute).Assembly)
            return new Rule(new RequiresRoleAttribute(FleetRole.Admin), -1, $"{method.DeclaringType?.Name}.{method.Name}");
        if (method.GetCustomAttribute<RequiresRoleAttribute>() is not { } needs) return null;
        var by = Array.FindIndex(method.GetParameters(), p => p.Name is "by" or "appliedBy");
        return new Rule(needs, by, $"{Short(method.DeclaringType!)}.{method.Name.Replace("Async", "")}");
    }

    private static string Describe(IIncomingGrainCallContext c) => $"{Short(c.InterfaceMethod.DeclaringType!)}.{c.InterfaceMethod.Name.Replace("Async", "")}";

    private static string Short(Type t) => t.Name.StartsWith('I') ? t.Name[1..].Replace("Grain", "") : t.Name;

    private static string Article(FleetRole r) => r is FleetRole.Admin or FleetRole.Agent or FleetRole.Operator ? $"an {r.Name()}" : $"a {r.Name()}";
}

/// <summary>
/// Calls from the cluster to a client (an agent's observer) carry no caller identity: who made the call that led to
/// them, and the node an agent key is bound to, stay inside the cluster.
/// </summary>
public sealed class ClientBoundContextFilter : IOutgoingGrainCallFilter
{
    public async Task Invoke(IOutgoingGrainCallContext context)
    {
        if (context.TargetId.IsClient())
        {
            RequestContext.Remove(CallerContext.Who);
            RequestContext.Remove(CallerContext.Node);
        }
        await context.Invoke();
    }
}
