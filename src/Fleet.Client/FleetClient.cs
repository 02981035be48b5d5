using Fleet.Abstractions.Diagnostics;
using System.Collections.Immutable;
using Fleet.Abstractions.Audit;
using Fleet.Abstractions.Nodes;
using Fleet.Abstractions.Policy;
using Fleet.Abstractions.Security;
using Fleet.Abstractions.Services;
using Fleet.Abstractions.Supervision;
using Fleet.Core.Policies;
using Fleet.Core.Services;
using Fleet.Core.Validation;
using Microsoft.Extensions.Options;
using Orleans.Runtime;
using Orleans.Runtime.Messaging;
using Polly;
using Polly.Retry;

namespace Fleet.Client;

/// <summary>
/// <see cref="IFleetClient"/> over an Orleans cluster client. Calls that fail because a silo is unreachable or died
/// are retried with backoff (Polly), so a caller rides through a silo's death instead of seeing it. Every input is
/// checked here (the REST API and the CLI call this class, so the rules live once), and the grains' refusals become
/// the client's own exception types.
/// </summary>
internal sealed class FleetClient(IGrainFactory cluster, IOptions<FleetClientOptions> options, TimeProvider time) : IFleetClient
{
    private readonly ResiliencePipeline _retry = new ResiliencePipelineBuilder()
        .AddRetry(new RetryStrategyOptions
        {
            MaxRetryAttempts = Math.Max(1, options.Value.Retries),
            Delay = TimeSpan.FromMilliseconds(200),
            BackoffType = DelayBackoffType.Exponential,
            UseJitter = true,
            ShouldHandle = new PredicateBuilder().Handle<SiloUnavailableException>().Handle<OrleansMessageRejectionException>()
                .Handle<ConnectionFailedException>().Handle<TimeoutException>().Handle<RateLimitedException>(),
            // A rate limit says how long to wait: wait that long (at most MaxRateLimitWait), not the backoff.
            DelayGenerator = args => ValueTask.FromResult<TimeSpan?>(args.Outcome.Exception is RateLimitedException limited
                ? TimeSpan.FromTicks(Math.Min(limited.RetryAfter.Ticks, MaxRateLimitWait.Ticks)) : null),
        })
        .Build();

    /// <summary>The longest the SDK waits on one rate-limit refusal before it tries again.</summary>
    public static readonly TimeSpan MaxRateLimitWait = TimeSpan.FromSeconds(5);

    private async Task<T> CallAsync<T>(Func<Task<T>> call, CancellationToken ct)
    {
        try
        {
            return await _retry.ExecuteAsync(async _ => await call(), ct);
        }
        catch (Exception e) when (e is SiloUnavailableException or OrleansMessageRejectionException or ConnectionFailedException or TimeoutException)
        {
            throw new FleetUnavailableException($"The fleet did not answer: {e.Message}", e);
        }
        catch (Exception e) when (e is NodeNotRegisteredException or DomainNotFoundException or Abstractions.Links.TopologyNotFoundException)
        {
            throw new FleetNotFoundException(e.Message);
        }
        catch (ActionRefusedException e)
        {
            throw new FleetRefusedException(e.Guardrail, e.Message);
        }
        catch (ServiceNotFoundException e)
        {
            throw new FleetNotFoundException(e.Message);
        }
        catch (RolloutRefusedException e)
        {
            throw new FleetRefusedException(e.Code, e.Message);
        }
        catch (ApprovalNotFoundException e)
        {
            throw new FleetNotFoundException(e.Message);
        }
        catch (AccessDeniedException e)
        {
            throw new FleetAccessDeniedException(e.Message, e.Unauthenticated);
        }
        catch (RateLimitedException e)
        {
            throw new FleetRateLimitedException(e.Message, e.RetryAfter);
        }
        catch (InvalidInputException e)
        {
            throw new FleetValidationException(e.Message, e.Problems.ToDictionary(kv => kv.Key, kv => kv.Value.ToArray()));
        }
        catch (ApiKeyRefusedException e) when (e.NotFound)
        {
            throw new FleetNotFoundException(e.Message);
        }
        catch (ApiKeyRefusedException e)
        {
            throw new FleetValidationException("The key request is not valid.", new Dictionary<string, string[]> { [e.Field] = [e.Message] });
        }
    }

    private static void Require(Dictionary<string, string[]> problems, string what)
    {
        if (problems.Count > 0) throw new FleetValidationException($"The {what} is not valid.", problems);
    }

    private static void RequireId(string nodeId) => Require(InputRules.CheckId("id", nodeId), "node id");

    private INodeGrain Node(string id) => GrainReferences.Get<INodeGrain>(cluster, id);
    private IPolicyGrain Policy => cluster.GetGrain<IPolicyGrain>(FleetNames.Default);
    private IFleetSupervisorGrain FleetGrain => cluster.GetGrain<IFleetSupervisorGrain>(FleetNames.Default);

    public Task<NodeStatus> RegisterNodeAsync(NodeRegistration registration, CancellationToken cancellationToken = default)
    {
        Require(InputRules.Check(registration), "node registration");
        return CallAsync(() => Node(registration.NodeId).RegisterAsync(registration), cancellationToken);
    }

