using System.Text.Json.Serialization;
using Fleet.Grains.Actuators;
using Fleet.Silo.Api;
using Fleet.Grains.Hosting;
using Fleet.Grains.Telemetry;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using OpenTelemetry.Metrics;
using Orleans.Dashboard;

namespace Fleet.Silo.Hosting;

public static class FleetSiloExtensions
{
    /// <summary>The largest request body taken (a batch of 10,000 reports is about 3 MiB).</summary>
    public const long MaxRequestBytes = 8 * 1024 * 1024;

    /// <summary>Wires the silo: options (validated at start), Orleans with the embedded store, dashboard, metrics, health, OpenAPI.</summary>
    public static WebApplicationBuilder AddFleetSilo(this WebApplicationBuilder builder)
    {
        var options = BindAndValidate(builder.Configuration);
        var clusterKeys = ClusterKeysOf(options);
        builder.Services.AddSingleton(clusterKeys);
        builder.Services.AddSingleton(OwnEndpoints(options, builder.Configuration));

        builder.Services.AddOptions<FleetOptions>().BindConfiguration(FleetOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddOptions<ActuatorOptions>().BindConfiguration($"{FleetOptions.Section}:Actuator")
            .Validate(o => !string.Equals(o.Kind, "Webhook", StringComparison.OrdinalIgnoreCase) || Uri.TryCreate(o.WebhookUrl, UriKind.Absolute, out _),
                "Fleet:Actuator:WebhookUrl must be an absolute URL when Fleet:Actuator:Kind is Webhook")
            .Validate(o => o.Kind.ToLowerInvariant() is "simulated" or "webhook" or "agent", "Fleet:Actuator:Kind must be Simulated, Webhook or Agent")
            .Validate(o => o.SecurityWebhookUrl is null || Uri.TryCreate(o.SecurityWebhookUrl, UriKind.Absolute, out _), "Fleet:Actuator:SecurityWebhookUrl must be an absolute URL")
            .Validate(o => o.ProvisionWebhookUrl is null || Uri.TryCreate(o.ProvisionWebhookUrl, UriKind.Absolute, out _), "Fleet:Actuator:ProvisionWebhookUrl must be an absolute URL")
            .ValidateOnStart();

        builder.AddFleetAccess(options.Auth);
        builder.Services.AddRazorPages();
        builder.Services.AddSingleton<Fleet.Silo.Pages.TrailCheck>();
        builder.Services.AddSingleton(sp => new Fleet.Core.Intake.MetricIntake(sp.GetRequiredService<TimeProvider>()));
        builder.Services.AddSingleton(sp => new Fleet.Core.Intake.InstanceIntake(sp.GetRequiredService<TimeProvider>()));
        builder.Services.AddSingleton<Fleet.Silo.Api.IntakeRelay>();
        builder.Services.AddSingleton<Web.TrailFeed>();
        // The pages write text as it is (arrows, accents), encoding only what HTML needs.
        builder.Services.Configure<Microsoft.Extensions.WebEncoders.WebEncoderOptions>(o =>
            o.TextEncoderSettings = new System.Text.Encodings.Web.TextEncoderSettings(System.Text.Unicode.UnicodeRanges.All));
        builder.Services.AddFleetGrainServices();
        builder.Services.Configure<Fleet.Grains.Tracing.TraceOptions>(o => o.Directory = Path.Combine(options.DataDir, "traces"));
        // The API's fleet-wide views (node lists, domain statuses) use the SDK's own aggregation over the silo's grains.
        builder.Services.AddSingleton(sp => Fleet.Client.FleetClientHostingExtensions.Create(sp.GetRequiredService<IGrainFactory>(), time: sp.GetService<TimeProvider>()));
        builder.AddFleetStores(options, clusterKeys);
        builder.UseOrleans(silo =>
        {
            silo.AddFleetClustering(options);
            if (options.Tls.Enabled) UseFleetTls(silo, options.Tls);
            // The dashboard's log stream (/dashboard/Trace) would show any viewer everything the silo logs: off.
            silo.AddDashboard(d => d.HideTrace = true);
            silo.AddIncomingGrainCallFilter<Fleet.Grains.Security.GatewayAccessFilter>();
            silo.AddOutgoingGrainCallFilter<Fleet.Grains.Security.SiloCallStamper>();
            // Orleans takes messages of up to 100 MiB (and headers of 10 MiB) from anyone who connects; Fleet's largest legal
            // message is far smaller (docs/security.md).
            silo.Configure<Orleans.Configuration.SiloMessagingOptions>(o =>
            {
                o.MaxMessageBodySize = Fleet.Abstractions.Security.MessageLimits.MaxBodyBytes;
                o.MaxMessageHeaderSize = Fleet.Abstractions.Security.MessageLimits.MaxHeaderBytes;
            });
            // A case's steps carry its trace into the grains they call (the supervisors, the executor's ledger).
            if (!string.IsNullOrWhiteSpace(options.Otlp.Endpoint)) silo.AddActivityPropagation();
        });

        builder.WebHost.ConfigureKestrel(k => k.Limits.MaxRequestBodySize = MaxRequestBytes);
        // After the silo (UseOrleans above), before the HTTP server: once /health answers, the first admin key is written.
        builder.Services.AddHostedService<KeyBootstrap>();
        builder.Services.AddHostedService<NodeWarmup>();
        if (options.Demo.Enabled) builder.Services.AddHostedService<DemoFleet>();
        builder.Services.ConfigureHttpJsonOptions(o =>
        {
            o.SerializerOptions.Converters.Add(new JsonStringEnumConverter());
            o.SerializerOptions.DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull;
            // A misspelt field is refused (400 naming it), never silently dropped for a default.
            o.SerializerOptions.UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow;
            // No body Fleet takes nests deeper than a few levels: a deeper one is refused (400 naming the limit) before it is read.
            o.SerializerOptions.MaxDepth = Fleet.Core.Documents.DocumentLimits.MaxDepth;
        });
        builder.Services.AddProblemDetails();
        builder.Services.AddFleetOpenApi();
        builder.Services.AddHealthChecks().AddCheck<StoreHealthCheck>("store").AddCheck<SiloHealthCheck>("silo");
        builder.Services.AddOpenTelemetry().WithMetrics(m => m
            .AddMeter(FleetMetrics.MeterName, "Microsoft.Orleans")
            .AddRuntimeInstrumentation()
            .AddAspNetCoreInstrumentation()
            .AddView("fleet.decision.latency", new ExplicitBucketHistogramConfiguration { Boundaries = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5] })
            .AddPrometheusExporter());
        if (options.Otlp.Endpoint is { Length: > 0 } otlp) builder.AddFleetTracing(otlp);
        builder.Services.Configure<Microsoft.AspNetCore.Routing.RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
        return builder;
    }

