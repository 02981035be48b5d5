using System.ComponentModel.DataAnnotations;

namespace Fleet.Silo.Hosting;

public enum ClusteringMode { Localhost, Redis }

public enum StoreMode { Embedded, Redis }

public enum RemindersMode { Memory, Redis }

public enum StoreSync { Full, Normal }

/// <summary>The silo's settings, bound from the <c>Fleet</c> section (command line <c>--Fleet:X</c>, environment <c>Fleet__X</c>, appsettings).</summary>
public sealed class FleetOptions
{
    public const string Section = "Fleet";

    /// <summary>Folder of the embedded store (grain state and audit). Default <c>data</c>, relative to the working folder.</summary>
    [Required(AllowEmptyStrings = false)]
    public string DataDir { get; set; } = "data";

    /// <summary>Silo-to-silo port. Default 11111.</summary>
    [Range(1, 65535)]
    public int SiloPort { get; set; } = 11111;

    /// <summary>Port clients (SDK, CLI) connect to. Default 30000.</summary>
    [Range(1, 65535)]
    public int GatewayPort { get; set; } = 30000;

    /// <summary>Orleans cluster id. Default <c>fleet</c>.</summary>
    [Required(AllowEmptyStrings = false)]
    public string ClusterId { get; set; } = "fleet";

    /// <summary>Orleans service id. Default <c>fleet</c>.</summary>
    [Required(AllowEmptyStrings = false)]
    public string ServiceId { get; set; } = "fleet";

    /// <summary><c>Localhost</c> (default: one silo, no set-up) or <c>Redis</c> (many silos find each other through <see cref="Redis"/>).</summary>
    public ClusteringMode Clustering { get; set; } = ClusteringMode.Localhost;

    /// <summary>Where grain state lives: <c>Embedded</c> (default, SQLite under <see cref="DataDir"/>) or <c>Redis</c>.</summary>
    public StoreMode Storage { get; set; } = StoreMode.Embedded;

    /// <summary>
    /// How the embedded store commits: <c>Full</c> (default: a write is acknowledged once it is on disk — it survives a power
    /// cut) or <c>Normal</c> (faster; it survives a killed process, but the last commits may vanish on power loss).
    /// </summary>
    public StoreSync StoreSync { get; set; } = StoreSync.Full;

    /// <summary>
    /// A folder where this silo also writes every trail record, sealed, as JSON lines (<c>trail-YYYY-MM-DD-NAME.jsonl</c>, a
    /// new file each UTC day), for an append-only sink a team keeps elsewhere (docs/decisions.md). Default none.
    /// </summary>
    public string? TrailExport { get; set; }

