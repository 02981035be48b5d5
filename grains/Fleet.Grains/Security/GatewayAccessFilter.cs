using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Reflection;
using Fleet.Abstractions.Nodes;
using Fleet.Abstractions.Security;
using Fleet.Core.Validation;

namespace Fleet.Grains.Security;

/// <summary>Whether Fleet checks credentials (the default), and what it leaves open.</summary>
public sealed class AccessSettings
{
    /// <summary>Check a credential on every API call and every call through the gateway. Turning it off logs a warning at every start.</summary>
    public bool Enabled { get; init; } = true;

    /// <summary>Calls a second one credential may make through the gateway (per silo; more are refused with a retry-after). Default 500.</summary>
    public int GatewayRequestsPerSecond { get; init; } = 500;

    /// <summary>Calls one credential may make at once above its rate through the gateway. Default 1,000.</summary>
    public int GatewayBurst { get; init; } = 1_000;
}

/// <summary>
/// The gateway's door. A call is the cluster's own only when it carries a valid call stamp (<see cref="CallStamps"/>),
/// which the silos add to every call they send and a client cannot make; what a message says about its sender (a client
/// id, a grain id) is never read. Every other call is a client's (the SDK, the CLI, an agent, any Orleans client): it must
/// carry a live key in the request context (<see cref="CallerContext.Key"/>), and the key's role must be at least what the
/// grain method's <see cref="RequiresRoleAttribute"/> asks; a method without one is for grains only. An agent key reaches
/// only its own node's grains. Orleans' system targets answer a client only for what a client connection needs (the
/// cluster's manifest). The key is removed once checked (it never travels to other grains or to an agent), and who called
/// is set from the key's name, replacing any <c>by</c> argument and any name the client put in the context. Every refusal
/// is counted, logged and recorded (<see cref="GatewayRefusals"/>).
/// </summary>
public sealed class GatewayAccessFilter(
    KeyRing keys, AccessSettings settings, CallStamps stamps, GatewayRefusals refusals, GatewayRateLimits limits, NodeSites sites, TimeProvider time)
    : IIncomingGrainCallFilter
{
    private static readonly ConcurrentDictionary<MethodInfo, Rule?> Rules = new();

    /// <summary>What a method needs: a role (or, <paramref name="AnyRole"/>, any valid key), where its <c>by</c> is, its name.</summary>
    private sealed record Rule(RequiresRoleAttribute Needs, int ByIndex, string Name, bool AnyRole = false);

    internal static readonly string[] TraceHeaders = ["traceparent", "tracestate", "baggage", "Request-Id", "Correlation-Context"];

    /// <summary>The system targets a client's connection calls: the cluster's manifest (which grain types exist where).</summary>
    private static readonly HashSet<string> ClientSystemTargets = ["Orleans.Runtime.IClusterManifestSystemTarget"];

    /// <summary>Orleans' grain extensions a client with any valid key may call: cancelling its own call.</summary>
    private static readonly HashSet<string> ClientExtensions = ["Orleans.Runtime.IGrainCallCancellationExtension"];

    /// <summary>Orleans' own grains a client may call, with an admin's key: the management grain. Every other one is the cluster's.</summary>
    private static readonly HashSet<string> AdminGrains = ["Orleans.Runtime.IManagementGrain"];

    /// <summary>
    /// A grain timer's tick: handed to the grain inside its silo as Orleans' private invoker, which cannot be serialized —
    /// told by the request's own type, not by the interface it names (a client can send a request naming that interface).
    /// </summary>
    private static bool IsTimerTick(IIncomingGrainCallContext context) =>
        context.Request.GetType() is { Name: "TimerTickInvoker", DeclaringType.FullName: "Orleans.Runtime.GrainTimer" } t && t.Assembly.GetName().Name == "Orleans.Runtime";

    /// <remarks>The method and sender are named only when something is refused: a call that passes formats nothing.</remarks>
    public async Task Invoke(IIncomingGrainCallContext context)
    {
        // A valid stamp may stay in the grain's context: every call the grain makes gets a fresh one (or, to a client, none),
        // and the answer to this call goes back to the silo that sent it.
        var stamp = RequestContext.Get(CallStamps.ContextKey) as string;
        if (!settings.Enabled || stamps.Verify(stamp, context.TargetId, context.InterfaceMethod) || IsTimerTick(context))
        {
            await context.Invoke();
            return;
        }
        if (stamp is not null) RequestContext.Remove(CallStamps.ContextKey);
        var key = RequestContext.Get(CallerContext.Key) as string;
        RequestContext.Remove(CallerContext.Key);
        RequestContext.Remove(CallerContext.Who);
        RequestContext.Remove(CallerContext.Node);
        // A client does not choose the trace a call joins (it could force its calls to be exported, or stamp a case's trace on them).
        foreach (var header in TraceHeaders) RequestContext.Remove(header);
        if (stamp is not null)
            refusals.Refused("bad-stamp", Method(), Sender(), "it carried a call stamp that is not this cluster's (forged, replayed or from a silo whose clock is more than 5 min off); it is taken as a client's call");
        if (context.TargetId.IsSystemTarget())
        {
            if (context.InterfaceMethod.DeclaringType?.FullName is { } name && ClientSystemTargets.Contains(name))
            {
                await context.Invoke();
                return;
            }
            refusals.Refused("system-target", Method(), Sender(), "Orleans' system targets answer clients only for the cluster's manifest");
            throw new AccessDeniedException($"{Method()} is not open to clients: only the cluster's silos call it.", unauthenticated: false);
        }
        var caller = await keys.AuthenticateAsync(key);
        if (caller is null)
        {
            refusals.Refused(key is null ? "no-key" : "bad-key", Method(), Sender(), key is null ? "it carried no key" : "its key is unknown, malformed or revoked");
            throw new AccessDeniedException(key is null
                ? "This cluster checks credentials: give the client a key (FLEET_KEY, --key, or the key file the silo wrote at its first start)."
                : "The key is not valid: it is unknown, malformed or revoked.", unauthenticated: true);
        }
        var rule = Rules.GetOrAdd(context.InterfaceMethod, Read);
        if (rule is null)
        {
            refusals.Refused("grains-only", Method(), Sender(), $"it is a method for the cluster's own grains ('{caller.Name}' sent it)", caller.Name);
            throw new AccessDeniedException($"{Method()} is not open to clients: only the cluster's own grains call it.", unauthenticated: false);
        }
        if (!rule.AnyRole && !caller.Role.Satisfies(rule.Needs.Role))
        {
            refusals.Refused("role", Method(), Sender(), $"it needs {Article(rule.Needs.Role)} key; '{caller.Name}' is {Article(caller.Role)} key", caller.Name);
            throw new AccessDeniedException($"{rule.Name} needs {Article(rule.Needs.Role)} key; '{caller.Name}' is {Article(caller.Role)} key.", unauthenticated: false);
        }
        if (caller.Role == FleetRole.Agent)
        {
            if (rule.Needs.OwnNode && context.TargetId.Key.ToString() != caller.Node)
                throw AgentRefused($"The agent key '{caller.Name}' is bound to node {caller.Node}; it cannot act for node {context.TargetId.Key}.");
            if (context.Request.GetArgumentCount() > 0 && context.Request.GetArgument(0) is ImmutableArray<NodeReport> batch && batch.FirstOrDefault(r => r.NodeId != caller.Node) is { } other)
                throw AgentRefused($"The agent key '{caller.Name}' is bound to node {caller.Node}; the batch holds a report for node {other.NodeId}.");
            if (context.InterfaceMethod.DeclaringType == typeof(Fleet.Abstractions.Links.ILinkGrain) && !await sites.TouchesAsync(caller.Node ?? "", context.TargetId.Key.ToString()!))
                throw AgentRefused($"The agent key '{caller.Name}' is bound to node {caller.Node}; link {context.TargetId.Key} does not touch it (neither end is the node or its site).");
            RequestContext.Set(CallerContext.Node, caller.Node!);
        }
        if (!limits.TryTake(caller, out var retryAfter))
        {
            refusals.Refused("rate-limited", Method(), Sender(), $"'{caller.Name}' sent more than {settings.GatewayRequestsPerSecond} calls a second (bursts of {settings.GatewayBurst})", caller.Name);
            throw new RateLimitedException($"'{caller.Name}' sent more than {settings.GatewayRequestsPerSecond} calls a second through the gateway " +
                $"(bursts of {settings.GatewayBurst}); retry after {Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds))} s.", retryAfter);
        }
        var request = context.Request;
        // Fleet's own methods by Fleet's input rules; Orleans' management grain takes an admin's key and its own types.
        var problems = context.InterfaceMethod.DeclaringType?.Assembly != typeof(RequiresRoleAttribute).Assembly ? []
            : ClientCallRules.Check(context.InterfaceMethod, context.TargetId.Key.ToString() ?? "", request.GetArgument, time.GetUtcNow());
        if (problems.Count > 0)
        {
            var first = problems.First();
            refusals.Refused("invalid-input", Method(), Sender(), $"{first.Key}: {first.Value.FirstOrDefault()}", caller.Name);
            throw new InvalidInputException($"The input of {rule.Name} is not valid.",
                problems.ToImmutableDictionary(kv => kv.Key, kv => kv.Value.ToImmutableArray()));
        }
        RequestContext.Set(CallerContext.Who, caller.Name);
        if (rule.ByIndex >= 0) context.Request.SetArgument(rule.ByIndex, caller.Name);
        await context.Invoke();
        if (context.InterfaceMethod.DeclaringType == typeof(IKeyStoreGrain)) keys.Invalidate();

        string Method() => Describe(context);
        string Sender() => context.SourceId?.ToString() ?? "(none)";

        AccessDeniedException AgentRefused(string message)
        {
            refusals.Refused("other-node", Method(), Sender(), message, caller.Name);
            return new AccessDeniedException(message, unauthenticated: false);
        }
    }

    private static Rule? Read(MethodInfo method)
    {
        // Orleans' own interfaces: cancelling one's call (any key), the management grain (an admin's); nothing else.
        if (method.DeclaringType?.Assembly != typeof(RequiresRoleAttribute).Assembly)
            return method.DeclaringType?.FullName is { } name && ClientExtensions.Contains(name) ? new Rule(new RequiresRoleAttribute(FleetRole.Viewer), -1, $"{method.DeclaringType.Name}.{method.Name}", AnyRole: true)
                : method.DeclaringType?.FullName is { } admin && AdminGrains.Contains(admin) ? new Rule(new RequiresRoleAttribute(FleetRole.Admin), -1, $"{method.DeclaringType!.Name}.{method.Name}")
                : null;
        if (method.GetCustomAttribute<RequiresRoleAttribute>() is not { } needs) return null;
        var by = Array.FindIndex(method.GetParameters(), p => p.Name is "by" or "appliedBy");
        return new Rule(needs, by, $"{Short(method.DeclaringType!)}.{method.Name.Replace("Async", "")}");
    }

    private static string Describe(IIncomingGrainCallContext c) => $"{Short(c.InterfaceMethod.DeclaringType!)}.{c.InterfaceMethod.Name.Replace("Async", "")}";

    private static string Short(Type t) => t.Name.StartsWith('I') ? t.Name[1..].Replace("Grain", "") : t.Name;

    private static string Article(FleetRole r) => "aeiou".Contains(r.Name()[0]) ? $"an {r.Name()}" : $"a {r.Name()}";
}

