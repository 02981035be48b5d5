using Fleet.Agent;
using Fleet.Client;

// fleet-agent [--config FILE] [--check-config]
var configPath = "/etc/fleet/agent.yaml";
var checkOnly = false;
for (var i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--config" when i + 1 < args.Length: configPath = args[++i]; break;
        case "--check-config": checkOnly = true; break;
        case "--help" or "-h":
            Console.WriteLine("fleet-agent [--config FILE] [--check-config]\n  Reports this host to a Fleet cluster, runs its checks, supervises its processes and carries out granted actions.\n  Default config: /etc/fleet/agent.yaml (see deploy/agent/agent.yaml).");
            return 0;
        default:
            Console.Error.WriteLine($"fleet-agent: unknown argument '{args[i]}'; try --help");
            return 2;
    }
}

var (config, problems) = AgentConfig.Load(configPath);
if (problems.Count > 0)
{
    Console.Error.WriteLine($"fleet-agent: {configPath} has {problems.Count} problem(s):");
    foreach (var p in problems) Console.Error.WriteLine($"  {p}");
    return 2;
}
if (!AgentEnvironment.DropAmbientCapabilities())
    Console.Error.WriteLine("fleet-agent: could not empty the ambient capability set; processes it starts may inherit its capabilities");
if (config!.Cluster.ActionKeyFile is null)
    Console.Error.WriteLine("fleet-agent: cluster.actionKeyFile is not set: this agent will report and supervise, but run no action (docs/agent.md)");
if (checkOnly)
{
    Console.WriteLine($"{configPath}: valid — node {config!.Node.Id} in {config.Node.Domain}, {config.Processes.Count} process(es), {config.Checks.Count} check(s), {config.Peers.Count} peer(s)");
    return 0;
}

// No watch of the working folder (and all below it) for configuration files: the agent reads its own file once.
var builder = Host.CreateApplicationBuilder(["--hostBuilder:reloadConfigOnChange=false"]);
builder.Logging.AddFilter("Orleans", LogLevel.Warning).AddFilter("Microsoft", LogLevel.Warning).AddFilter("Polly", LogLevel.Warning);
builder.Services.AddSingleton(config!);
builder.Services.AddSingleton<HostMetrics>();
builder.Services.AddSingleton<ProcessSupervisor>();
builder.Services.AddSingleton(TimeProvider.System);
builder.Services.AddSingleton<CheckRunner>();
builder.Services.AddSingleton<StartGrace>();
builder.Services.AddSingleton<PeerProber>();
builder.Services.AddSingleton(sp => new ActionJournal(config!.StateDir, sp.GetRequiredService<TimeProvider>()));
builder.Services.AddSingleton<AgentActions>();
// The agent's own work starts before the cluster client, which may wait for the cluster as long as it takes.
builder.Services.AddHostedService<ProbeListener>();
builder.Services.AddHostedService<AgentLoop>();
builder.Services.AddHostedService<InstanceReporter>();
builder.AddFleetClient(o =>
{
    o.Gateways = config!.Cluster.Gateways;
    o.Redis = config.Cluster.Redis;
    o.GatewayDiscovery = config.Cluster.Silos;
    o.TlsCa = config.Cluster.Tls?.Ca;
    o.TlsCertificate = config.Cluster.Tls?.Certificate;
    o.TlsKey = config.Cluster.Tls?.Key;
    o.ClusterId = config.Cluster.ClusterId;
    o.ServiceId = config.Cluster.ServiceId;
    o.Key = config.Cluster.Key();
    o.ConnectAttempts = int.MaxValue;
    o.ResponseTimeout = TimeSpan.FromSeconds(5);
});
await builder.Build().RunAsync();
return 0;