    /// <summary>
    /// How often each silo writes a signed checkpoint of the trail's chain (every stream's end, signed with the cluster's
    /// action key; docs/decisions.md), when its own stream moved since the last. Default 10 minutes; 0 turns them off.
    /// </summary>
    public TimeSpan TrailCheckpointInterval { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>Where the decision trail lives: <c>Embedded</c> (default) or <c>Redis</c>.</summary>
    public StoreMode Audit { get; set; } = StoreMode.Embedded;

    /// <summary>Where reminders (the domain watchdogs) live: <c>Memory</c> (default) or <c>Redis</c> (survive any silo).</summary>
    public RemindersMode Reminders { get; set; } = RemindersMode.Memory;

    /// <summary>StackExchange.Redis connection string, e.g. <c>127.0.0.1:6379</c>; required when anything above is Redis.</summary>
    public string? Redis { get; set; }

    /// <summary>The address other silos and clients reach this silo at. Default 127.0.0.1.</summary>
    public string AdvertisedIp { get; set; } = "127.0.0.1";

    /// <summary>
    /// Tuned membership for fast failure detection (default true): probe timeout 1 s, 2 missed probes, 2 votes,
    /// table refresh 5 s, I-am-alive every 10 s. A killed silo is declared dead in about a second instead of 10–14 s,
    /// at the cost of more probe traffic and a higher chance of declaring a briefly stalled silo dead (it then restarts).
    /// </summary>
    public bool FastFailureDetection { get; set; } = true;

    /// <summary>
    /// Running in Kubernetes (default false): the silo takes its address from the pod (<c>POD_IP</c>, <c>POD_NAME</c>,
    /// <c>POD_NAMESPACE</c> through the downward API) with Microsoft.Orleans.Hosting.Kubernetes, which also watches the silo
    /// pods. Needs Redis clustering; deploy/kubernetes/ has the manifests.
    /// </summary>
    public bool Kubernetes { get; set; }

    /// <summary>The demo fleet: a simulated fleet (the simulator's <c>demo</c> scenario) reporting to this silo, faults and all. Default off.</summary>
    public DemoOptions Demo { get; set; } = new();

    /// <summary>Traces of every remediation case, exported over OTLP when an endpoint is set (docs/metrics.md).</summary>
    public OtlpOptions Otlp { get; set; } = new();

    /// <summary>Who may call the API, the dashboard, /metrics and the gateway: keys, tokens, rate limits (docs/security.md).</summary>
    public AuthOptions Auth { get; set; } = new();

    /// <summary>Mutual TLS on the silo port and the gateway port, each with its own trust (docs/security.md). Off unless a certificate is set.</summary>
    public TlsSettings Tls { get; set; } = new();

    public bool UsesRedis => Clustering == ClusteringMode.Redis || Storage == StoreMode.Redis || Audit == StoreMode.Redis || Reminders == RemindersMode.Redis;
}

public sealed class DemoOptions
{
    /// <summary>Run the demo fleet. Default false; <c>deploy/run.sh</c> turns it on.</summary>
    public bool Enabled { get; set; }

    /// <summary>The scenario it runs: a built-in name or a YAML file. Default <c>demo</c>.</summary>
    public string Scenario { get; set; } = "demo";
}

public sealed class AuthOptions
{
    /// <summary>
    /// Check credentials (default true). false opens everything to anyone who reaches the ports; the silo logs a warning at
    /// every start while it is off.
    /// </summary>
    public bool Enabled { get; set; } = true;

    /// <summary>
    /// Where the first start writes the admin key it makes (readable by the owner only). Default
    /// <c>~/.config/fleet/admin.key</c>, where the CLI looks for it.
    /// </summary>
    public string? KeyFile { get; set; }

    /// <summary>
    /// An admin key given by configuration (e.g. <c>Fleet__Auth__AdminKey</c> from a Kubernetes Secret), in Fleet's key form
    /// <c>fk_</c> + 12 hex digits + <c>_</c> + at least 32 base64url characters. Its hash is recorded at start when the store
    /// does not know it; no key is then made or written to <see cref="KeyFile"/>. Revoking it works as for any key. Default none.
    /// </summary>
    public string? AdminKey { get; set; }

    /// <summary>
    /// The secret the silos of one cluster share (at least 32 characters, e.g. <c>openssl rand -base64 32</c>): it stamps the
    /// silos' own grain calls (a client cannot make a stamp, so it is held to its key whatever it claims to be), encrypts the
    /// web view's cookie keys in the store, and signs every action sent to an agent. Give it here (e.g.
    /// <c>Fleet__Auth__ClusterSecret</c> from a Kubernetes Secret) or in <see cref="ClusterSecretFile"/>. Default none.
    /// </summary>
    public string? ClusterSecret { get; set; }

    /// <summary>
    /// A file holding the cluster secret (one line; owner-only). Default <c>cluster.secret</c> beside <see cref="KeyFile"/>
    /// (<c>~/.config/fleet/cluster.secret</c>). With localhost clustering a missing file is made at the first start; with
    /// Redis clustering every silo must be given the same secret, here or in <see cref="ClusterSecret"/>.
    /// </summary>
    public string? ClusterSecretFile { get; set; }

    /// <summary>The cluster secret's file: <see cref="ClusterSecretFile"/>, else <c>cluster.secret</c> beside the key file.</summary>
    public string SecretFile => !string.IsNullOrWhiteSpace(ClusterSecretFile) ? ClusterSecretFile
        : Path.Combine(Path.GetDirectoryName(Path.GetFullPath(string.IsNullOrWhiteSpace(KeyFile) ? DefaultKeyFile : KeyFile))!, "cluster.secret");

