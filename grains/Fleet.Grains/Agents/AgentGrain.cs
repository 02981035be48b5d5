using Fleet.Abstractions.Agents;
using Fleet.Abstractions.Audit;
using Fleet.Abstractions.Nodes;
using Fleet.Abstractions.Supervision;
using Fleet.Grains.Audit;
using Orleans.Utilities;
using Microsoft.Extensions.Logging;

namespace Fleet.Grains.Agents;

/// <summary>
/// The channel to one node's agent. The agent attaches every report; an agent that stops attaching is forgotten after
/// <see cref="Expiry"/>. Reentrant: a slow action never holds up the agent's next attach.
/// </summary>
[Reentrant]
public sealed class AgentGrain(ILogger<AgentGrain> log, TimeProvider time, IAuditStore audit) : Grain, IAgentGrain
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

    public Task<AgentActionResult> ExecuteAsync(SignedAction action) => CallAsync(agent => agent.ExecuteAsync(action));

    public Task<AgentActionResult?> OutcomeAsync(string idempotencyKey) => CallAsync(agent => agent.OutcomeAsync(idempotencyKey));

    public Task RefusedAsync(AgentRefusal refusal)
    {
        var node = this.GetPrimaryKeyString();
        var replay = refusal.Kind == AgentRefusalKinds.Replayed;
        var reason = replay
            ? $"The agent on {node} did not run {refusal.Action} again (key {refusal.IdempotencyKey}): {refusal.Why}."
            : $"The agent on {node} refused an action request, {refusal.Action} for {refusal.Subject} (key {refusal.IdempotencyKey}): {refusal.Why}; nothing ran.";
        return audit.AppendAsync([Decisions.Create(time.GetUtcNow(), $"agent/{node}", Subjects.Node(node), DecisionKinds.Denied, reason, 0,
            action: refusal.Action, evidence: new Dictionary<string, string> { ["refusal"] = refusal.Kind, ["key"] = refusal.IdempotencyKey, ["for"] = refusal.Subject },
            rule: "agent", guardrail: replay ? "idempotency" : "action-signature", outcome: replay ? "not-run-again" : "refused")]);
    }

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
