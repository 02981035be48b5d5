using System.Collections.Immutable;
using Fleet.Abstractions.Audit;
using Fleet.Abstractions.Nodes;
using Fleet.Abstractions.Policy;
using Fleet.Abstractions.Services;
using Fleet.Abstractions.Supervision;

namespace Fleet.Client;

/// <summary>
/// Fleet's client SDK: query and steer the fleet. Input is checked here before it is sent
/// (<see cref="FleetValidationException"/>); an unknown node or service throws <see cref="FleetNotFoundException"/>, a
/// guardrail's refusal <see cref="FleetRefusedException"/>, an unreachable cluster <see cref="FleetUnavailableException"/>.
/// </summary>
public interface IFleetClient
{
    Task<NodeStatus> RegisterNodeAsync(NodeRegistration registration, CancellationToken cancellationToken = default);

    Task<ReportResult> ReportAsync(string nodeId, TelemetryReport report, CancellationToken cancellationToken = default);

    /// <summary>Many reports in one call (at most 10,000): every report is checked first, and none is sent if any is invalid.</summary>
    Task<ImmutableArray<ReportResult>> ReportBatchAsync(IReadOnlyList<(string NodeId, TelemetryReport Report)> reports, CancellationToken cancellationToken = default);

    /// <summary>The node's status; null when it was never registered.</summary>
    Task<NodeStatus?> GetNodeAsync(string nodeId, CancellationToken cancellationToken = default);

    Task<ImmutableArray<NodeSummary>> ListNodesAsync(HealthState? health = null, string? domain = null, CancellationToken cancellationToken = default);

    Task<NodeStatus> CordonAsync(string nodeId, string by, string? reason, CancellationToken cancellationToken = default);

    Task<NodeStatus> UncordonAsync(string nodeId, string by, string? reason, CancellationToken cancellationToken = default);

    /// <summary>
    /// Drains a node through a lease, like any disruptive action: a guardrail that says no throws
    /// <see cref="FleetRefusedException"/> naming it. <paramref name="force"/> (with a reason) skips the domain's and the
    /// fleet's concurrency and rate budgets, never a service's minimum of healthy instances, a storm brake or a freeze.
    /// </summary>
    Task<NodeStatus> DrainAsync(string nodeId, string by, string? reason, bool force = false, CancellationToken cancellationToken = default);

    /// <summary>
    /// Decommissions a node (docs/lifecycle.md): permitted as a drain is (a guardrail that says no throws
    /// <see cref="Fleet.Abstractions.Supervision.ActionRefusedException"/>), its instances move off make-before-break and it
    /// is retired once nothing is left on it.
    /// </summary>
    Task<NodeStatus> DecommissionAsync(string nodeId, string by, string? reason, bool force = false, CancellationToken cancellationToken = default);

    /// <summary>
    /// What the consolidation planner would do now (docs/lifecycle.md#consolidation): which nodes could be freed by which
    /// moves, what that saves and disrupts, and why each other node is kept. Nothing runs.
    /// </summary>
    Task<Fleet.Abstractions.Lifecycle.ConsolidationPlan> PlanConsolidationAsync(CancellationToken cancellationToken = default);

    /// <summary>The capacity supervisor: each service's Pending demand, the requests made to the provisioner, what it would do now.</summary>
    Task<Fleet.Abstractions.Lifecycle.CapacityStatus> GetCapacityAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// Starts a maintenance train (docs/lifecycle.md#maintenance-train) that retires every node of <paramref name="domain"/>,
    /// <paramref name="batch"/> at a time, each drained through its services' budgets. Refused
    /// (<see cref="FleetRefusedException"/>) while another domain's train runs, or (unless <paramref name="force"/>, with a
    /// reason) when the rest of the fleet has no room for the domain's instances; an unknown domain is not found.
    /// </summary>
    Task<Fleet.Abstractions.Lifecycle.TrainRun> RetireDomainAsync(string domain, string by, string? reason, int batch = 1, bool force = false, CancellationToken cancellationToken = default);

    /// <summary>Stops the train retiring <paramref name="domain"/>: no further node is asked; those already draining finish.</summary>
    Task<Fleet.Abstractions.Lifecycle.TrainRun> StopTrainAsync(string domain, string by, string? reason, CancellationToken cancellationToken = default);

