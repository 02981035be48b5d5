using Fleet.Abstractions.Actions;
using Fleet.Abstractions.Agents;

namespace Fleet.Grains.Actuators;

/// <summary>
/// Sends actions to the node's own agent (fleet-agent), which carries them out with what its config names.
/// No agent attached is a transient failure (the pipeline retries it); a refusal by the agent is final.
/// </summary>
public sealed class AgentActuator(IGrainFactory grains) : IActuator
{
    public string Name => "agent";

    public async Task<ActuatorResult> ExecuteAsync(ActionRequest request, CancellationToken cancellationToken)
    {
        if (request.Target is not { } node) return new ActuatorResult(false, $"{request.Action} names no node, so no agent can run it");
        AgentActionResult result;
        try
        {
            result = await grains.GetGrain<IAgentGrain>(node).ExecuteAsync(request).WaitAsync(cancellationToken);
        }
        catch (AgentUnavailableException e)
        {
            throw new ActuatorException(e.Message, e);
        }
        return new ActuatorResult(result.Succeeded, result.Refused ? $"refused by the agent: {result.Detail}" : $"agent: {result.Detail}");
    }
}