    public Task<ReportResult> ReportAsync(string nodeId, TelemetryReport report, CancellationToken cancellationToken = default)
    {
        RequireId(nodeId);
        Require(InputRules.Check(report, time.GetUtcNow()), "telemetry report");
        return CallAsync(() => Node(nodeId).ReportAsync(report), cancellationToken);
    }

    public async Task<ImmutableArray<ReportResult>> ReportBatchAsync(IReadOnlyList<(string NodeId, TelemetryReport Report)> reports,
        CancellationToken cancellationToken = default)
    {
        Require(InputRules.CheckBatchSize(reports.Count), "batch");
        var now = time.GetUtcNow();
        var problems = new Dictionary<string, string[]>();
        for (var i = 0; i < reports.Count; i++)
        {
            foreach (var kv in InputRules.CheckId($"[{i}].nodeId", reports[i].NodeId)) problems[kv.Key] = kv.Value;
            foreach (var kv in InputRules.Check(reports[i].Report, now, $"[{i}].")) problems[kv.Key] = kv.Value;
        }
        if (problems.Count > 0) throw new FleetValidationException("The batch is not valid; no report in it was taken.", problems);
        // One message for the whole batch; the silo fans it out to the node grains. A retried batch is harmless: a report
        // already taken is refused by its sequence number.
        ImmutableArray<NodeReport> batch = [.. reports.Select(r => new NodeReport(r.NodeId, r.Report))];
        return await CallAsync(() => GrainReferences.Get<ITelemetryIntakeGrain>(cluster, 0).ReportBatchAsync(batch), cancellationToken);
    }

    public Task<NodeStatus?> GetNodeAsync(string nodeId, CancellationToken cancellationToken = default)
    {
        RequireId(nodeId);
        return CallAsync(() => Node(nodeId).GetStatusAsync(), cancellationToken);
    }

    public Task<ImmutableArray<NodeSummary>> ListNodesAsync(HealthState? health = null, string? domain = null, CancellationToken cancellationToken = default)
    {
        if (domain is not null) Require(InputRules.CheckId("domain", domain, "domain name"), "domain");
        return CallAsync(async () =>
        {
            var domains = domain is null ? (await FleetGrain.GetStatusAsync()).Domains : [domain];
            var lists = await Task.WhenAll(domains.Select(d => cluster.GetGrain<IDomainSupervisorGrain>(d).GetMembersAsync()));
            return lists.SelectMany(l => l).Where(m => health is null || m.Health == health).OrderBy(m => m.NodeId, StringComparer.Ordinal).ToImmutableArray();
        }, cancellationToken);
    }

    public Task<NodeStatus> CordonAsync(string nodeId, string by, string? reason, CancellationToken cancellationToken = default) =>
        OperateAsync(nodeId, by, reason, false, n => n.CordonAsync(by, reason), cancellationToken);

    public Task<NodeStatus> UncordonAsync(string nodeId, string by, string? reason, CancellationToken cancellationToken = default) =>
        OperateAsync(nodeId, by, reason, false, n => n.UncordonAsync(by, reason), cancellationToken);

    public Task<NodeStatus> DrainAsync(string nodeId, string by, string? reason, bool force = false, CancellationToken cancellationToken = default) =>
        OperateAsync(nodeId, by, reason, force, n => n.DrainAsync(by, reason, force), cancellationToken);

    public Task<NodeStatus> DecommissionAsync(string nodeId, string by, string? reason, bool force = false, CancellationToken cancellationToken = default) =>
        OperateAsync(nodeId, by, reason, force, n => n.DecommissionAsync(by, reason, force), cancellationToken);

    public Task<Fleet.Abstractions.Lifecycle.ConsolidationPlan> PlanConsolidationAsync(CancellationToken cancellationToken = default) =>
        CallAsync(() => cluster.GetGrain<Fleet.Abstractions.Lifecycle.ICapacityGrain>(FleetNames.Default).PlanAsync(), cancellationToken);

    public Task<Fleet.Abstractions.Lifecycle.CapacityStatus> GetCapacityAsync(CancellationToken cancellationToken = default) =>
        CallAsync(() => cluster.GetGrain<Fleet.Abstractions.Lifecycle.ICapacityGrain>(FleetNames.Default).GetStatusAsync(), cancellationToken);

    public Task<Fleet.Abstractions.Lifecycle.TrainRun> RetireDomainAsync(string domain, string by, string? reason, int batch = 1, bool force = false, CancellationToken cancellationToken = default)
    {
        var problems = TrainProblems(domain, by, reason);
        if (batch is < 1 or > InputRules.MaxTrainBatch) problems["batch"] = [$"{batch} is out of range; accepted 1 to {InputRules.MaxTrainBatch}"];
        Require(problems, "request");
        return CallAsync(() => cluster.GetGrain<Fleet.Abstractions.Lifecycle.ICapacityGrain>(FleetNames.Default).RetireDomainAsync(domain, by, reason, batch, force), cancellationToken);
    }