    /// <summary>Admits a node into service from its burn-in, its quarantine or its retirement, or stops its decommission.</summary>
    Task<NodeStatus> AdmitAsync(string nodeId, string by, string? reason, CancellationToken cancellationToken = default);

    Task<AuditPage> QueryAuditAsync(AuditQuery query, CancellationToken cancellationToken = default);

    /// <summary>Walks the trail's chain (from <paramref name="since"/>, or all of it): whether it holds, or the first record that breaks it.</summary>
    Task<TrailVerification> VerifyAuditAsync(DateTimeOffset? since, CancellationToken cancellationToken = default);

    /// <summary>Incidents among the records since a time (a case, a storm, a rollout), newest first.</summary>
    Task<ImmutableArray<Fleet.Core.Incidents.IncidentSummary>> ListIncidentsAsync(DateTimeOffset since, CancellationToken cancellationToken = default);

    /// <summary>An incident and its records in time order; null when no record names it.</summary>
    Task<(Fleet.Core.Incidents.IncidentSummary Summary, ImmutableArray<DecisionRecord> Records)?> GetIncidentAsync(string id, CancellationToken cancellationToken = default);

    /// <summary>A blameless postmortem of an incident, in Markdown; null when no record names it.</summary>
    Task<string?> PostmortemAsync(string id, CancellationToken cancellationToken = default);

    Task<PolicyVersionInfo> GetPolicyAsync(CancellationToken cancellationToken = default);

    /// <summary>The policy in force, as the grains read it.</summary>
    Task<FleetPolicy> GetEffectivePolicyAsync(CancellationToken cancellationToken = default);

    Task<PolicyApplyResult> ApplyPolicyAsync(string yaml, string by, CancellationToken cancellationToken = default);

    Task<ImmutableArray<PolicyVersionInfo>> GetPolicyHistoryAsync(CancellationToken cancellationToken = default);

    Task<FleetStatus> FreezeAsync(string by, string reason, CancellationToken cancellationToken = default);

    Task<FleetStatus> UnfreezeAsync(string by, string? reason, CancellationToken cancellationToken = default);

    /// <summary>Approvals of high-risk actions, newest first: the pending ones, or every one kept.</summary>
    Task<ImmutableArray<Approval>> ListApprovalsAsync(bool all = false, CancellationToken cancellationToken = default);

    /// <summary>Approves a pending action (it asks for its lease at once); <see cref="FleetRefusedException"/> when already decided.</summary>
    Task<Approval> ApproveAsync(string id, string by, string? reason = null, CancellationToken cancellationToken = default);

    /// <summary>Rejects a pending action (its case goes to a person).</summary>
    Task<Approval> RejectAsync(string id, string by, string? reason = null, CancellationToken cancellationToken = default);

    /// <summary>Turns shadow mode on or off for the whole fleet, one domain, or one action.</summary>
    Task<ShadowStatus> SetShadowAsync(bool on, string? domain, string? action, string by, string reason, CancellationToken cancellationToken = default);

    /// <summary>What the ladder has learned: verified outcomes per (symptom, action).</summary>
    Task<ImmutableArray<LearnedOutcome>> GetLearningAsync(CancellationToken cancellationToken = default);

    /// <summary>What is in shadow mode: the switches people turned on and the policy's lists.</summary>
    Task<ShadowStatus> GetShadowAsync(CancellationToken cancellationToken = default);

    Task<(FleetStatus Fleet, ImmutableArray<DomainStatus> Domains)> GetFleetAsync(CancellationToken cancellationToken = default);

    /// <summary>Defines or updates a link (<c>a~b</c>, ends in order); <see cref="FleetValidationException"/> names every problem by field.</summary>
    Task<Abstractions.Links.LinkStatus> ApplyLinkAsync(Abstractions.Links.LinkSpec spec, string by, CancellationToken cancellationToken = default);

    Task<ImmutableArray<Abstractions.Links.LinkStatus>> ListLinksAsync(CancellationToken cancellationToken = default);

    /// <summary>A link's standing; null when it is not defined (or the id is not a link id).</summary>
    Task<Abstractions.Links.LinkStatus?> GetLinkAsync(string id, CancellationToken cancellationToken = default);