    /// <summary>Serve /metrics without a credential, for a scraper on a private network. Default false (a viewer key is needed).</summary>
    public bool OpenMetrics { get; set; }

    /// <summary>Requests a second one credential may make to the API (a token bucket; more are answered 429 with Retry-After). Default 20.</summary>
    [Range(1, 1_000_000)]
    public int RequestsPerSecond { get; set; } = 20;

    /// <summary>Requests a credential may make at once above its rate (the bucket's size). Default 40.</summary>
    [Range(1, 1_000_000)]
    public int Burst { get; set; } = 40;

    /// <summary>
    /// Calls a second one credential may make through the gateway, on each silo (a token bucket; more are refused with a
    /// retry-after, which the SDK waits out). A batch is one call. Default 500.
    /// </summary>
    [Range(1, 10_000_000)]
    public int GatewayRequestsPerSecond { get; set; } = 500;

    /// <summary>Calls one credential may make at once above its gateway rate (the bucket's size). Default 1,000.</summary>
    [Range(1, 10_000_000)]
    public int GatewayBurst { get; set; } = 1_000;

    /// <summary>JWT bearer tokens from an identity provider, besides Fleet's own keys. Off unless an issuer key or authority is set.</summary>
    public JwtOptions Jwt { get; set; } = new();

    public static string DefaultKeyFile => Fleet.Client.FleetKeyFile.DefaultPath;
}

/// <summary>
/// Tokens: the role is the <c>role</c> claim (viewer, operator, admin or agent; the highest wins when several are given), the
/// name is <c>name</c> or else <c>sub</c>, an agent's node is <c>fleet_node</c>.
/// </summary>
public sealed class JwtOptions
{
    /// <summary>OpenID Connect authority whose signing keys are fetched (e.g. https://login.example.com/realms/ops).</summary>
    public string? Authority { get; set; }

    /// <summary>A shared HMAC-SHA256 signing key (at least 32 characters), for issuers without discovery.</summary>
    public string? SigningKey { get; set; }

    /// <summary>The expected <c>iss</c>. Required with <see cref="SigningKey"/>.</summary>
    public string? Issuer { get; set; }

    /// <summary>The expected <c>aud</c>. Default <c>fleet</c>.</summary>
    public string Audience { get; set; } = "fleet";

    public bool Enabled => !string.IsNullOrWhiteSpace(Authority) || !string.IsNullOrWhiteSpace(SigningKey);
}

/// <summary>
/// Mutual TLS on Orleans' two ports, each with its own trust: the silo port (11111) takes only certificates that chain to
/// <see cref="SiloCa"/> — other silos —, the gateway (30000) only those that chain to <see cref="ClientCa"/> — the SDK, the
/// CLI, agents —, so a client's certificate never opens the silo port. All PEM files; a CA file may hold several CAs.
/// </summary>
public sealed class TlsSettings
{
    /// <summary>This silo's certificate (PEM), shown on both ports and when it dials another silo. Setting it turns TLS on. Default none.</summary>
    public string? Certificate { get; set; }

    /// <summary>The private key (PEM) of <see cref="Certificate"/>.</summary>
    public string? Key { get; set; }

    /// <summary>The CA(s) the silo port trusts (the silos' certificates chain to it); clients check the gateway against it too.</summary>
    public string? SiloCa { get; set; }

    /// <summary>The CA(s) the gateway trusts for client certificates.</summary>
    public string? ClientCa { get; set; }

    public bool Enabled => !string.IsNullOrWhiteSpace(Certificate);
}

public sealed class OtlpOptions
{
    /// <summary>
    /// An OTLP/HTTP collector (e.g. <c>http://otel-collector:4318</c>; <c>/v1/traces</c> is added when no path is given).
    /// Default none: no traces are made.
    /// </summary>
    public string? Endpoint { get; set; }
}