    public Task<Fleet.Abstractions.Lifecycle.TrainRun> StopTrainAsync(string domain, string by, string? reason, CancellationToken cancellationToken = default)
    {
        Require(TrainProblems(domain, by, reason), "request");
        return CallAsync(() => cluster.GetGrain<Fleet.Abstractions.Lifecycle.ICapacityGrain>(FleetNames.Default).StopTrainAsync(domain, by, reason), cancellationToken);
    }

    private static Dictionary<string, string[]> TrainProblems(string domain, string by, string? reason)
    {
        var problems = WhoAndWhy(by, reason);
        foreach (var kv in InputRules.CheckId("id", domain, "domain")) problems[kv.Key] = kv.Value;
        return problems;
    }

    public Task<NodeStatus> AdmitAsync(string nodeId, string by, string? reason, CancellationToken cancellationToken = default) =>
        OperateAsync(nodeId, by, reason, false, n => n.AdmitAsync(by, reason), cancellationToken);

    private Task<NodeStatus> OperateAsync(string nodeId, string by, string? reason, bool reasonRequired, Func<INodeGrain, Task<NodeStatus>> op, CancellationToken ct)
    {
        var problems = InputRules.CheckId("id", nodeId);
        foreach (var kv in InputRules.CheckText("reason", reason, reasonRequired)) problems[kv.Key] = reasonRequired ? ["is required with force: say why the budgets are skipped"] : kv.Value;
        foreach (var kv in InputRules.CheckText("by", by, true, 128)) problems[kv.Key] = kv.Value;
        Require(problems, "request");
        return CallAsync(() => op(Node(nodeId)), ct);
    }

    public Task<AuditPage> QueryAuditAsync(AuditQuery query, CancellationToken cancellationToken = default)
    {
        Require(InputRules.Check(query), "audit query");
        return CallAsync(() => cluster.GetGrain<IAuditGrain>(0).QueryAsync(query), cancellationToken);
    }

    public Task<TrailVerification> VerifyAuditAsync(DateTimeOffset? since, CancellationToken cancellationToken = default) =>
        CallAsync(() => cluster.GetGrain<IAuditGrain>(0).VerifyAsync(since), cancellationToken);

    /// <summary>The most records an incident list reads (the newest first) to find incidents in.</summary>
    public const int IncidentScan = 10_000;

    public async Task<ImmutableArray<Fleet.Core.Incidents.IncidentSummary>> ListIncidentsAsync(DateTimeOffset since, CancellationToken cancellationToken = default) =>
        Fleet.Core.Incidents.IncidentReport.Group(await ReadTrailAsync(new AuditQuery(Since: since, Limit: 1000), r => r.IncidentId is not null, cancellationToken));

    public async Task<(Fleet.Core.Incidents.IncidentSummary Summary, ImmutableArray<DecisionRecord> Records)?> GetIncidentAsync(string id, CancellationToken cancellationToken = default)
    {
        var records = await ReadTrailAsync(new AuditQuery(Limit: 1000) { Incident = id }, _ => true, cancellationToken);
        if (records.Count == 0) return null;
        var ordered = records.OrderBy(r => r.Time).ThenBy(r => r.Id, StringComparer.Ordinal).ToImmutableArray();
        return (Fleet.Core.Incidents.IncidentReport.Summarise(id, ordered), ordered);
    }

    /// <summary>The query's records page by page, newest first, keeping those that match, until the trail ends or <see cref="IncidentScan"/> are kept.</summary>
    private async Task<List<DecisionRecord>> ReadTrailAsync(AuditQuery query, Func<DecisionRecord, bool> keep, CancellationToken cancellationToken)
    {
        var records = new List<DecisionRecord>();
        long? before = null;
        do
        {
            var page = await QueryAuditAsync(query with { Before = before }, cancellationToken);
            records.AddRange(page.Records.Where(keep));
            before = page.NextBefore;
        } while (before is not null && records.Count < IncidentScan);
        return records;
    }

    public async Task<string?> PostmortemAsync(string id, CancellationToken cancellationToken = default) =>
        await GetIncidentAsync(id, cancellationToken) is { } incident ? Fleet.Core.Incidents.IncidentReport.Postmortem(id, incident.Records, time.GetUtcNow()) : null;

    public Task<PolicyVersionInfo> GetPolicyAsync(CancellationToken cancellationToken = default) =>
        CallAsync(() => Policy.GetCurrentDocumentAsync(), cancellationToken);

    public Task<FleetPolicy> GetEffectivePolicyAsync(CancellationToken cancellationToken = default) =>
        CallAsync(() => Policy.GetCurrentAsync(), cancellationToken);

    public Task<PolicyApplyResult> ApplyPolicyAsync(string yaml, string by, CancellationToken cancellationToken = default)
    {
        var problems = InputRules.CheckDocument("document", yaml);
        foreach (var kv in InputRules.CheckText("by", by, true, 128)) problems[kv.Key] = kv.Value;
        Require(problems, "policy");
        return CallAsync(() => Policy.ApplyAsync(yaml, by), cancellationToken);
    }