    /// <summary>The silo's own addresses (its advertised one, every local interface's) and ports (silo, gateway, HTTP): no probe goes there.</summary>
    private static Fleet.Core.Health.ProbeRules.Own OwnEndpoints(FleetOptions options, IConfiguration configuration)
    {
        var addresses = new HashSet<System.Net.IPAddress> { System.Net.IPAddress.Loopback, System.Net.IPAddress.IPv6Loopback };
        if (System.Net.IPAddress.TryParse(options.AdvertisedIp, out var advertised)) addresses.Add(advertised);
        try
        {
            foreach (var nic in System.Net.NetworkInformation.NetworkInterface.GetAllNetworkInterfaces())
                foreach (var unicast in nic.GetIPProperties().UnicastAddresses) addresses.Add(unicast.Address);
        }
        catch (System.Net.NetworkInformation.NetworkInformationException) { }
        var ports = new HashSet<int> { options.SiloPort, options.GatewayPort };
        foreach (var url in (configuration["urls"] ?? configuration["ASPNETCORE_URLS"] ?? "http://localhost:5000").Split(';', StringSplitOptions.RemoveEmptyEntries))
            if (Uri.TryCreate(url.Replace("*", "localhost").Replace("+", "localhost"), UriKind.Absolute, out var u)) ports.Add(u.Port);
        return new Fleet.Core.Health.ProbeRules.Own(addresses, ports);
    }

