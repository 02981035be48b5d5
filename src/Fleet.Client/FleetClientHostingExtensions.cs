using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Orleans.Configuration;
using Orleans.Hosting;

namespace Fleet.Client;

public static class FleetClientHostingExtensions
{
    /// <summary>Adds <see cref="IFleetClient"/> over an Orleans client connected to the configured gateways.</summary>
    public static IHostApplicationBuilder AddFleetClient(this IHostApplicationBuilder builder, Action<FleetClientOptions>? configure = null)
    {
        var options = new FleetClientOptions();
        configure?.Invoke(options);
        var discovery = options.Redis is null && !string.IsNullOrWhiteSpace(options.GatewayDiscovery) ? HttpGatewayListProvider.ParseUrls(options.GatewayDiscovery) : null;
        var gateways = options.Redis is null && discovery is null ? ParseGateways(options.Gateways) : [];
        var tls = Tls(options);
        var redis = options.Redis is null ? null : ParseRedis(options.Redis);
        builder.Services.AddOptions<FleetClientOptions>().Configure(o => configure?.Invoke(o));
        builder.UseOrleansClient(client =>
        {
            if (redis is not null)
            {
                client.UseRedisClustering(o => o.ConfigurationOptions = redis);
                client.Configure<GatewayOptions>(o => o.GatewayListRefreshPeriod = TimeSpan.FromSeconds(5));
            }
            else if (discovery is not null)
            {
                client.Services.AddSingleton<Orleans.Messaging.IGatewayListProvider>(new HttpGatewayListProvider(discovery, options.Key));
                client.Configure<GatewayOptions>(o => o.GatewayListRefreshPeriod = TimeSpan.FromSeconds(10));
            }
            else client.UseStaticClustering(gateways);
            client.Configure<ClusterOptions>(o => { o.ClusterId = options.ClusterId; o.ServiceId = options.ServiceId; });
            if (tls is { } t) client.UseTls(o => FleetTls.Configure(o, t.Certificate, t.Ca));
            client.Configure<ClientMessagingOptions>(o =>
            {
                o.ResponseTimeout = options.ResponseTimeout;
                o.MaxMessageBodySize = Fleet.Abstractions.Security.MessageLimits.MaxBodyBytes;
                o.MaxMessageHeaderSize = Fleet.Abstractions.Security.MessageLimits.MaxHeaderBytes;
            });
            // Every call carries the key; the silo checks it, then drops it (it never travels on to other grains).
            if (options.Key is { Length: > 0 } key) client.AddOutgoingGrainCallFilter(async call =>
            {
                RequestContext.Set(Fleet.Abstractions.Security.CallerContext.Key, key);
                await call.Invoke();
            });
            var attempts = 0;
            client.UseConnectionRetryFilter(async (_, ct) =>
            {
                if (++attempts >= options.ConnectAttempts) return false;
                await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(500 * attempts, 5_000)), ct);
                return true;
            });
        });
        builder.Services.AddSingleton<IFleetClient>(sp => new FleetClient(sp.GetRequiredService<IGrainFactory>(),
            sp.GetRequiredService<Microsoft.Extensions.Options.IOptions<FleetClientOptions>>(), sp.GetService<TimeProvider>() ?? TimeProvider.System));
        return builder;
    }

    private static StackExchange.Redis.ConfigurationOptions ParseRedis(string text)
    {
        try
        {
            var c = StackExchange.Redis.ConfigurationOptions.Parse(text);
            c.AbortOnConnectFail = false;
            c.ConnectTimeout = 2000;
            return c;
        }
        catch (Exception e) when (e is ArgumentException or FormatException)
        {
            throw new FleetValidationException("The Redis connection string is not valid.", new Dictionary<string, string[]> { ["redis"] = [$"'{text}': {e.Message}"] });
        }
    }

    /// <summary>
    /// An <see cref="IFleetClient"/> over a grain factory the caller already has: a silo's own (in-process tools such as
    /// the simulator and the demo fleet), or a connected cluster client.
    /// </summary>
    public static IFleetClient Create(IGrainFactory grains, FleetClientOptions? options = null, TimeProvider? time = null) =>
        new FleetClient(grains, Microsoft.Extensions.Options.Options.Create(options ?? new FleetClientOptions()), time ?? TimeProvider.System);

    /// <summary>The client's TLS settings loaded (null without a CA); throws <see cref="FleetValidationException"/> naming what cannot be read.</summary>
    private static (System.Security.Cryptography.X509Certificates.X509Certificate2? Certificate, System.Security.Cryptography.X509Certificates.X509Certificate2Collection Ca)? Tls(FleetClientOptions o)
    {
        if (string.IsNullOrWhiteSpace(o.TlsCa)) return null;
        try
        {
            var ca = FleetTls.LoadBundle(o.TlsCa);
            var certificate = string.IsNullOrWhiteSpace(o.TlsCertificate) ? null : FleetTls.LoadCertificate(o.TlsCertificate, o.TlsKey ?? "");
            return (certificate, ca);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.Security.Cryptography.CryptographicException or InvalidOperationException or ArgumentException)
        {
            throw new FleetValidationException("The TLS settings are not valid.", new Dictionary<string, string[]> { ["tls"] = [e.Message] });
        }
    }

    /// <summary>Checks a list of silos' HTTP addresses for gateway discovery; throws <see cref="FleetValidationException"/> naming the bad entry.</summary>
    public static void CheckGatewayDiscovery(string text) => HttpGatewayListProvider.ParseUrls(text);

    /// <summary>Reads <c>host:port[,host:port…]</c>; throws <see cref="FleetValidationException"/> naming the bad entry.</summary>
    public static IPEndPoint[] ParseGateways(string text)
    {
        var endpoints = new List<IPEndPoint>();
        foreach (var part in (text ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var colon = part.LastIndexOf(':');
            if (colon <= 0 || !int.TryParse(part[(colon + 1)..], out var port) || port is < 1 or > 65535)
                throw Bad(part);
            var host = part[..colon];
            var address = host == "localhost" ? IPAddress.Loopback : IPAddress.TryParse(host, out var ip) ? ip : Dns.GetHostAddresses(host).FirstOrDefault();
            if (address is null) throw Bad(part);
            endpoints.Add(new IPEndPoint(address, port));
        }
        if (endpoints.Count == 0) throw Bad(text ?? "");
        return [.. endpoints];

        static FleetValidationException Bad(string part) => new("The gateway list is not valid.",
            new Dictionary<string, string[]> { ["gateway"] = [$"'{part}' is not host:port (e.g. 127.0.0.1:30000)"] });
    }
}
