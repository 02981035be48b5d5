using Microsoft.AspNetCore.DataProtection;
using System.Net;
using Fleet.Grains;
using Fleet.Grains.Audit;
using Fleet.Grains.Hosting;
using Orleans.Configuration;
using Orleans.Persistence;
using Orleans.Serialization;
using Orleans.Storage;
using StackExchange.Redis;

namespace Fleet.Silo.Hosting;

/// <summary>Where the silo keeps its state and how it finds its peers: embedded and localhost, or Redis.</summary>
public static class FleetClusterExtensions
{
    public static WebApplicationBuilder AddFleetStores(this WebApplicationBuilder builder, FleetOptions options, Fleet.Core.Security.ClusterKeys keys)
    {
        var services = builder.Services;
        // The web view's cookie and antiforgery keys: encrypted at rest under the cluster secret (never plain in Redis or on disk).
        var protection = services.AddDataProtection().SetApplicationName($"fleet:{options.ServiceId}");
        services.Configure<Microsoft.AspNetCore.DataProtection.KeyManagement.KeyManagementOptions>(o => o.XmlEncryptor = new ClusterKeyXmlEncryptor(keys));
        if (options.UsesRedis)
        {
            var redis = new Lazy<IConnectionMultiplexer>(() => ConnectionMultiplexer.Connect(RedisOptions(options)));
            services.AddSingleton(_ => redis.Value);
            // Every silo signs and reads the web view's cookies and antiforgery tokens with the same keys.
            protection.PersistKeysToStackExchangeRedis(() => redis.Value.GetDatabase(), $"fleet:{options.ServiceId}:data-protection-keys");
        }
        else protection.PersistKeysToFileSystem(new DirectoryInfo(Path.Combine(options.DataDir, "web-keys")));
        // And sealed: a key written into the store by anyone but a silo is ignored.
        services.PostConfigure<Microsoft.AspNetCore.DataProtection.KeyManagement.KeyManagementOptions>(o =>
            o.XmlRepository = new SealedXmlRepository(o.XmlRepository!, keys));

        // A copy of the trail in files of this silo's own, one a day, when a folder is named.
        var exportName = options.Audit == StoreMode.Redis ? $"{options.AdvertisedIp}-{options.SiloPort}" : "embedded";
        if (!string.IsNullOrWhiteSpace(options.TrailExport))
            services.AddSingleton(sp => new TrailExport(options.TrailExport, exportName, sp.GetRequiredService<TimeProvider>()));
        if (options.Storage == StoreMode.Embedded || options.Audit == StoreMode.Embedded)
            services.AddFleetEmbeddedStore(options.DataDir, grainState: options.Storage == StoreMode.Embedded, audit: options.Audit == StoreMode.Embedded,
                fullSync: options.StoreSync == StoreSync.Full);
        if (options.Audit == StoreMode.Redis)
            // Each run of each silo appends to a stream of its own in the trail's chain.
            services.AddSingleton<IAuditStore>(sp => new RedisAuditStore(sp.GetRequiredService<IConnectionMultiplexer>(), $"fleet:{options.ServiceId}:audit",
                keys.TrailKey, $"{options.AdvertisedIp}:{options.SiloPort}@{DateTimeOffset.UtcNow:yyyyMMddTHHmmssfff}.{Guid.NewGuid().ToString("N")[..6]}",
                sp.GetService<TrailExport>(), keys.ActionSigning));
        // Signed checkpoints of the chain, from each silo.
        var actor = options.Audit == StoreMode.Redis ? $"silo/{options.AdvertisedIp}:{options.SiloPort}" : "silo";
        services.AddHostedService(sp => new TrailCheckpointer(sp.GetRequiredService<IAuditStore>(), keys, sp.GetRequiredService<TimeProvider>(),
            options.TrailCheckpointInterval, actor, sp.GetRequiredService<Microsoft.Extensions.Logging.ILogger<TrailCheckpointer>>()));
        if (options.Storage == StoreMode.Redis)
        {
            services.AddRedisGrainStorage(StorageNames.Fleet, o => o.Configure(r => r.ConfigurationOptions = RedisOptions(options)));
            // Orleans' own serializer, not the provider's JSON default: it round-trips Fleet's immutable records.
            services.AddOptions<RedisStorageOptions>(StorageNames.Fleet)
                .PostConfigure<Serializer>((r, serializer) => r.GrainStorageSerializer = new OrleansGrainStorageSerializer(serializer));
            services.AddSingleton<Fleet.Grains.Supervision.IMemberStore>(sp => new Fleet.Grains.Supervision.RedisMemberStore(
                sp.GetRequiredService<IConnectionMultiplexer>(), sp.GetRequiredService<Serializer>(), $"fleet:{options.ServiceId}"));
        }
        services.AddHealthChecks().AddCheck<RedisHealthCheck>("redis", tags: ["redis"]);
        return builder;
    }