    public Task<ImmutableArray<PolicyVersionInfo>> GetPolicyHistoryAsync(CancellationToken cancellationToken = default) =>
        CallAsync(() => Policy.GetHistoryAsync(), cancellationToken);

    public Task<FleetStatus> FreezeAsync(string by, string reason, CancellationToken cancellationToken = default)
    {
        var problems = InputRules.CheckText("reason", reason, true);
        foreach (var kv in InputRules.CheckText("by", by, true, 128)) problems[kv.Key] = kv.Value;
        Require(problems, "freeze");
        return CallAsync(() => FleetGrain.FreezeAsync(by, reason), cancellationToken);
    }

    private IOversightGrain Oversight => cluster.GetGrain<IOversightGrain>(FleetNames.Default);

    private Abstractions.Links.INetworkGrain Network => cluster.GetGrain<Abstractions.Links.INetworkGrain>(FleetNames.Default);

    public Task<Abstractions.Links.LinkStatus> ApplyLinkAsync(Abstractions.Links.LinkSpec spec, string by, CancellationToken cancellationToken = default)
    {
        var problems = InputRules.Check(spec);
        if (problems.Count > 0) throw new FleetValidationException($"Link {spec.Id} is not valid.", problems);
        return CallAsync(() => cluster.GetGrain<Abstractions.Links.ILinkGrain>(spec.Id).DefineAsync(spec, by), cancellationToken);
    }

    public async Task<ImmutableArray<Abstractions.Links.LinkStatus>> ListLinksAsync(CancellationToken cancellationToken = default) =>
        [.. (await CallAsync(() => Network.GetViewAsync(), cancellationToken)).Links.OrderBy(l => l.Spec.Id, StringComparer.Ordinal)];

    public Task<Abstractions.Links.LinkStatus?> GetLinkAsync(string id, CancellationToken cancellationToken = default) =>
        !InputRules.IsValidLinkId(id, out _, out _) ? throw new FleetValidationException($"'{id}' is not a link id.", new Dictionary<string, string[]> { ["id"] = [$"'{id}' is not a link id: {InputRules.LinkIdRule}"] })
        : CallAsync(() => cluster.GetGrain<Abstractions.Links.ILinkGrain>(id).GetStatusAsync(), cancellationToken);

    public async Task<ImmutableArray<Abstractions.Links.ProbeOutcome>> ReportProbesAsync(IReadOnlyList<Abstractions.Links.LinkProbe> probes, CancellationToken cancellationToken = default)
    {
        var problems = InputRules.Check(probes);
        if (problems.Count > 0) throw new FleetValidationException("The probe batch is not valid; nothing was taken.", problems);
        var outcomes = new Abstractions.Links.ProbeOutcome[probes.Count];
        // One link's probes in their order; links in parallel.
        await Parallel.ForEachAsync(probes.Select((p, i) => (p, i)).GroupBy(x => x.p.Link), new ParallelOptions { MaxDegreeOfParallelism = 64, CancellationToken = cancellationToken }, async (group, ct) =>
        {
            var link = cluster.GetGrain<Abstractions.Links.ILinkGrain>(group.Key);
            foreach (var (probe, i) in group) outcomes[i] = await CallAsync(() => link.ProbeAsync(probe), ct);
        });
        return [.. outcomes];
    }

    public async Task<Abstractions.Links.FlowStatus> ApplyFlowAsync(Abstractions.Links.FlowSpec spec, string by, CancellationToken cancellationToken = default)
    {
        var view = await CallAsync(() => Network.GetViewAsync(), cancellationToken);
        var sites = view.Links.SelectMany(l => new[] { l.Spec.A, l.Spec.B }).ToHashSet();
        var problems = InputRules.Check(spec, sites.Contains);
        if (problems.Count > 0) throw new FleetValidationException($"Flow {spec.Id} is not valid.", problems);
        return await CallAsync(() => cluster.GetGrain<Abstractions.Links.IFlowGrain>(spec.Id).DefineAsync(spec, by), cancellationToken);
    }

    public async Task<ImmutableArray<Abstractions.Links.FlowStatus>> ListFlowsAsync(CancellationToken cancellationToken = default)
    {
        var view = await CallAsync(() => Network.GetViewAsync(), cancellationToken);
        var all = new List<Abstractions.Links.FlowStatus>();
        foreach (var chunk in view.Flows.Chunk(500))
            all.AddRange((await Task.WhenAll(chunk.Select(f => CallAsync(() => cluster.GetGrain<Abstractions.Links.IFlowGrain>(f).GetStatusAsync(), cancellationToken)))).OfType<Abstractions.Links.FlowStatus>());
        return [.. all.OrderBy(f => f.Spec.Id, StringComparer.Ordinal)];
    }

    public Task<Abstractions.Links.FlowStatus?> GetFlowAsync(string id, CancellationToken cancellationToken = default) =>
        !InputRules.IsValidId(id) ? throw new FleetValidationException($"'{id}' is not a flow id.", new Dictionary<string, string[]> { ["id"] = [$"'{id}' is not a flow id: {InputRules.IdRule}"] })
        : CallAsync(() => cluster.GetGrain<Abstractions.Links.IFlowGrain>(id).GetStatusAsync(), cancellationToken);

