using Fleet.Grains.Actuators;
using Fleet.Grains.Audit;
using Fleet.Grains.Persistence;
using Fleet.Grains.Policy;
using Fleet.Grains.Telemetry;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Orleans.Runtime.Hosting;

namespace Fleet.Grains.Hosting;

public static class FleetGrainsHostingExtensions
{
    /// <summary>The services Fleet's grains need, whatever the storage: policy cache, metrics, actuator and executor, clock.</summary>
    public static IServiceCollection AddFleetGrainServices(this IServiceCollection services)
    {
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<PolicyCache>();
        services.TryAddSingleton<Learning.LearningCache>();
        services.TryAddSingleton<FleetMetrics>();
        services.TryAddSingleton<SimulatedActuator>();
        services.AddOptions<ActuatorOptions>();
        services.TryAddSingleton<IActuator>(sp =>
        {
            var o = sp.GetRequiredService<IOptions<ActuatorOptions>>().Value;
            if (string.Equals(o.Kind, "Webhook", StringComparison.OrdinalIgnoreCase))
                return new WebhookActuator(new HttpClient { Timeout = Timeout.InfiniteTimeSpan }, new Uri(o.WebhookUrl!));
            if (string.Equals(o.Kind, "Agent", StringComparison.OrdinalIgnoreCase))
                return ActivatorUtilities.CreateInstance<AgentActuator>(sp);
            return sp.GetRequiredService<SimulatedActuator>();
        });
        services.TryAddSingleton(sp =>
        {
            var o = sp.GetRequiredService<IOptions<ActuatorOptions>>().Value;
            var others = new List<IActuator> { ActivatorUtilities.CreateInstance<AgentActuator>(sp), sp.GetRequiredService<SimulatedActuator>() };
            if (!string.IsNullOrEmpty(o.WebhookUrl)) others.Add(new WebhookActuator(new HttpClient { Timeout = Timeout.InfiniteTimeSpan }, new Uri(o.WebhookUrl)));
            others.Add(new NamedActuator("security", string.IsNullOrEmpty(o.SecurityWebhookUrl)
                ? sp.GetRequiredService<IActuator>()
                : new WebhookActuator(new HttpClient { Timeout = Timeout.InfiniteTimeSpan }, new Uri(o.SecurityWebhookUrl))));
            others.Add(new NamedActuator("provisioner", string.IsNullOrEmpty(o.ProvisionWebhookUrl)
                ? sp.GetRequiredService<IActuator>()
                : new WebhookActuator(new HttpClient { Timeout = Timeout.InfiniteTimeSpan }, new Uri(o.ProvisionWebhookUrl))));
            return new ActuatorSet(sp.GetRequiredService<IActuator>(), others);
        });
        services.TryAddSingleton<ActionExecutor>();
        // The silo's own endpoints a probe must not reach (the host gives them; none known otherwise).
        services.TryAddSingleton(Fleet.Core.Health.ProbeRules.Own.None);
        services.TryAddSingleton<Nodes.DirectProber>();
        services.TryAddSingleton<Nodes.NodeWakeups>();
        services.TryAddSingleton<Nodes.NodeGrainServices>();
        services.TryAddSingleton<Security.KeyRing>();
        // A cluster of one with a secret of its own, unless the host gave the cluster's (the silo does, from configuration).
        services.TryAddSingleton(_ => Fleet.Core.Security.ClusterKeys.Random());
        services.TryAddSingleton<Security.CallStamps>();
        services.TryAddSingleton<Security.GatewayRefusals>();
        services.TryAddSingleton<Security.GatewayRateLimits>();
        services.TryAddSingleton<Security.NodeSites>();
        services.TryAddSingleton(new Security.AccessSettings());
        services.TryAddSingleton<Links.TopologyCache>();
        services.TryAddSingleton<Links.NetworkActivity>();
        services.AddOptions<Tracing.TraceOptions>();
        services.TryAddSingleton<Tracing.TraceRecorder>();
        if (!services.Any(d => d.ServiceType == typeof(Microsoft.Extensions.Hosting.IHostedService) && d.ImplementationType == typeof(Tracing.TraceFlusher)))
            services.AddHostedService<Tracing.TraceFlusher>();
        return services;
    }

    /// <summary>
    /// Grain state, domain members and the audit trail in one SQLite file under <paramref name="dataDir"/> (group-committed;
    /// with <paramref name="fullSync"/>, the default, each commit is on disk before it is acknowledged).
    /// </summary>
    public static IServiceCollection AddFleetEmbeddedStore(this IServiceCollection services, string dataDir, bool grainState = true, bool audit = true, bool fullSync = true)
    {
        services.AddSingleton(_ => new SqliteBatchWriter(Path.Combine(dataDir, "fleet.db"),
            SqliteGrainStorage.Schema + SqliteAuditStore.Schema + Supervision.SqliteMemberStore.Schema, fullSync));
        if (grainState)
        {
            services.AddGrainStorage(StorageNames.Fleet, (sp, _) => ActivatorUtilities.CreateInstance<SqliteGrainStorage>(sp));
            services.AddSingleton<Supervision.IMemberStore>(sp => ActivatorUtilities.CreateInstance<Supervision.SqliteMemberStore>(sp));
        }
        if (audit) services.TryAddSingleton<IAuditStore>(sp => new SqliteAuditStore(sp.GetRequiredService<SqliteBatchWriter>(),
            sp.GetRequiredService<Fleet.Core.Security.ClusterKeys>().TrailKey, sp.GetService<TrailExport>(),
            sp.GetRequiredService<Fleet.Core.Security.ClusterKeys>().ActionSigning));
        return services;
    }
}
