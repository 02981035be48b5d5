using Fleet.Core.Policies;
using Fleet.Core.Validation;
using YamlDotNet.Core;
using YamlDotNet.Serialization;
using YamlDotNet.Serialization.NamingConventions;

namespace Fleet.Agent;

/// <summary>The agent's one config file (YAML). deploy/agent/agent.yaml is a commented example; docs/agent.md lists every field.</summary>
public sealed class AgentConfig
{
    public NodeSection Node { get; set; } = new();
    public ClusterSection Cluster { get; set; } = new();
    /// <summary>How often the agent reports. Default 1s.</summary>
    public string ReportInterval { get; set; } = "1s";
    /// <summary>
    /// How long after the agent starts a check that has not passed yet is reported as starting (Degraded, not counted as
    /// failed) rather than failed. Default 30s; 0s turns it off.
    /// </summary>
    public string StartGrace { get; set; } = "30s";
    /// <summary>Reports kept while the cluster is unreachable (the oldest are dropped first). Default 600.</summary>
    public int BufferSize { get; set; } = 600;
    /// <summary>Where the disk-use figure is read. Default /.</summary>
    public string DiskPath { get; set; } = "/";
    /// <summary>Where /proc is. Default /proc.</summary>
    public string ProcRoot { get; set; } = "/proc";
    /// <summary>Where the agent keeps pid files of the processes it started. Default /var/lib/fleet-agent.</summary>
    public string StateDir { get; set; } = "/var/lib/fleet-agent";
    public ProbeSection Probe { get; set; } = new();
    public List<PeerSection> Peers { get; set; } = [];
    public List<CheckSection> Checks { get; set; } = [];
    public List<ProcessSection> Processes { get; set; } = [];
    public List<ScriptSection> Scripts { get; set; } = [];
    /// <summary>Action name → steps (<c>restart:NAME</c>, <c>stop:NAME</c>, <c>start:NAME</c>, <c>script:NAME</c>).</summary>
    public Dictionary<string, List<string>> Actions { get; set; } = [];
    /// <summary>Where the agent reads the figures of the service instances on this host, to report them (rollout judgements, scaling). Default none.</summary>
    public InstancesSection? Instances { get; set; }

    public TimeSpan Interval => Durations.TryParse(ReportInterval, out var d) ? d : TimeSpan.FromSeconds(1);
    public TimeSpan StartGraceSpan => Durations.TryParse(StartGrace, out var d) ? d : TimeSpan.FromSeconds(30);

    public sealed class NodeSection
    {
        public string Id { get; set; } = "";
        public string Domain { get; set; } = "";
        public Dictionary<string, string> Labels { get; set; } = [];
    }

    public sealed class ClusterSection
    {
        /// <summary>Gateways host:port[,host:port]. Default 127.0.0.1:30000.</summary>
        public string Gateways { get; set; } = "127.0.0.1:30000";
        /// <summary>
        /// Silos' HTTP addresses (<c>http://10.0.0.5:5080[,…]</c>): the live gateways are read from them with the agent's own
        /// key and followed as silos come and go — no Redis password on the host. Default none.
        /// </summary>
        public string? Silos { get; set; }
        /// <summary>TLS to the gateway: <c>{ca, certificate, key}</c> (PEM files; docs/security.md). Default none (plain TCP).</summary>
        public TlsSection? Tls { get; set; }
        /// <summary>Redis connection string; when set, gateways are found through Redis (the host then holds Redis' password: prefer <see cref="Silos"/>).</summary>
        public string? Redis { get; set; }
        public string ClusterId { get; set; } = "fleet";
        public string ServiceId { get; set; } = "fleet";
        /// <summary>A file holding this node's agent key (made with <c>fleet keys create --role agent --node ID</c>). Default none.</summary>
        public string? KeyFile { get; set; }

        /// <summary>
        /// The key the agent presents, read from <see cref="KeyFile"/> (null without one). Only from a file: the agent's
        /// environment is passed on to the processes it supervises, and a key must not be.
        /// </summary>
        public string? Key() => KeyFile is { } file ? Fleet.Client.FleetKeyFile.TryRead(file) : null;