    public Task<string> DeleteLinkAsync(string id, string by, string? reason, CancellationToken cancellationToken = default)
    {
        var problems = WhoAndWhy(by, reason);
        if (!InputRules.IsValidLinkId(id, out _, out _)) problems["id"] = [$"'{id}' is not a link id: {InputRules.LinkIdRule}"];
        Require(problems, "request");
        return CallAsync(() => cluster.GetGrain<Abstractions.Links.ILinkGrain>(id).DeleteAsync(by, reason), cancellationToken);
    }

    public Task<string> DeleteFlowAsync(string id, string by, string? reason, CancellationToken cancellationToken = default)
    {
        var problems = WhoAndWhy(by, reason);
        if (!InputRules.IsValidId(id)) problems["id"] = [$"'{id}' is not a flow id: {InputRules.IdRule}"];
        Require(problems, "request");
        return CallAsync(() => cluster.GetGrain<Abstractions.Links.IFlowGrain>(id).DeleteAsync(by, reason), cancellationToken);
    }

    private static Dictionary<string, string[]> WhoAndWhy(string by, string? reason)
    {
        var problems = InputRules.CheckText("reason", reason, false);
        foreach (var kv in InputRules.CheckText("by", by, true, 128)) problems[kv.Key] = kv.Value;
        return problems;
    }

    private Abstractions.Tracing.ITraceGrain TraceGrain => cluster.GetGrain<Abstractions.Tracing.ITraceGrain>(FleetNames.Default);

    public Task<Abstractions.Tracing.TraceStatus> StartTraceAsync(TimeSpan duration, long maxBytes, string by, CancellationToken cancellationToken = default)
    {
        var problems = new Dictionary<string, string[]>();
        if (duration < TimeSpan.FromSeconds(1) || duration > TimeSpan.FromDays(7)) problems["for"] = [$"{Core.Text.Format.Duration(duration)} is not between 1 s and 7 days"];
        if (maxBytes < 1 << 20) problems["maxBytes"] = [$"{maxBytes} is below the least accepted, 1 MiB"];
        if (problems.Count > 0) throw new FleetValidationException("The trace request is not valid.", problems);
        return CallAsync(() => TraceGrain.StartAsync(duration, maxBytes, by), cancellationToken);
    }

    public Task<Abstractions.Tracing.TraceStatus> StopTraceAsync(string by, CancellationToken cancellationToken = default) =>
        CallAsync(() => TraceGrain.StopAsync(by), cancellationToken);

    public Task<Abstractions.Tracing.TraceStatus> GetTraceStatusAsync(CancellationToken cancellationToken = default) =>
        CallAsync(() => TraceGrain.GetStatusAsync(), cancellationToken);

    public async Task<long> DownloadTraceAsync(Stream destination, IProgress<long>? progress = null, CancellationToken cancellationToken = default)
    {
        long offset = 0, written = 0;
        while (true)
        {
            var chunk = await CallAsync(() => TraceGrain.ReadAsync(offset, 1 << 20), cancellationToken);
            if (chunk is null)
            {
                if (offset == 0) throw new FleetNotFoundException("No trace has been recorded: start one with fleet trace record --for 1h.");
                return written;
            }
            var bytes = System.Text.Encoding.UTF8.GetBytes(chunk.Text);
            await destination.WriteAsync(bytes, cancellationToken);
            written += bytes.Length;
            progress?.Report(written);
            if (chunk.Next is not { } next) return written;
            // Still recording and nothing new: the whole trace so far is written.
            if (next == offset) return written;
            offset = next;
        }
    }

    public Task<ImmutableArray<Approval>> ListApprovalsAsync(bool all = false, CancellationToken cancellationToken = default) =>
        CallAsync(() => Oversight.ListApprovalsAsync(all), cancellationToken);

    public Task<Approval> ApproveAsync(string id, string by, string? reason = null, CancellationToken cancellationToken = default) =>
        DecideAsync(id, by, reason, true, cancellationToken);

    public Task<Approval> RejectAsync(string id, string by, string? reason = null, CancellationToken cancellationToken = default) =>
        DecideAsync(id, by, reason, false, cancellationToken);

    private Task<Approval> DecideAsync(string id, string by, string? reason, bool approve, CancellationToken cancellationToken)
    {
        var problems = InputRules.CheckId("id", id, "approval id");
        foreach (var kv in InputRules.CheckText("reason", reason, false)) problems[kv.Key] = kv.Value;
        foreach (var kv in InputRules.CheckText("by", by, true, 128)) problems[kv.Key] = kv.Value;
        Require(problems, approve ? "approval" : "rejection");
        return CallAsync(() => approve ? Oversight.ApproveAsync(id, by, reason) : Oversight.RejectAsync(id, by, reason), cancellationToken);
    }