    /// <summary>
    /// The cluster's keys, from <see cref="AuthOptions.ClusterSecret"/> or its file (made at the first start of a silo on
    /// localhost clustering). A file too short to be a secret stops the start.
    /// </summary>
    private static Fleet.Core.Security.ClusterKeys ClusterKeysOf(FleetOptions options)
    {
        var auth = options.Auth;
        if (!string.IsNullOrWhiteSpace(auth.ClusterSecret)) return new Fleet.Core.Security.ClusterKeys(auth.ClusterSecret);
        string secret;
        try
        {
            secret = Fleet.Core.Security.ClusterKeys.ReadOrCreate(auth.SecretFile, create: options.Clustering == ClusteringMode.Localhost);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new OptionsValidationException(FleetOptions.Section, typeof(FleetOptions), [$"Fleet:Auth:ClusterSecretFile: {auth.SecretFile} could not be read or made: {e.Message}"]);
        }
        if (secret.Length < Fleet.Core.Security.ClusterKeys.MinSecretLength)
            throw new OptionsValidationException(FleetOptions.Section, typeof(FleetOptions),
                [$"Fleet:Auth:ClusterSecretFile: {auth.SecretFile} holds {secret.Length} characters; a cluster secret has at least {Fleet.Core.Security.ClusterKeys.MinSecretLength}"]);
        var keys = new Fleet.Core.Security.ClusterKeys(secret);
        // Beside the secret, its public action key (for agents' cluster.actionKeyFile); not needed to start, so a failure is no error.
        try
        {
            var pem = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(auth.SecretFile))!, "action-key.pem");
            if (!File.Exists(pem) || File.ReadAllText(pem) != keys.ActionPublicKeyPem) File.WriteAllText(pem, keys.ActionPublicKeyPem);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        return keys;
    }

    /// <summary>Every TLS file is there and is what it should be (a certificate with its key; CA bundles).</summary>
    private static IEnumerable<string> TlsProblems(TlsSettings tls)
    {
        var problems = new List<string>();
        foreach (var (name, value) in new[] { ("Key", tls.Key), ("SiloCa", tls.SiloCa), ("ClientCa", tls.ClientCa) })
            if (string.IsNullOrWhiteSpace(value)) problems.Add($"Fleet:Tls:{name}: is required with Fleet:Tls:Certificate");
        if (problems.Count > 0) return problems;
        void Try(string name, Action load)
        {
            try { load(); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.Security.Cryptography.CryptographicException or InvalidOperationException or ArgumentException)
            {
                problems.Add($"Fleet:Tls:{name}: {e.Message}");
            }
        }
        Try("Certificate", () => Fleet.Client.FleetTls.LoadCertificate(tls.Certificate!, tls.Key!).Dispose());
        Try("SiloCa", () => Fleet.Client.FleetTls.LoadBundle(tls.SiloCa!));
        Try("ClientCa", () => Fleet.Client.FleetTls.LoadBundle(tls.ClientCa!));
        return problems;
    }

    /// <summary>Mutual TLS with a trust of its own on each port: the silo port and outgoing silo connections trust the silos' CA, the gateway the clients'.</summary>
    private static void UseFleetTls(ISiloBuilder silo, TlsSettings tls)
    {
        var certificate = Fleet.Client.FleetTls.LoadCertificate(tls.Certificate!, tls.Key!);
        var silos = Fleet.Client.FleetTls.LoadBundle(tls.SiloCa!);
        var clients = Fleet.Client.FleetTls.LoadBundle(tls.ClientCa!);
        Orleans.Connections.Security.TlsOptions Options(System.Security.Cryptography.X509Certificates.X509Certificate2Collection trust) => new()
        {
            LocalCertificate = certificate,
            RemoteCertificateMode = Orleans.Connections.Security.RemoteCertificateMode.RequireCertificate,
            ClientCertificateMode = Orleans.Connections.Security.RemoteCertificateMode.RequireCertificate,
            RemoteCertificateValidation = Fleet.Client.FleetTls.TrustOnly(trust),
            OnAuthenticateAsClient = (_, a) => a.TargetHost = "fleet",
        };
        var siloSide = Options(silos);
        var gatewaySide = Options(clients);
        silo.Configure<Orleans.Configuration.SiloConnectionOptions>(c =>
        {
            c.ConfigureSiloInboundConnection(b => Orleans.TlsConnectionBuilderExtensions.UseServerTls(b, siloSide));
            c.ConfigureSiloOutboundConnection(b => Orleans.TlsConnectionBuilderExtensions.UseClientTls(b, siloSide));
            c.ConfigureGatewayInboundConnection(b => Orleans.TlsConnectionBuilderExtensions.UseServerTls(b, gatewaySide));
        });
    }

    private static string AcceptedValues(string message) =>
        message.Contains("StoreSync") ? " (accepted: Full, Normal)" :
        message.Contains("Clustering") ? " (accepted: Localhost, Redis)" :
        message.Contains("Storage") || message.Contains("Audit") ? " (accepted: Embedded, Redis)" :
        message.Contains("Reminders") ? " (accepted: Memory, Redis)" : "";

    /// <summary>Fails the start with one clear line per bad setting, before anything binds a port.</summary>
    private static FleetOptions BindAndValidate(IConfiguration configuration)
    {
        var options = new FleetOptions();
        var problems = new List<string>();
        try
        {
            configuration.GetSection(FleetOptions.Section).Bind(options);
        }
        catch (InvalidOperationException e)
        {
            problems.Add((e.InnerException?.Message ?? e.Message) + AcceptedValues(e.Message));
        }
        // "--Fleet:Demo=true|false" is the short switch; it wins over Fleet:Demo:Enabled.
        if (configuration[$"{FleetOptions.Section}:Demo"] is { Length: > 0 } demo)
        {
            if (bool.TryParse(demo, out var on)) options.Demo.Enabled = on;
            else problems.Add($"Fleet:Demo: '{demo}' is not true or false");
        }
        var results = new List<System.ComponentModel.DataAnnotations.ValidationResult>();
        System.ComponentModel.DataAnnotations.Validator.TryValidateObject(options, new(options), results, true);
        problems.AddRange(results.Select(r => $"Fleet:{string.Join(",", r.MemberNames)}: {r.ErrorMessage}"));
        if (options.SiloPort == options.GatewayPort) problems.Add("Fleet:SiloPort and Fleet:GatewayPort must differ");
        if (options.UsesRedis && string.IsNullOrWhiteSpace(options.Redis))
            problems.Add("Fleet:Redis: a connection string (e.g. 127.0.0.1:6379) is required when Clustering, Storage, Audit or Reminders is Redis");
        if (!string.IsNullOrWhiteSpace(options.Redis))
        {
            try { StackExchange.Redis.ConfigurationOptions.Parse(options.Redis); }
            catch (Exception e) when (e is ArgumentException or FormatException) { problems.Add($"Fleet:Redis: '{options.Redis}' is not a Redis connection string: {e.Message}"); }
        }
        if (options.Demo.Enabled)
        {
            try { Fleet.Simulator.ScenarioLoader.Load(options.Demo.Scenario); }
            catch (Fleet.Simulator.ScenarioException e) { problems.Add($"Fleet:Demo:Scenario: {string.Join("; ", e.Problems)}"); }
        }
        if (options.Auth.RequestsPerSecond < 1) problems.Add("Fleet:Auth:RequestsPerSecond: must be at least 1");
        if (options.Auth.Burst < 1) problems.Add("Fleet:Auth:Burst: must be at least 1");
        if (options.Auth.AdminKey is { } adminKey && !(Fleet.Grains.Security.ApiKeys.TryParse(adminKey, out _, out var secret) && secret.Length >= 32))
            problems.Add("Fleet:Auth:AdminKey: is not a Fleet key (fk_ + 12 hex digits + _ + at least 32 base64url characters); see docs/security.md");
        if (options.Auth.ClusterSecret is { } clusterSecret && clusterSecret.Trim().Length < Fleet.Core.Security.ClusterKeys.MinSecretLength)
            problems.Add($"Fleet:Auth:ClusterSecret: must be at least {Fleet.Core.Security.ClusterKeys.MinSecretLength} characters (make one with: openssl rand -base64 32)");
        else if (string.IsNullOrWhiteSpace(options.Auth.ClusterSecret) && options.Clustering == ClusteringMode.Redis && !File.Exists(options.Auth.SecretFile))
            problems.Add($"Fleet:Auth:ClusterSecret: a cluster on Redis needs one secret shared by every silo (Fleet:Auth:ClusterSecret, or a file named by " +
                $"Fleet:Auth:ClusterSecretFile; {options.Auth.SecretFile} does not exist); make one with: openssl rand -base64 32 (docs/security.md)");
        if (options.Auth.Jwt.SigningKey is { Length: > 0 and < 32 }) problems.Add("Fleet:Auth:Jwt:SigningKey: must be at least 32 characters");
        if (!string.IsNullOrWhiteSpace(options.Auth.Jwt.SigningKey) && string.IsNullOrWhiteSpace(options.Auth.Jwt.Issuer))
            problems.Add("Fleet:Auth:Jwt:Issuer: is required with Fleet:Auth:Jwt:SigningKey (the iss tokens must carry)");
        if (options.Otlp.Endpoint is { Length: > 0 } endpoint && !(Uri.TryCreate(endpoint, UriKind.Absolute, out var otlpUri) && otlpUri.Scheme is "http" or "https"))
            problems.Add($"Fleet:Otlp:Endpoint: '{endpoint}' is not an http(s) URL (e.g. http://otel-collector:4318)");
        if (options.Kubernetes && options.Clustering != ClusteringMode.Redis)
            problems.Add("Fleet:Kubernetes: needs Fleet:Clustering=Redis (the silos find each other through Redis; Kubernetes gives each its address)");
        if (!System.Net.IPAddress.TryParse(options.AdvertisedIp, out _)) problems.Add($"Fleet:AdvertisedIp: '{options.AdvertisedIp}' is not an IP address");
        if (options.Tls.Enabled) problems.AddRange(TlsProblems(options.Tls));
        if (problems.Count > 0) throw new OptionsValidationException(FleetOptions.Section, typeof(FleetOptions), problems);
        return options;
    }
}