/// <summary>
/// The silo's side of every call it sends: a call to a grain or system target carries the cluster's stamp
/// (<see cref="CallStamps"/>) and never a key; a call to a client (an agent's observer) carries no stamp, no key, no caller
/// identity and no trace context — who made the call that led to it, and the node an agent key is bound to, stay inside
/// the cluster.
/// </summary>
public sealed class SiloCallStamper(CallStamps stamps, AccessSettings settings) : IOutgoingGrainCallFilter
{
    public async Task Invoke(IOutgoingGrainCallContext context)
    {
        // A key never travels between grains, nor to a client: a call made while a grain activates runs in the request
        // context of the message that activated it, which the gateway's check has not seen yet.
        RequestContext.Remove(CallerContext.Key);
        if (context.TargetId.IsClient())
        {
            RequestContext.Remove(CallStamps.ContextKey);
            RequestContext.Remove(CallerContext.Who);
            RequestContext.Remove(CallerContext.Node);
            foreach (var header in GatewayAccessFilter.TraceHeaders) RequestContext.Remove(header);
        }
        // With credentials not checked (Fleet:Auth:Enabled=false) nothing reads a stamp.
        else if (settings.Enabled) RequestContext.Set(CallStamps.ContextKey, stamps.Make(context.TargetId, context.InterfaceMethod));
        await context.Invoke();
    }
}