    public Task<ShadowStatus> SetShadowAsync(bool on, string? domain, string? action, string by, string reason, CancellationToken cancellationToken = default)
    {
        var problems = InputRules.CheckText("reason", reason, true);
        foreach (var kv in InputRules.CheckText("by", by, true, 128)) problems[kv.Key] = kv.Value;
        if (domain is not null) foreach (var kv in InputRules.CheckId("domain", domain, "domain")) problems[kv.Key] = kv.Value;
        if (action is not null && !InputRules.IsValidActionName(action)) problems["action"] = [$"'{action}' is not an action name (lower-case letters, digits and '-')"];
        if (domain is not null && action is not null) problems["action"] = ["give a domain or an action, not both (or neither, for the whole fleet)"];
        Require(problems, "shadow request");
        return CallAsync(() => Oversight.SetShadowAsync(on, domain, action, by, reason), cancellationToken);
    }

    public Task<ImmutableArray<LearnedOutcome>> GetLearningAsync(CancellationToken cancellationToken = default) =>
        CallAsync(() => cluster.GetGrain<ILearningGrain>(FleetNames.Default).GetTableAsync(), cancellationToken);

    public Task<ShadowStatus> GetShadowAsync(CancellationToken cancellationToken = default) => CallAsync(() => Oversight.GetShadowAsync(), cancellationToken);

    public Task<FleetStatus> UnfreezeAsync(string by, string? reason, CancellationToken cancellationToken = default)
    {
        var problems = InputRules.CheckText("reason", reason, false);
        foreach (var kv in InputRules.CheckText("by", by, true, 128)) problems[kv.Key] = kv.Value;
        Require(problems, "request");
        return CallAsync(() => FleetGrain.UnfreezeAsync(by, reason), cancellationToken);
    }

    public Task<(FleetStatus Fleet, ImmutableArray<DomainStatus> Domains)> GetFleetAsync(CancellationToken cancellationToken = default) =>
        CallAsync(async () =>
        {
            var fleet = await FleetGrain.GetStatusAsync();
            var domains = await Task.WhenAll(fleet.Domains.Select(d => cluster.GetGrain<IDomainSupervisorGrain>(d).GetStatusAsync()));
            return (fleet, domains.ToImmutableArray());
        }, cancellationToken);

    private IServiceGrain Service(string name) => cluster.GetGrain<IServiceGrain>(name);

    private static void RequireServiceName(string name) => Require(InputRules.CheckId("name", name, "service name"), "service name");

    private static void RequireBy(string by) => Require(InputRules.CheckText("by", by, true, 128), "request");

    public async Task<ServiceApplyResult> ApplyServiceAsync(string document, string by, string? name = null, CancellationToken cancellationToken = default)
    {
        if (name is not null) RequireServiceName(name);
        RequireBy(by);
        Require(InputRules.CheckDocument("document", document), "service spec");
        var parsed = ServiceSpecParser.Parse(document, name);
        if (!parsed.IsValid) return new ServiceApplyResult(false, parsed.Problems, null);
        return new ServiceApplyResult(true, [], await CallAsync(() => Service(parsed.Spec!.Name).ApplyAsync(parsed.Spec!, by), cancellationToken));
    }

    public Task<ServiceStatus> ApplyServiceAsync(ServiceSpec spec, string by, CancellationToken cancellationToken = default)
    {
        Require(InputRules.Check(spec), "service spec");
        RequireBy(by);
        return CallAsync(() => Service(spec.Name).ApplyAsync(spec, by), cancellationToken);
    }

    public Task<ServiceStatus?> GetServiceAsync(string name, CancellationToken cancellationToken = default)
    {
        RequireServiceName(name);
        return CallAsync(() => Service(name).GetAsync(), cancellationToken);
    }

    public Task<ImmutableArray<ServiceSummary>> ListServicesAsync(CancellationToken cancellationToken = default) =>
        CallAsync(async () =>
        {
            var names = await cluster.GetGrain<IServiceDirectoryGrain>(FleetNames.Default).ListAsync();
            var statuses = await Task.WhenAll(names.Select(n => Service(n).GetAsync()));
            return statuses.OfType<ServiceStatus>().Select(s => new ServiceSummary(s.Name, s.Spec.Version, s.DesiredReplicas, s.Running,
                s.Instances.Count(i => i.State == InstanceState.Pending), s.AutoscalePaused)).ToImmutableArray();
        }, cancellationToken);

    public Task<ServiceStatus> ScaleServiceAsync(string name, int replicas, string by, CancellationToken cancellationToken = default)
    {
        var problems = InputRules.CheckId("name", name, "service name");
        if (replicas is < 0 or > InputRules.MaxReplicas) problems["replicas"] = [$"{replicas} is out of range; accepted 0 to {InputRules.MaxReplicas}"];
        foreach (var kv in InputRules.CheckText("by", by, true, 128)) problems[kv.Key] = kv.Value;
        Require(problems, "scale request");
        return CallAsync(() => Service(name).ScaleAsync(replicas, by), cancellationToken);
    }

    public Task<ServiceStatus?> DeleteServiceAsync(string name, string by, CancellationToken cancellationToken = default)
    {
        RequireServiceName(name);
        RequireBy(by);
        return CallAsync(() => Service(name).DeleteAsync(by), cancellationToken);
    }

