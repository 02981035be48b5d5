using Fleet.Abstractions.Actions;
using Fleet.Abstractions.Agents;
using Fleet.Core.Security;

namespace Fleet.Grains.Actuators;

/// <summary>
/// Sends actions to the node's own agent (fleet-agent), which carries them out with what its config names. Every action is
/// signed with the cluster's action key for that node, valid for <see cref="SignatureLifetime"/> (each attempt signs
/// anew); the agent runs nothing else. No agent attached is a transient failure (the pipeline retries it); a refusal by the
/// agent is final; a key the agent already ran answers that run's outcome.
/// </summary>
public sealed class AgentActuator(IGrainFactory grains, ClusterKeys keys, TimeProvider time) : IActuator, IOutcomeQuery
{
    /// <summary>How long a signed action may wait before the agent refuses it as expired.</summary>
    public static readonly TimeSpan SignatureLifetime = TimeSpan.FromMinutes(2);

    public string Name => "agent";

    public async Task<ActuatorResult> ExecuteAsync(ActionRequest request, CancellationToken cancellationToken)
    {
        if (request.Target is not { } node) return new ActuatorResult(false, $"{request.Action} names no node, so no agent can run it");
        var signed = ActionSignatures.Sign(keys.ActionSigning, keys.ActionKeyId, request, node, time.GetUtcNow() + SignatureLifetime);
        AgentActionResult result;
        try
        {
            result = await grains.GetGrain<IAgentGrain>(node).ExecuteAsync(signed).WaitAsync(cancellationToken);
        }
        catch (AgentUnavailableException e)
        {
            throw new ActuatorException(e.Message, e);
        }
        return Describe(result);
    }

    /// <summary>What the node's agent knows of the key (its journal survives restarts); null when it never saw it.</summary>
    public async Task<ActuatorResult?> OutcomeAsync(ActionRequest request, CancellationToken cancellationToken)
    {
        if (request.Target is not { } node) return null;
        try
        {
            return await grains.GetGrain<IAgentGrain>(node).OutcomeAsync(request.IdempotencyKey).WaitAsync(cancellationToken) is { } known ? Describe(known) : null;
        }
        catch (AgentUnavailableException e)
        {
            throw new ActuatorException(e.Message, e);
        }
    }

    private static ActuatorResult Describe(AgentActionResult result) => new(result.Succeeded,
        result.Replayed ? $"agent (the key ran before; not run again): {result.Detail}"
        : result.Refused ? $"refused by the agent: {result.Detail}" : $"agent: {result.Detail}");
}