    /// <summary>A batch of probe results (up to 10,000), one outcome each; nothing is taken when any is invalid.</summary>
    Task<ImmutableArray<Abstractions.Links.ProbeOutcome>> ReportProbesAsync(IReadOnlyList<Abstractions.Links.LinkProbe> probes, CancellationToken cancellationToken = default);

    /// <summary>Defines or updates a flow and places it; its sites must be ends of defined links.</summary>
    Task<Abstractions.Links.FlowStatus> ApplyFlowAsync(Abstractions.Links.FlowSpec spec, string by, CancellationToken cancellationToken = default);

    Task<ImmutableArray<Abstractions.Links.FlowStatus>> ListFlowsAsync(CancellationToken cancellationToken = default);

    Task<Abstractions.Links.FlowStatus?> GetFlowAsync(string id, CancellationToken cancellationToken = default);

    /// <summary>
    /// Deletes a link (docs/links.md#deleting-links-and-flows): its flows move off make-before-break first; refused
    /// (<see cref="FleetRefusedException"/> <c>no-path</c>) when one has no other path. Returns what was done, in a sentence.
    /// </summary>
    Task<string> DeleteLinkAsync(string id, string by, string? reason, CancellationToken cancellationToken = default);

    /// <summary>Deletes a flow: its capacity is released and it leaves the registry. Returns what was done, in a sentence.</summary>
    Task<string> DeleteFlowAsync(string id, string by, string? reason, CancellationToken cancellationToken = default);

    /// <summary>Starts recording the fleet's input trace for <paramref name="duration"/> (replacing the last trace), up to <paramref name="maxBytes"/>.</summary>
    Task<Abstractions.Tracing.TraceStatus> StartTraceAsync(TimeSpan duration, long maxBytes, string by, CancellationToken cancellationToken = default);

    Task<Abstractions.Tracing.TraceStatus> StopTraceAsync(string by, CancellationToken cancellationToken = default);

    Task<Abstractions.Tracing.TraceStatus> GetTraceStatusAsync(CancellationToken cancellationToken = default);

    /// <summary>Writes the last trace (recording or not) to <paramref name="destination"/>; returns the bytes written. <see cref="FleetNotFoundException"/> when there is none.</summary>
    Task<long> DownloadTraceAsync(Stream destination, IProgress<long>? progress = null, CancellationToken cancellationToken = default);

    /// <summary>
    /// Applies a service spec written in YAML or JSON; an invalid one is not applied and every problem is returned by its
    /// path (like a policy). <paramref name="name"/>, when given, must match the spec's name (or supplies it).
    /// </summary>
    Task<ServiceApplyResult> ApplyServiceAsync(string document, string by, string? name = null, CancellationToken cancellationToken = default);

    /// <summary>Applies a spec built in code; an invalid one throws <see cref="FleetValidationException"/>.</summary>
    Task<ServiceStatus> ApplyServiceAsync(ServiceSpec spec, string by, CancellationToken cancellationToken = default);

    /// <summary>The service's spec and instances; null when it was never applied or is deleted.</summary>
    Task<ServiceStatus?> GetServiceAsync(string name, CancellationToken cancellationToken = default);

    Task<ImmutableArray<ServiceSummary>> ListServicesAsync(CancellationToken cancellationToken = default);

    /// <summary>Sets the replicas by hand; autoscaling pauses until the spec turns it on again.</summary>
    Task<ServiceStatus> ScaleServiceAsync(string name, int replicas, string by, CancellationToken cancellationToken = default);

    /// <summary>Stops the service's instances and forgets it; the status while instances stop, null once gone.</summary>
    Task<ServiceStatus?> DeleteServiceAsync(string name, string by, CancellationToken cancellationToken = default);

    /// <summary>Starts a rollout of <paramref name="version"/> (strategy <c>canary</c>, the default, or <c>rolling</c>); refused (<see cref="FleetRefusedException"/>) while another is active.</summary>
    Task<RolloutView> DeployServiceAsync(string name, string version, string? strategy, string by, CancellationToken cancellationToken = default);

    /// <summary>Rolls the active rollout back, or with none active goes back to the version before the last completed rollout.</summary>
    Task<RolloutView> RollbackServiceAsync(string name, string by, string? reason = null, CancellationToken cancellationToken = default);