        /// <summary>
        /// A file holding the cluster's action key (the public key, PEM; <c>GET /api/v1/agents/action-key</c> or
        /// <c>action-key.pem</c> beside the silo's cluster secret). The agent runs only actions it signed; without it the agent
        /// reports and supervises but runs no action. Default none.
        /// </summary>
        public string? ActionKeyFile { get; set; }

        /// <summary>The cluster's action key from <see cref="ActionKeyFile"/>, or null without one (or when it cannot be read).</summary>
        public System.Security.Cryptography.ECDsa? ActionKey()
        {
            if (ActionKeyFile is not { } file) return null;
            try
            {
                var key = System.Security.Cryptography.ECDsa.Create();
                key.ImportFromPem(File.ReadAllText(file));
                return key;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or System.Security.Cryptography.CryptographicException)
            {
                return null;
            }
        }
    }

    public sealed class TlsSection
    {
        /// <summary>The CA(s) the gateway's certificate must chain to.</summary>
        public string Ca { get; set; } = "";
        /// <summary>This agent's certificate (the gateway requires one).</summary>
        public string? Certificate { get; set; }
        /// <summary>Its private key.</summary>
        public string? Key { get; set; }
    }

    public sealed class InstancesSection
    {
        /// <summary>
        /// A local http(s) endpoint answering a JSON array, one object per instance:
        /// <c>{service, instance, version, requests, errors, latencyP50Ms, latencyP99Ms, memoryBytes, healthy, cpuPercent?}</c>
        /// (requests and errors per second since the last read).
        /// </summary>
        public string Url { get; set; } = "";
        /// <summary>How often it is read and reported. Default 10s.</summary>
        public string Every { get; set; } = "10s";
        /// <summary>How long a read may take. Default 2s.</summary>
        public string Timeout { get; set; } = "2s";

        public TimeSpan Interval => Durations.TryParse(Every, out var d) ? d : TimeSpan.FromSeconds(10);
        public TimeSpan ReadTimeout => Durations.TryParse(Timeout, out var d) ? d : TimeSpan.FromSeconds(2);
    }

    public sealed class ProbeSection
    {
        /// <summary>host:port the agent listens on so its peers can probe it. Default none.</summary>
        public string? Listen { get; set; }
    }

    public sealed class PeerSection
    {
        public string Node { get; set; } = "";
        /// <summary>host:port to TCP-connect to (the peer agent's probe.listen).</summary>
        public string Address { get; set; } = "";
    }

    public sealed class CheckSection
    {
        public string Name { get; set; } = "";
        /// <summary>Passes while the named supervised process runs.</summary>
        public string? Process { get; set; }
        public HttpCheck? Http { get; set; }
        public TcpCheck? Tcp { get; set; }
    }

    public sealed class HttpCheck
    {
        public string Url { get; set; } = "";
        public int ExpectStatus { get; set; } = 200;
        public string Timeout { get; set; } = "1s";
        /// <summary>Slower answers fail the check. Default none.</summary>
        public string? MaxLatency { get; set; }
    }

    public sealed class TcpCheck
    {
        public string Host { get; set; } = "127.0.0.1";
        public int Port { get; set; }
        public string Timeout { get; set; } = "1s";
    }

    public sealed class ProcessSection
    {
        public string Name { get; set; } = "";
        public string Command { get; set; } = "";
        public List<string> Args { get; set; } = [];
        public Dictionary<string, string> Env { get; set; } = [];
        public string? WorkingDir { get; set; }
        /// <summary>The user the process runs as (the agent needs CAP_SETUID and CAP_SETGID for another user). Default: the agent's own.</summary>
        public string? User { get; set; }
    }

    public sealed class ScriptSection
    {
        public string Name { get; set; } = "";
        public string Command { get; set; } = "";
        public List<string> Args { get; set; } = [];
        public string Timeout { get; set; } = "30s";
        /// <summary>The user the script runs as. Default: the agent's own.</summary>
        public string? User { get; set; }
    }

