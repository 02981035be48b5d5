using Fleet.Abstractions.Security;
using Fleet.Abstractions.Actions;

namespace Fleet.Abstractions.Agents;

/// <summary>What a node agent answers for one action. <see cref="Refused"/>: its config names nothing the action asks for.</summary>
[GenerateSerializer, Immutable, Alias("fleet.AgentActionResult")]
public sealed record AgentActionResult(
    [property: Id(0)] string IdempotencyKey,
    [property: Id(1)] bool Succeeded,
    [property: Id(2)] string Detail,
    [property: Id(3)] bool Refused = false);

/// <summary>The node agent, as the cluster sees it: it carries out actions sent to it.</summary>
[Alias("fleet.IAgentObserver")]
public interface IAgentObserver : IGrainObserver
{
    [Alias("Execute")]
    Task<AgentActionResult> ExecuteAsync(ActionRequest request);

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

    /// <summary>Sends an action to the attached agent and waits for its answer; fails when no agent is attached.</summary>
    [Alias("Execute")]
    Task<AgentActionResult> ExecuteAsync(ActionRequest request);

    /// <summary>Asks the attached agent to probe one of its peers now; fails when no agent is attached.</summary>
    [Alias("ProbePeer")]
    Task<Nodes.PeerProbe?> ProbePeerAsync(string peerNodeId);

    [ReadOnly, Alias("Get"), RequiresRole(FleetRole.Viewer)]
    Task<AgentInfo?> GetAsync();
}

/// <summary>No agent is attached for the node: the action cannot be delivered now (worth retrying).</summary>
[GenerateSerializer, Alias("fleet.AgentUnavailableException")]
public sealed class AgentUnavailableException(string message) : Exception(message);