    public static ISiloBuilder AddFleetClustering(this ISiloBuilder silo, FleetOptions options)
    {
        if (options.Clustering == ClusteringMode.Localhost)
            silo.UseLocalhostClustering(options.SiloPort, options.GatewayPort, serviceId: options.ServiceId, clusterId: options.ClusterId);
        else
        {
            silo.UseRedisClustering(o => o.ConfigurationOptions = RedisOptions(options));
            silo.Configure<ClusterOptions>(o => { o.ClusterId = options.ClusterId; o.ServiceId = options.ServiceId; });
            if (options.Kubernetes)
            {
                // The pod's IP is the advertised address; the silo listens on every address of the pod.
                silo.Configure<EndpointOptions>(o => { o.SiloPort = options.SiloPort; o.GatewayPort = options.GatewayPort; });
                silo.UseKubernetesHosting();
            }
            else silo.ConfigureEndpoints(IPAddress.Parse(options.AdvertisedIp), options.SiloPort, options.GatewayPort, listenOnAnyHostAddress: false);
        }
        if (options.Reminders == RemindersMode.Redis) silo.UseRedisReminderService(o => o.ConfigurationOptions = RedisOptions(options));
        else silo.UseInMemoryReminderService();
        if (options.FastFailureDetection)
            silo.Configure<ClusterMembershipOptions>(o =>
            {
                o.ProbeTimeout = TimeSpan.FromSeconds(1);
                o.NumMissedProbesLimit = 2;
                o.NumVotesForDeathDeclaration = 2;
                o.TableRefreshTimeout = TimeSpan.FromSeconds(5);
                o.IAmAliveTablePublishTimeout = TimeSpan.FromSeconds(10);
            });
        return silo;
    }

    public static ConfigurationOptions RedisOptions(FleetOptions options)
    {
        var c = ConfigurationOptions.Parse(options.Redis!);
        c.AbortOnConnectFail = false;
        c.ConnectTimeout = 2000;
        c.SyncTimeout = 2000;
        c.AsyncTimeout = 2000;
        return c;
    }
}

/// <summary>Redis answers a PING (only registered checks run; healthy when Redis is not in use).</summary>
internal sealed class RedisHealthCheck(IServiceProvider services) : Microsoft.Extensions.Diagnostics.HealthChecks.IHealthCheck
{
    public async Task<Microsoft.Extensions.Diagnostics.HealthChecks.HealthCheckResult> CheckHealthAsync(
        Microsoft.Extensions.Diagnostics.HealthChecks.HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (services.GetService<IConnectionMultiplexer>() is not { } redis)
            return Microsoft.Extensions.Diagnostics.HealthChecks.HealthCheckResult.Healthy("Redis is not used");
        try
        {
            var rtt = await redis.GetDatabase().PingAsync().WaitAsync(TimeSpan.FromSeconds(3), cancellationToken);
            return Microsoft.Extensions.Diagnostics.HealthChecks.HealthCheckResult.Healthy($"Redis answers in {rtt.TotalMilliseconds:0.0} ms");
        }
        catch (Exception e)
        {
            return Microsoft.Extensions.Diagnostics.HealthChecks.HealthCheckResult.Unhealthy($"Redis does not answer: {HealthCheckText.Short(e)}");
        }
    }
}
