namespace Fleet.Client;

/// <summary>How the SDK finds and talks to the cluster.</summary>
public sealed class FleetClientOptions
{
    /// <summary>Gateways to connect to, as <c>host:port</c>, comma-separated. Default <c>127.0.0.1:30000</c> (the embedded silo).</summary>
    public string Gateways { get; set; } = "127.0.0.1:30000";

    /// <summary>
    /// Redis connection string. When set, gateways are discovered through Redis membership (every live silo, as they
    /// come and go) and <see cref="Gateways"/> is ignored. Default none.
    /// </summary>
    public string? Redis { get; set; }

    /// <summary>
    /// Silos' HTTP addresses (<c>https://fleet.internal:5080</c>, comma-separated): when set (and <see cref="Redis"/> is
    /// not), the live gateways are read from <c>GET /api/v1/gateways</c> with <see cref="Key"/> and read again every
    /// 10 s, so a client follows silos as they come and go without holding Redis' password. Default none.
    /// </summary>
    public string? GatewayDiscovery { get; set; }

    /// <summary>
    /// The API key every call carries (<c>fk_…</c>), checked by the silo's gateway. Required unless the cluster runs with
    /// authentication turned off. Default none.
    /// </summary>
    public string? Key { get; set; }

    /// <summary>
    /// A PEM file with the CA(s) the gateway's certificate must chain to: setting it makes the client speak TLS to the
    /// gateway (docs/security.md). Default none (plain TCP).
    /// </summary>
    public string? TlsCa { get; set; }

    /// <summary>The client's own certificate (PEM) for a gateway that requires one, with <see cref="TlsKey"/>. Default none.</summary>
    public string? TlsCertificate { get; set; }

    /// <summary>The private key (PEM) of <see cref="TlsCertificate"/>. Default none.</summary>
    public string? TlsKey { get; set; }

    /// <summary>Orleans cluster id. Default <c>fleet</c>.</summary>
    public string ClusterId { get; set; } = "fleet";

    /// <summary>Orleans service id. Default <c>fleet</c>.</summary>
    public string ServiceId { get; set; } = "fleet";

    /// <summary>How long one call may wait for its answer. Default 10 s (Orleans' own default is 30 s).</summary>
    public TimeSpan ResponseTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Retries of a call that failed because a silo was unreachable or died. Default 3.</summary>
    public int Retries { get; set; } = 3;

    /// <summary>Attempts to connect at start before giving up. Default 3.</summary>
    public int ConnectAttempts { get; set; } = 3;
}
