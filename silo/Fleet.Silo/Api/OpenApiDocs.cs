using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace Fleet.Silo.Api;

/// <summary>
/// The API contract at <c>/openapi/v1.json</c>: Fleet's API only (the Orleans Dashboard's routes are left out), every
/// operation with an operationId, a summary, its tag, the bearer-key security requirement and the role it needs, and its
/// problem responses (400, 401, 403, 429, and 404 where a path names something). Linted with Redocly's recommended rules
/// and used to generate a client in the tests (ApiContractTests).
/// </summary>
public static class OpenApiDocs
{
    public const string Scheme = "fleetKey";

    /// <summary>Each operation's id and summary, by method and route.</summary>
    private static readonly Dictionary<string, (string Id, string Summary)> Operations = new(StringComparer.OrdinalIgnoreCase)
    {
        ["POST api/v1/nodes"] = ("registerNode", "Register a node (or update its registration)"),
        ["GET api/v1/nodes"] = ("listNodes", "List nodes, optionally by health and domain"),
        ["GET api/v1/nodes/{id}"] = ("getNode", "A node's health, conditions, forecast and remediation case"),
        ["POST api/v1/nodes/{id}/telemetry"] = ("reportNodeTelemetry", "Send one telemetry report for a node"),
        ["POST api/v1/nodes/{id}/cordon"] = ("cordonNode", "Cordon a node: no new work is placed on it"),
        ["POST api/v1/nodes/{id}/uncordon"] = ("uncordonNode", "Return a node to normal"),
        ["POST api/v1/nodes/{id}/drain"] = ("drainNode", "Drain a node through a lease"),
        ["POST api/v1/nodes/{id}/decommission"] = ("decommissionNode", "Decommission a node: drain it through a lease, retire it once nothing is left"),
        ["POST api/v1/nodes/{id}/admit"] = ("admitNode", "Admit a node into service from its burn-in, quarantine or retirement"),
        ["DELETE api/v1/links/{id}"] = ("deleteLink", "Delete a link: its flows move off make-before-break first (409 no-path when one cannot), then it leaves the topology"),
        ["DELETE api/v1/flows/{id}"] = ("deleteFlow", "Delete a flow: its capacity on every link is released and it leaves the registry"),
        ["POST api/v1/domains/{id}/retire"] = ("retireDomain", "Start a maintenance train: cordon a domain's nodes and retire them a batch at a time, each drained through a lease"),
        ["POST api/v1/domains/{id}/retire/stop"] = ("stopTrain", "Stop the maintenance train retiring a domain: no further node is asked"),
        ["GET api/v1/optimize/plan"] = ("planConsolidation", "What the consolidation planner would do now: nodes it could free, the moves, what they save and disrupt (nothing runs)"),
        ["GET api/v1/capacity"] = ("getCapacity", "The capacity supervisor: Pending demand, requests to the provisioner, what it would do now"),
        ["POST api/v1/telemetry"] = ("reportTelemetryBatch", "Send a batch of telemetry reports (up to 10,000)"),
        ["GET api/v1/audit"] = ("queryAudit", "Read the decision trail, newest first"),
        ["GET api/v1/audit/verify"] = ("verifyAudit", "Walk the trail's hash chain: whether it holds, or the first record that breaks it"),
        ["GET api/v1/policy"] = ("getPolicy", "The current policy document and its effective values"),
        ["POST api/v1/write"] = ("remoteWrite", "Prometheus remote-write 1.0: node_exporter's series become node reports (docs/intake.md)"),
        ["POST api/v1/alerts/alertmanager"] = ("alertmanagerWebhook", "Alertmanager's webhook: firing and resolved alerts onto the nodes their labels name"),
        ["POST v1/metrics"] = ("otlpMetrics", "OTLP/HTTP protobuf metrics: host metrics become node reports"),
        ["PUT api/v1/policy"] = ("applyPolicy", "Validate and apply a policy document"),
        ["GET api/v1/policy/history"] = ("getPolicyHistory", "Applied policy versions, newest first"),
        ["GET api/v1/policy/diff"] = ("diffPolicyVersions", "What changed between two policy versions, field by field"),
        ["POST api/v1/policy/diff"] = ("diffPolicy", "What applying a candidate policy would change, field by field"),
        ["POST api/v1/policy/rollback"] = ("rollbackPolicy", "Apply an earlier policy version again, as a new version"),
        ["GET api/v1/fleet"] = ("getFleet", "Fleet freeze, leases in flight and each domain's guardrails"),
        ["POST api/v1/fleet/freeze"] = ("freezeFleet", "Freeze every disruptive action in the fleet"),
        ["POST api/v1/fleet/unfreeze"] = ("unfreezeFleet", "Lift the fleet freeze"),
        ["GET api/v1/services"] = ("listServices", "List services"),
        ["PUT api/v1/services/{name}"] = ("applyService", "Apply a service spec (YAML or JSON)"),
        ["GET api/v1/services/{name}"] = ("getService", "A service's spec, instances and budget"),
        ["POST api/v1/services/{name}/scale"] = ("scaleService", "Set a service's replicas by hand"),
        ["DELETE api/v1/services/{name}"] = ("deleteService", "Stop a service's instances and forget it"),
        ["POST api/v1/services/telemetry"] = ("reportInstances", "Send a batch of service instance reports"),
        ["POST api/v1/services/{name}/deploy"] = ("deployService", "Start a rollout of a new version (canary judged against a fresh baseline)"),
        ["POST api/v1/services/{name}/rollback"] = ("rollbackService", "Roll a service back to its stable version"),
        ["POST api/v1/services/{name}/promote"] = ("promoteRollout", "Pass a rollout's current step by hand, or end its watch"),
        ["POST api/v1/services/{name}/abort"] = ("abortRollout", "Stop a rollout and roll it back"),
        ["POST api/v1/services/{name}/resume"] = ("resumeRollout", "Judge a paused rollout's step again"),
        ["GET api/v1/services/{name}/rollouts"] = ("listRollouts", "A service's rollouts: steps, judgements with figures, outcome"),
        ["GET api/v1/approvals"] = ("listApprovals", "High-risk actions waiting for a person (?all=true: decided ones too)"),
        ["POST api/v1/approvals/{id}/approve"] = ("approve", "Approve a waiting action"),
        ["POST api/v1/approvals/{id}/reject"] = ("reject", "Reject a waiting action (its case goes to a person)"),
        ["GET api/v1/incidents"] = ("listIncidents", "Incidents (a case, a storm, a rollout) since a time, newest first"),
        ["GET api/v1/incidents/{**id}"] = ("getIncident", "An incident's records in time order"),
        ["GET api/v1/postmortems/{**id}"] = ("getPostmortem", "A blameless postmortem of an incident, in Markdown"),
        ["GET api/v1/learning"] = ("getLearning", "What the ladder has learned: verified outcomes per symptom and action"),
        ["GET api/v1/shadow"] = ("getShadow", "What is in shadow (dry-run) mode"),
        ["POST api/v1/shadow"] = ("setShadow", "Turn shadow mode on or off for the fleet, a domain or an action"),
        ["GET api/v1/trace"] = ("getTrace", "Whether the fleet records its input trace, since when, how big"),
        ["POST api/v1/trace"] = ("startTrace", "Start recording the fleet's input trace for replay (replaces the last trace)"),
        ["POST api/v1/trace/stop"] = ("stopTrace", "Stop recording the input trace"),
        ["GET api/v1/trace/file"] = ("downloadTrace", "The last input trace, as JSON lines (what is recorded so far while it records)"),
        ["GET api/v1/links"] = ("listLinks", "Links: each end, capacity, health, damping, capacity reserved and flows carried"),
        ["PUT api/v1/links/{id}"] = ("applyLink", "Define or update a link (id a~b, ends in order)"),
        ["GET api/v1/links/{id}"] = ("getLink", "A link's health, damping, reservations and flows"),
        ["POST api/v1/links/probes"] = ("reportProbes", "Send a batch of link probe results (up to 10,000)"),
        ["GET api/v1/flows"] = ("listFlows", "Flows: path, backup, state"),
        ["PUT api/v1/flows/{id}"] = ("applyFlow", "Define or update a flow; it places itself make-before-break"),
        ["GET api/v1/flows/{id}"] = ("getFlow", "A flow's path, backup, state and history"),
        ["GET api/v1/keys"] = ("listKeys", "List API keys, live and revoked (never a secret)"),
        ["POST api/v1/keys"] = ("createKey", "Make an API key; its secret is in the answer, this once"),
        ["DELETE api/v1/keys/{idOrName}"] = ("revokeKey", "Revoke an API key"),
        ["GET api/v1/agents/action-key"] = ("getActionKey", "The public key agents check the cluster's signed actions with"),
        ["GET api/v1/gateways"] = ("listGateways", "The live gateways clients connect to (for discovery without Redis)"),
        ["POST api/v1/principals/telemetry"] = ("reportPrincipals", "Send a batch of principals' access and egress reports"),
        ["GET api/v1/principals"] = ("listPrincipals", "List principals and their standing"),
        ["GET api/v1/principals/{id}"] = ("getPrincipal", "A principal's standing, evidence and baseline"),
        ["POST api/v1/principals/{id}/release"] = ("releasePrincipal", "Lift a principal's containment"),
    };

