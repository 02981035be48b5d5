using Fleet.Abstractions.Security;
using Fleet.Abstractions.Actions;

namespace Fleet.Abstractions.Agents;

/// <summary>
/// What a node agent answers for one action. <see cref="Refused"/>: it did not run it (its config names nothing the action
/// asks for, or the request is not one the cluster signed). <see cref="Replayed"/>: the key ran before; this is that run's
/// outcome and nothing ran now.
/// </summary>
[GenerateSerializer, Immutable, Alias("fleet.AgentActionResult")]
public sealed record AgentActionResult(
    [property: Id(0)] string IdempotencyKey,
    [property: Id(1)] bool Succeeded,
    [property: Id(2)] string Detail,
    [property: Id(3)] bool Refused = false)
{
    [Id(4)] public bool Replayed { get; init; }
}

/// <summary>
/// An action as the cluster sends it to an agent: the request, the node it is for and until when it may run, signed by the
/// cluster (ECDSA P-256 over <c>ActionSignatures.Payload</c>; the private key derived from the cluster secret, the public key
/// in the agent's config). An agent runs nothing that is unsigned, badly signed, for another node, expired or already run.
/// </summary>
[GenerateSerializer, Immutable, Alias("fleet.SignedAction")]
public sealed record SignedAction(
    [property: Id(0)] ActionRequest Request,
    [property: Id(1)] string Node,
    [property: Id(2)] DateTimeOffset ExpiresAt,
    [property: Id(3)] string KeyId,
    [property: Id(4)] string? Signature);

/// <summary>An action request an agent refused (or did not run again), as it reports it to the cluster's trail.</summary>
[GenerateSerializer, Immutable, Alias("fleet.AgentRefusal")]
public sealed record AgentRefusal(
    [property: Id(0)] string IdempotencyKey,
    [property: Id(1)] string Action,
    [property: Id(2)] string Subject,
    [property: Id(3)] string Kind,
    [property: Id(4)] string Why);

/// <summary>The kinds of <see cref="AgentRefusal"/>.</summary>
public static class AgentRefusalKinds
{
    public const string Unsigned = "unsigned";
    public const string BadSignature = "bad-signature";
    public const string Expired = "expired";
    public const string OtherNode = "other-node";
    public const string Replayed = "replayed";
    public const string NoActionKey = "no-action-key";
}

/// <summary>The node agent, as the cluster sees it: it carries out actions sent to it.</summary>
[Alias("fleet.IAgentObserver")]
public interface IAgentObserver : IGrainObserver
{
    /// <summary>Runs a signed action, once per idempotency key (a repeat answers the first run's outcome and runs nothing).</summary>
    [Alias("ExecuteSigned")]
    Task<AgentActionResult> ExecuteAsync(SignedAction action);

    /// <summary>What the agent knows of a key: the outcome of its run, that it started and did not finish, or null (never seen).</summary>
    [Alias("Outcome")]
    Task<AgentActionResult?> OutcomeAsync(string idempotencyKey);

    /// <summary>Probes one of the agent's configured peers now (an indirect probe, as SWIM asks k members); null when it has no such peer.</summary>
    [Alias("ProbePeer")]
    Task<Nodes.PeerProbe?> ProbePeerAsync(string peerNodeId);
}

[GenerateSerializer, Immutable, Alias("fleet.AgentInfo")]
public sealed record AgentInfo(
    [property: Id(0)] string AgentId,
    [property: Id(1)] DateTimeOffset AttachedAt);

/// <summary>The channel between the cluster and one node's agent. Keyed by node id.</summary>
[Alias("fleet.IAgentGrain")]
public interface IAgentGrain : IGrainWithStringKey
{
    /// <summary>The agent (re)attaches; it does so every report, and is forgotten when it stops.</summary>
    [Alias("Attach"), RequiresRole(FleetRole.Agent, OwnNode = true)]
    Task AttachAsync(IAgentObserver observer, string agentId);

    /// <summary>Sends a signed action to the attached agent and waits for its answer; fails when no agent is attached.</summary>
    [Alias("ExecuteSigned")]
    Task<AgentActionResult> ExecuteAsync(SignedAction action);

    /// <summary>Asks the attached agent what became of an idempotency key; fails when no agent is attached.</summary>
    [Alias("Outcome")]
    Task<AgentActionResult?> OutcomeAsync(string idempotencyKey);

    /// <summary>The agent refused an action request (or did not run a key again): written to the node's trail.</summary>
    [Alias("Refused"), RequiresRole(FleetRole.Agent, OwnNode = true)]
    Task RefusedAsync(AgentRefusal refusal);

    /// <summary>Asks the attached agent to probe one of its peers now; fails when no agent is attached.</summary>
    [Alias("ProbePeer")]
    Task<Nodes.PeerProbe?> ProbePeerAsync(string peerNodeId);

    [ReadOnly, Alias("Get"), RequiresRole(FleetRole.Viewer)]
    Task<AgentInfo?> GetAsync();
}

/// <summary>No agent is attached for the node: the action cannot be delivered now (worth retrying).</summary>
[GenerateSerializer, Alias("fleet.AgentUnavailableException")]
public sealed class AgentUnavailableException(string message) : Exception(message);