    /// <summary>Passes the current step of a paused (or progressing) rollout by hand, or ends the watch of a promoted one.</summary>
    Task<RolloutView> PromoteRolloutAsync(string name, string by, CancellationToken cancellationToken = default);

    /// <summary>Stops the active rollout and rolls it back.</summary>
    Task<RolloutView> AbortRolloutAsync(string name, string by, string? reason = null, CancellationToken cancellationToken = default);

    /// <summary>A paused rollout judges its step again from now.</summary>
    Task<RolloutView> ResumeRolloutAsync(string name, string by, CancellationToken cancellationToken = default);

    /// <summary>The rollouts on record, newest first.</summary>
    Task<ImmutableArray<RolloutView>> ListRolloutsAsync(string name, CancellationToken cancellationToken = default);

    /// <summary>Instance reports (at most 10,000): every report is checked first, and none is sent if any is invalid.</summary>
    Task<ImmutableArray<InstanceReportOutcome>> ReportInstancesAsync(IReadOnlyList<InstanceReport> reports, CancellationToken cancellationToken = default);

    /// <summary>Makes an API key (admin); the answer's <c>Secret</c> is the whole key, shown this once. An agent key names its node.</summary>
    Task<Fleet.Abstractions.Security.CreatedApiKey> CreateKeyAsync(string name, Fleet.Abstractions.Security.FleetRole role, string? node, string by, CancellationToken cancellationToken = default);

    /// <summary>Every key, live and revoked (admin): names, roles, nodes, who made them; never a secret or a hash.</summary>
    Task<ImmutableArray<Fleet.Abstractions.Security.ApiKeyInfo>> ListKeysAsync(CancellationToken cancellationToken = default);

    /// <summary>Revokes a key by id or name (admin); it is refused from then on.</summary>
    Task<Fleet.Abstractions.Security.ApiKeyInfo> RevokeKeyAsync(string idOrName, string by, CancellationToken cancellationToken = default);

    /// <summary>Principals' access and egress reports (at most 10,000): every report is checked first, and none is sent if any is invalid.</summary>
    Task<ImmutableArray<Fleet.Abstractions.Principals.PrincipalReportOutcome>> ReportPrincipalsAsync(IReadOnlyList<Fleet.Abstractions.Principals.PrincipalReport> reports, CancellationToken cancellationToken = default);

    /// <summary>Every principal that reported, with its phase and baseline.</summary>
    Task<ImmutableArray<Fleet.Abstractions.Principals.PrincipalStatus>> ListPrincipalsAsync(CancellationToken cancellationToken = default);

    /// <summary>One principal; null when it never reported.</summary>
    Task<Fleet.Abstractions.Principals.PrincipalStatus?> GetPrincipalAsync(string id, CancellationToken cancellationToken = default);

    /// <summary>Lifts a principal's containment (a reason is required); refused (409) when it is not contained.</summary>
    Task<Fleet.Abstractions.Principals.PrincipalStatus> ReleasePrincipalAsync(string id, string by, string reason, CancellationToken cancellationToken = default);

    /// <summary>What applying <paramref name="yaml"/> would change against the current policy, field by field; problems when it is not valid.</summary>
    Task<PolicyDiffResult> DiffPolicyAsync(string yaml, CancellationToken cancellationToken = default);

    /// <summary>What changed from version <paramref name="from"/> to <paramref name="to"/> (default: the current one); 0 is the built-in default.</summary>
    Task<PolicyDiffResult> DiffPolicyVersionsAsync(int from, int? to = null, CancellationToken cancellationToken = default);

    /// <summary>Applies version <paramref name="version"/>'s document again, as a new version (0: the built-in default).</summary>
    Task<PolicyApplyResult> RollbackPolicyAsync(int version, string by, CancellationToken cancellationToken = default);
}

/// <summary>A policy diff: from which version to which (null: a candidate document), each change, and the candidate's problems.</summary>
public sealed record PolicyDiffResult(int From, int? To, ImmutableArray<Fleet.Core.Policies.PolicyChange> Changes, ImmutableArray<PolicyProblem> Problems)
{
    /// <summary>Each change in words, as the CLI prints it.</summary>
    public ImmutableArray<string> Text => [.. Changes.Select(c => c.ToString())];
}