    /// <summary>Reads and checks a config file; every problem found is listed, with its path in the file.</summary>
    public static (AgentConfig? Config, List<string> Problems) Load(string path)
    {
        string text;
        try { text = File.ReadAllText(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return (null, [$"{path}: cannot read: {e.Message}"]); }
        if (Fleet.Core.Documents.DocumentLimits.Check(text) is { } limit) return (null, [$"{path}: past a limit ({limit.Limit}): {limit}"]);
        AgentConfig config;
        try
        {
            config = new DeserializerBuilder().WithNamingConvention(CamelCaseNamingConvention.Instance).Build().Deserialize<AgentConfig>(text) ?? new AgentConfig();
        }
        catch (YamlException e)
        {
            return (null, [$"line {e.Start.Line}: {(e.InnerException?.Message ?? e.Message).Split(Environment.NewLine)[0]}"]);
        }
        return (config, config.Validate());
    }

    public List<string> Validate()
    {
        var p = new List<string>();
        if (!InputRules.IsValidId(Node.Id)) p.Add($"node.id: '{Node.Id}' must be {InputRules.IdRule}");
        if (!InputRules.IsValidId(Node.Domain)) p.Add($"node.domain: '{Node.Domain}' must be {InputRules.IdRule}");
        if (!Durations.TryParse(ReportInterval, out var interval) || interval < TimeSpan.FromMilliseconds(100)) p.Add($"reportInterval: '{ReportInterval}' must be a duration of at least 100ms");
        if (!Durations.TryParse(StartGrace, out var grace) || grace < TimeSpan.Zero || grace > TimeSpan.FromHours(1)) p.Add($"startGrace: '{StartGrace}' must be a duration from 0s to 1h");
        if (BufferSize is < 1 or > 100_000) p.Add($"bufferSize: {BufferSize} must be from 1 to 100000");
        if (Cluster.Silos is { } silos)
            try { Fleet.Client.FleetClientHostingExtensions.CheckGatewayDiscovery(silos); }
            catch (Fleet.Client.FleetValidationException e) { p.Add($"cluster.silos: {e.Problems.Values.First()[0]}"); }
        else if (Cluster.Redis is null)
            try { FleetClientGatewayCheck(Cluster.Gateways); }
            catch (Exception e) { p.Add($"cluster.gateways: {e.Message}"); }
        if (Cluster.KeyFile is { } keyFile && Fleet.Client.FleetKeyFile.TryRead(keyFile) is null) p.Add($"cluster.keyFile: '{keyFile}' cannot be read or is empty");
        if (Cluster.ActionKeyFile is { } actionKeyFile && Cluster.ActionKey() is null)
            p.Add($"cluster.actionKeyFile: '{actionKeyFile}' cannot be read or holds no public key (PEM, -----BEGIN PUBLIC KEY-----)");
        if (Cluster.Tls is { } tls)
        {
            if (!File.Exists(tls.Ca)) p.Add($"cluster.tls.ca: '{tls.Ca}' does not exist");
            if (tls.Certificate is { } c && !File.Exists(c)) p.Add($"cluster.tls.certificate: '{c}' does not exist");
            if (tls.Certificate is not null && (tls.Key is null || !File.Exists(tls.Key))) p.Add($"cluster.tls.key: '{tls.Key}' does not exist (the certificate's private key is required)");
        }
        if (Probe.Listen is { } listen && !IsHostPort(listen)) p.Add($"probe.listen: '{listen}' is not host:port");
        for (var i = 0; i < Peers.Count; i++)
        {
            if (!InputRules.IsValidId(Peers[i].Node)) p.Add($"peers[{i}].node: '{Peers[i].Node}' is not a node id");
            if (!IsHostPort(Peers[i].Address)) p.Add($"peers[{i}].address: '{Peers[i].Address}' is not host:port");
        }
        Unique(p, "processes", Processes.Select(x => x.Name));
        Unique(p, "scripts", Scripts.Select(x => x.Name));
        Unique(p, "checks", Checks.Select(x => x.Name));
        for (var i = 0; i < Processes.Count; i++)
        {
            if (!InputRules.IsValidId(Processes[i].Name)) p.Add($"processes[{i}].name: '{Processes[i].Name}' must be {InputRules.IdRule}");
            if (string.IsNullOrWhiteSpace(Processes[i].Command)) p.Add($"processes[{i}].command: is required");
            if (Processes[i].WorkingDir is { } wd && !Directory.Exists(wd)) p.Add($"processes[{i}].workingDir: '{wd}' does not exist");
            if (Processes[i].User is { } pu && !AgentEnvironment.UserExists(pu)) p.Add($"processes[{i}].user: no user '{pu}' on this host");
        }
        for (var i = 0; i < Scripts.Count; i++)
        {
            if (!InputRules.IsValidId(Scripts[i].Name)) p.Add($"scripts[{i}].name: '{Scripts[i].Name}' must be {InputRules.IdRule}");
            if (string.IsNullOrWhiteSpace(Scripts[i].Command)) p.Add($"scripts[{i}].command: is required");
            if (!Durations.TryParse(Scripts[i].Timeout, out _)) p.Add($"scripts[{i}].timeout: '{Scripts[i].Timeout}' is not a duration");
            if (Scripts[i].User is { } su && !AgentEnvironment.UserExists(su)) p.Add($"scripts[{i}].user: no user '{su}' on this host");
        }
        for (var i = 0; i < Checks.Count; i++)
        {
            var c = Checks[i];
            var path = $"checks[{i}]";
            if (!InputRules.IsValidId(c.Name)) p.Add($"{path}.name: '{c.Name}' must be {InputRules.IdRule}");
            var kinds = (c.Process is null ? 0 : 1) + (c.Http is null ? 0 : 1) + (c.Tcp is null ? 0 : 1);
            if (kinds != 1) p.Add($"{path}: give exactly one of process, http, tcp");
            if (c.Process is { } proc && Processes.All(x => x.Name != proc)) p.Add($"{path}.process: no process named '{proc}' in processes");
            if (c.Http is { } h)
            {
                if (!Uri.TryCreate(h.Url, UriKind.Absolute, out var u) || u.Scheme is not ("http" or "https")) p.Add($"{path}.http.url: '{h.Url}' is not an http(s) URL");
                if (!Durations.TryParse(h.Timeout, out _)) p.Add($"{path}.http.timeout: '{h.Timeout}' is not a duration");
                if (h.MaxLatency is { } ml && !Durations.TryParse(ml, out _)) p.Add($"{path}.http.maxLatency: '{ml}' is not a duration");
                if (h.ExpectStatus is < 100 or > 599) p.Add($"{path}.http.expectStatus: {h.ExpectStatus} is not an HTTP status");
            }
            if (c.Tcp is { } t)
            {
                if (t.Port is < 1 or > 65535) p.Add($"{path}.tcp.port: {t.Port} must be from 1 to 65535");
                if (!Durations.TryParse(t.Timeout, out _)) p.Add($"{path}.tcp.timeout: '{t.Timeout}' is not a duration");
            }
        }
        if (Instances is { } ins)
        {
            if (!Uri.TryCreate(ins.Url, UriKind.Absolute, out var iu) || iu.Scheme is not ("http" or "https")) p.Add($"instances.url: '{ins.Url}' is not an http(s) URL");
            if (!Durations.TryParse(ins.Every, out var every) || every < TimeSpan.FromMilliseconds(100)) p.Add($"instances.every: '{ins.Every}' must be a duration of at least 100ms");
            if (!Durations.TryParse(ins.Timeout, out _)) p.Add($"instances.timeout: '{ins.Timeout}' is not a duration");
        }
        foreach (var (action, steps) in Actions)
        {
            if (!System.Text.RegularExpressions.Regex.IsMatch(action, "^[a-z][a-z0-9-]{0,63}$")) p.Add($"actions.{action}: not an action name");
            for (var i = 0; i < steps.Count; i++)
                if (AgentActions.ParseStep(steps[i], this) is { Error: { } error }) p.Add($"actions.{action}[{i}]: {error}");
        }
        return p;
    }

    private static void FleetClientGatewayCheck(string gateways)
    {
        try { Fleet.Client.FleetClientHostingExtensions.ParseGateways(gateways); }
        catch (Fleet.Client.FleetValidationException e) { throw new FormatException(e.Problems.Values.First()[0]); }
    }

    private static bool IsHostPort(string text)
    {
        var colon = text.LastIndexOf(':');
        return colon > 0 && int.TryParse(text[(colon + 1)..], out var port) && port is > 0 and < 65536;
    }

    private static void Unique(List<string> p, string list, IEnumerable<string> names)
    {
        foreach (var dup in names.GroupBy(n => n).Where(g => g.Count() > 1)) p.Add($"{list}: the name '{dup.Key}' is used more than once");
    }
}
