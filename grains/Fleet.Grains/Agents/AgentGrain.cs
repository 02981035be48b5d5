using Fleet.Abstractions.Actions;
using Fleet.Abstractions.Agents;
using Fleet.Abstractions.Nodes;
using Orleans.Utilities;
using Microsoft.Extensions.Logging;

namespace Fleet.Grains.Agents;

/// <summary>
/// The channel to one node's agent. The agent attaches every report; an agent that stops attaching is forgotten after
/// <see cref="Expiry"/>. Reentrant: a slow action never holds up the agent's next attach.
/// </summary>
[Reentrant]
public sealed class AgentGrain(ILogger<AgentGrain> log, TimeProvider time) : Grain, IAgentGrain
{
    public static readonly TimeSpan Expiry = TimeSpan.FromSeconds(30);
    private readonly ObserverManager<IAgentObserver> _agents = new(Expiry, log);
    private AgentInfo? _info;

    public Task AttachAsync(IAgentObserver observer, string agentId)
    {
        _agents.ClearExpired();
        if (_agents.Count > 0 && _info?.AgentId != agentId) _agents.Clear();
        _agents.Subscribe(observer, observer);
        if (_info?.AgentId != agentId) _info = new AgentInfo(agentId, time.GetUtcNow());
        return Task.CompletedTask;
    }

    public Task<AgentActionResult> ExecuteAsync(ActionRequest request) => CallAsync(agent => agent.ExecuteAsync(request));

    public Task<PeerProbe?> ProbePeerAsync(string peerNodeId) => CallAsync(agent => agent.ProbePeerAsync(peerNodeId));

    private async Task<T> CallAsync<T>(Func<IAgentObserver, Task<T>> call)
    {
        _agents.ClearExpired();
        var (key, agent) = _agents.Observers.FirstOrDefault();
        if (agent is null) throw new AgentUnavailableException($"no agent is attached for node {this.GetPrimaryKeyString()}");
        try
        {
            return await call(agent);
        }
        catch (Exception e) when (e is not AgentUnavailableException)
        {
            _agents.Unsubscribe(key);
            throw new AgentUnavailableException($"the agent of node {this.GetPrimaryKeyString()} did not answer: {e.Message}");
        }
    }

    public Task<AgentInfo?> GetAsync()
    {
        _agents.ClearExpired();
        return Task.FromResult(_agents.Count > 0 ? _info : null);
    }
}