    private static readonly Dictionary<string, string> Tags = new()
    {
        ["Nodes"] = "Servers: registration, telemetry, health, the operator's cordon and drain, and their life (decommission, admit).",
        ["Audit"] = "The decision trail: every observation, proposal, permission, action and verification in words.",
        ["Policy"] = "The fleet's policy: guardrails, the escalation ladder, services and security settings, versioned.",
        ["Fleet"] = "The fleet as a whole: its freeze, leases in flight and each failure domain's guardrails.",
        ["Services"] = "Services: specs, instances placed by negotiation, disruption budgets, instance reports, rollouts.",
        ["Keys"] = "API keys and their roles (admin); the public key of the cluster's signed actions (viewer).",
        ["Links"] = "Network links and flows: probes, flap damping, make-before-break reroute with pre-reserved backups.",
        ["Principals"] = "Accounts judged against their own history, contained and released.",
        ["Intake"] = "Telemetry from the monitoring a team already runs: Prometheus remote-write, OTLP metrics, Alertmanager's webhook.",
        ["Oversight"] = "What people keep for themselves: shadow (dry-run) mode, approvals of high-risk actions, what the ladder learned, the input trace for replay.",
    };

    public static IServiceCollection AddFleetOpenApi(this IServiceCollection services) =>
        services.AddOpenApi(o =>
        {
            o.AddDocumentTransformer(async (document, context, ct) =>
            {
                document.Info = new OpenApiInfo
                {
                    Title = "Fleet API", Version = "v1",
                    Description = "Query and steer a Fleet cluster: nodes, services, principals, the policy and the decision trail. " +
                        "Every request needs a credential (Authorization: Bearer <key>); each operation names the role it needs. " +
                        "Errors are RFC 9457 problem documents.",
                    License = new OpenApiLicense { Name = "Proprietary", Identifier = "LicenseRef-Fleet-Proprietary" },
                };
                document.Servers = [new OpenApiServer { Url = "http://127.0.0.1:5080", Description = "deploy/run.sh's default address" }];
                document.Components ??= new OpenApiComponents();
                document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
                document.Components.SecuritySchemes[Scheme] = new OpenApiSecurityScheme
                {
                    Type = SecuritySchemeType.Http, Scheme = "bearer",
                    Description = "A Fleet API key (fk_…), or a JWT from the configured issuer (docs/security.md).",
                };
                document.Security = [new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(Scheme, document)] = [] }];
                document.Components.Schemas ??= new Dictionary<string, IOpenApiSchema>();
                document.Components.Schemas[nameof(ClientProblem)] = await context.GetOrCreateSchemaAsync(typeof(ClientProblem), null, ct);
                document.Tags = new HashSet<OpenApiTag>(Tags.Select(t => new OpenApiTag { Name = t.Key, Description = t.Value }));
            });
            o.AddOperationTransformer((operation, context, _) =>
            {
                var d = context.Description;
                var key = $"{d.HttpMethod} {d.RelativePath?.TrimEnd('/')}";
                if (Operations.TryGetValue(key, out var op))
                {
                    operation.OperationId = op.Id;
                    operation.Summary = op.Summary;
                }
                var role = d.ActionDescriptor.EndpointMetadata.OfType<IAuthorizeData>().Select(a => a.Policy).LastOrDefault(p => p is not null) ?? Access.Viewer;
                operation.Description = (operation.Description is { Length: > 0 } text ? text + " " : "") +
                    $"Needs {(role == Access.Reporter ? "an agent key for the node, or an operator or admin key" : role == Access.AnyRole ? "any valid key (an agent's too)" : role == Access.Ingest ? "an ingest key, or an operator or admin key" : $"the {role} role (or higher)")}.";
                operation.Responses ??= new OpenApiResponses();
                var problem = new OpenApiSchemaReference(nameof(ClientProblem), context.Document);
                void Add(string status, string what)
                {
                    if (operation.Responses.ContainsKey(status)) return;
                    operation.Responses[status] = new OpenApiResponse
                    {
                        Description = what,
                        Content = new Dictionary<string, OpenApiMediaType> { ["application/problem+json"] = new() { Schema = problem } },
                    };
                }
                Add("400", "The request is not valid: every problem by field.");
                Add("401", "No credential, or an unknown, expired or revoked one.");
                Add("403", "The credential's role is not enough (or an agent key acts for another node).");
                Add("429", "Too many requests from this credential; see Retry-After.");
                if (d.RelativePath?.Contains('{') == true) Add("404", "Not found.");
                if (key is "PUT api/v1/policy" or "POST api/v1/policy/diff" or "POST api/v1/policy/rollback" or "PUT api/v1/services/{name}")
                    Add("422", "The document parses but breaks its rules: every problem by its path (errors), and the problems list.");
                if (key is "POST api/v1/nodes/{id}/telemetry")
                    Add("409", "The report was not taken (a sequence already taken, expired, ahead of the clock): outcome, health and lastSequence beside the errors.");
                if (key is "POST api/v1/write" or "POST v1/metrics" or "POST api/v1/alerts/alertmanager")
                    Add("413", "The push is larger than intake takes (8 MiB as sent, 8 MiB decompressed, 200,000 OTLP points); nothing in it was taken.");
                if (key is "POST api/v1/write" or "POST v1/metrics")
                {
                    // Declared here, not with Accepts on the route: a content-type constraint there would route any other body
                    // past the handler (to the web view's sign-in) instead of to its clear 415.
                    operation.RequestBody ??= new OpenApiRequestBody
                    {
                        Required = true,
                        Description = key == "POST v1/metrics" ? "An OTLP ExportMetricsServiceRequest (protobuf; Content-Encoding: gzip taken)."
                            : "A snappy-compressed Prometheus remote-write 1.0 WriteRequest (protobuf), as Prometheus sends it.",
                        Content = new Dictionary<string, OpenApiMediaType>
                        {
                            ["application/x-protobuf"] = new() { Schema = new OpenApiSchema { Type = JsonSchemaType.String, Format = "binary" } },
                        },
                    };
                    Add("415", "The body is not protobuf (OTLP/HTTP JSON is not taken).");
                }
                if (key is "POST api/v1/nodes/{id}/drain" or "POST api/v1/nodes/{id}/decommission")
                    Add("409", "A guardrail refused the drain: the guardrail's name beside the errors.");
                if (key is "POST api/v1/domains/{id}/retire" or "POST api/v1/domains/{id}/retire/stop")
                    Add("409", "Refused: another domain's train runs (maintenance-train), the rest of the fleet lacks room (capacity), or no train retires the domain (no-train).");
                return Task.CompletedTask;
            });
        });
}