    public Task<RolloutView> DeployServiceAsync(string name, string version, string? strategy, string by, CancellationToken cancellationToken = default)
    {
        var problems = InputRules.CheckId("name", name, "service name");
        foreach (var kv in InputRules.CheckVersion("version", version)) problems[kv.Key] = kv.Value;
        if (strategy is not null && !Fleet.Core.Rollouts.RolloutPlanner.Strategies.Contains(strategy))
            problems["strategy"] = [$"'{strategy}' is not a strategy; accepted: {string.Join(", ", Fleet.Core.Rollouts.RolloutPlanner.Strategies)}"];
        foreach (var kv in InputRules.CheckText("by", by, true, 128)) problems[kv.Key] = kv.Value;
        Require(problems, "deploy request");
        return CallAsync(() => Service(name).DeployAsync(version, strategy, by), cancellationToken);
    }

    public Task<RolloutView> RollbackServiceAsync(string name, string by, string? reason = null, CancellationToken cancellationToken = default) =>
        RolloutCallAsync(name, by, reason, (s, b, r) => s.RollbackAsync(b, r), cancellationToken);

    public Task<RolloutView> PromoteRolloutAsync(string name, string by, CancellationToken cancellationToken = default) =>
        RolloutCallAsync(name, by, null, (s, b, _) => s.PromoteAsync(b), cancellationToken);

    public Task<RolloutView> AbortRolloutAsync(string name, string by, string? reason = null, CancellationToken cancellationToken = default) =>
        RolloutCallAsync(name, by, reason, (s, b, r) => s.AbortAsync(b, r), cancellationToken);

    public Task<RolloutView> ResumeRolloutAsync(string name, string by, CancellationToken cancellationToken = default) =>
        RolloutCallAsync(name, by, null, (s, b, _) => s.ResumeAsync(b), cancellationToken);

    public Task<ImmutableArray<RolloutView>> ListRolloutsAsync(string name, CancellationToken cancellationToken = default)
    {
        RequireServiceName(name);
        return CallAsync(() => Service(name).GetRolloutsAsync(), cancellationToken);
    }

    private Task<RolloutView> RolloutCallAsync(string name, string by, string? reason, Func<IServiceGrain, string, string?, Task<RolloutView>> call, CancellationToken cancellationToken)
    {
        var problems = InputRules.CheckId("name", name, "service name");
        foreach (var kv in InputRules.CheckText("by", by, true, 128)) problems[kv.Key] = kv.Value;
        foreach (var kv in InputRules.CheckText("reason", reason, false, 512)) problems[kv.Key] = kv.Value;
        Require(problems, "rollout request");
        return CallAsync(() => call(Service(name), by, reason), cancellationToken);
    }

    public async Task<ImmutableArray<InstanceReportOutcome>> ReportInstancesAsync(IReadOnlyList<InstanceReport> reports, CancellationToken cancellationToken = default)
    {
        Require(InputRules.CheckBatchSize(reports.Count), "batch");
        var now = time.GetUtcNow();
        var problems = new Dictionary<string, string[]>();
        for (var i = 0; i < reports.Count; i++)
            foreach (var kv in InputRules.Check(reports[i], now, $"[{i}].")) problems[kv.Key] = kv.Value;
        if (problems.Count > 0) throw new FleetValidationException("The batch is not valid; no report in it was taken.", problems);
        var results = await Task.WhenAll(reports.Select(r => CallAsync(() => Service(r.Service).ReportAsync(r), cancellationToken)));
        return [.. results];
    }

    private IKeyStoreGrain Keys => cluster.GetGrain<IKeyStoreGrain>(FleetNames.Default);

    public Task<CreatedApiKey> CreateKeyAsync(string name, FleetRole role, string? node, string by, CancellationToken cancellationToken = default)
    {
        var problems = InputRules.CheckId("name", name, "key name");
        if (!Enum.IsDefined(role)) problems["role"] = [$"'{role}' is not a role; accepted: viewer, operator, admin, agent, ingest"];
        if (role == FleetRole.Agent && node is null) problems["node"] = ["an agent key is bound to one node: name it (node, or --node)"];
        else if (role == FleetRole.Agent) foreach (var kv in InputRules.CheckId("node", node)) problems[kv.Key] = kv.Value;
        else if (node is not null) problems["node"] = [$"only an agent key is bound to a node; a {role.Name()} key is not"];
        Require(problems, "key request");
        return CallAsync(() => Keys.CreateAsync(name, role, node, by), cancellationToken);
    }

    public Task<ImmutableArray<ApiKeyInfo>> ListKeysAsync(CancellationToken cancellationToken = default) =>
        CallAsync(() => Keys.ListAsync(), cancellationToken);

    public Task<ApiKeyInfo> RevokeKeyAsync(string idOrName, string by, CancellationToken cancellationToken = default)
    {
        Require(InputRules.CheckId("key", idOrName, "key id or name"), "key");
        return CallAsync(() => Keys.RevokeAsync(idOrName, by), cancellationToken);
    }

    private Fleet.Abstractions.Principals.IPrincipalGrain Principal(string id) => cluster.GetGrain<Fleet.Abstractions.Principals.IPrincipalGrain>(id);

    private static void RequirePrincipal(string id)
    {
        if (!InputRules.IsValidPrincipal(id))
            throw new FleetValidationException("The principal id is not valid.", new Dictionary<string, string[]> { ["id"] = [$"'{id}' is not a principal id: {InputRules.PrincipalRule}"] });
    }

    public async Task<ImmutableArray<Fleet.Abstractions.Principals.PrincipalReportOutcome>> ReportPrincipalsAsync(
        IReadOnlyList<Fleet.Abstractions.Principals.PrincipalReport> reports, CancellationToken cancellationToken = default)
    {
        Require(InputRules.CheckBatchSize(reports.Count), "batch");
        var now = time.GetUtcNow();
        var problems = new Dictionary<string, string[]>();
        for (var i = 0; i < reports.Count; i++)
            foreach (var kv in InputRules.Check(reports[i], now, InputRules.MaxPrincipalHistory, $"[{i}].")) problems[kv.Key] = kv.Value;
        if (problems.Count > 0) throw new FleetValidationException("The batch is not valid; no report in it was taken.", problems);
        // One principal's reports in order; different principals at once.
        var outcomes = new Fleet.Abstractions.Principals.PrincipalReportOutcome[reports.Count];
        await Task.WhenAll(reports.Select((r, i) => (r, i)).GroupBy(x => x.r.Principal).Select(async g =>
        {
            foreach (var (r, i) in g) outcomes[i] = await CallAsync(() => Principal(r.Principal).ReportAsync(r), cancellationToken);
        }));
        return [.. outcomes];
    }

    public Task<ImmutableArray<Fleet.Abstractions.Principals.PrincipalStatus>> ListPrincipalsAsync(CancellationToken cancellationToken = default) =>
        CallAsync(async () =>
        {
            var ids = await cluster.GetGrain<Fleet.Abstractions.Principals.ISecuritySupervisorGrain>(FleetNames.Default).ListAsync();
            var statuses = new List<Fleet.Abstractions.Principals.PrincipalStatus>(ids.Length);
            foreach (var chunk in ids.Chunk(256))
                statuses.AddRange((await Task.WhenAll(chunk.Select(id => Principal(id).GetAsync()))).OfType<Fleet.Abstractions.Principals.PrincipalStatus>());
            return statuses.ToImmutableArray();
        }, cancellationToken);

    public Task<Fleet.Abstractions.Principals.PrincipalStatus?> GetPrincipalAsync(string id, CancellationToken cancellationToken = default)
    {
        RequirePrincipal(id);
        return CallAsync(() => Principal(id).GetAsync(), cancellationToken);
    }

    public Task<Fleet.Abstractions.Principals.PrincipalStatus> ReleasePrincipalAsync(string id, string by, string reason, CancellationToken cancellationToken = default)
    {
        RequirePrincipal(id);
        Require(InputRules.CheckText("reason", reason, required: true), "release");
        return CallAsync(() => Principal(id).ReleaseAsync(by, reason), cancellationToken);
    }

    public Task<PolicyDiffResult> DiffPolicyAsync(string yaml, CancellationToken cancellationToken = default)
    {
        Require(InputRules.CheckDocument("document", yaml), "policy");
        return CallAsync(async () =>
        {
            var current = await Policy.GetCurrentAsync();
            var parsed = PolicyParser.Parse(yaml, current.Version + 1);
            return parsed.IsValid
                ? new PolicyDiffResult(current.Version, null, Fleet.Core.Policies.PolicyDiff.Compare(current, parsed.Policy!), [])
                : new PolicyDiffResult(current.Version, null, [], parsed.Problems);
        }, cancellationToken);
    }

    public Task<PolicyDiffResult> DiffPolicyVersionsAsync(int from, int? to = null, CancellationToken cancellationToken = default) =>
        CallAsync(async () =>
        {
            var history = await Policy.GetHistoryAsync();
            var current = history.IsDefaultOrEmpty ? 0 : history[0].Version;
            var target = to ?? current;
            FleetPolicy? Of(int v) => v == 0 ? FleetPolicy.Default
                : history.FirstOrDefault(h => h.Version == v) is { } h && PolicyParser.Parse(h.Document, v) is { IsValid: true } p ? p.Policy : null;
            var problems = new Dictionary<string, string[]>();
            var (before, after) = (Of(from), Of(target));
            if (before is null) problems["from"] = [$"version {from} is not in the history (current {current}; the last 50 are kept)"];
            if (after is null) problems["to"] = [$"version {target} is not in the history (current {current})"];
            Require(problems, "diff");
            return new PolicyDiffResult(from, target, Fleet.Core.Policies.PolicyDiff.Compare(before!, after!), []);
        }, cancellationToken);

    public Task<PolicyApplyResult> RollbackPolicyAsync(int version, string by, CancellationToken cancellationToken = default)
    {
        if (version < 0) throw new FleetValidationException("The rollback is not valid.", new Dictionary<string, string[]> { ["version"] = [$"{version} is not a version (0 is the built-in default)"] });
        return CallAsync(() => Policy.RollbackAsync(version, by), cancellationToken);
    }
}
