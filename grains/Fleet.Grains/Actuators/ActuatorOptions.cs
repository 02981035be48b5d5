namespace Fleet.Grains.Actuators;

/// <summary>Which actuator runs granted actions and how hard the pipeline tries. Bound from <c>Fleet:Actuator</c>.</summary>
public sealed class ActuatorOptions
{
    /// <summary><c>Simulated</c> (default), <c>Webhook</c>, or <c>Agent</c> (each node's fleet-agent carries its actions out).</summary>
    public string Kind { get; set; } = "Simulated";

    /// <summary>The webhook's URL; required when <see cref="Kind"/> is Webhook.</summary>
    public string? WebhookUrl { get; set; }

    /// <summary>
    /// The security actuator's webhook (containment of principals): it receives
    /// <c>{idempotencyKey, action: revoke-tokens|quarantine-sessions|block-egress|release-principal, principal, reason, …}</c>.
    /// Default none: containment runs on the configured actuator (<see cref="Kind"/>).
    /// </summary>
    public string? SecurityWebhookUrl { get; set; }

    /// <summary>
    /// The provisioner's webhook (docs/lifecycle.md#provisioning): it receives
    /// <c>{idempotencyKey, action: provision, shape, domain, count, cpuCores, memoryBytes, reason, …}</c> and brings that many
    /// machines, which register with the label <c>provision-request: {idempotencyKey}</c>; and
    /// <c>{idempotencyKey, action: give-back, node, domain, …}</c> for an empty node given back. Default none: provisioning runs on
    /// the configured actuator (<see cref="Kind"/>; the simulated one only records it).
    /// </summary>
    public string? ProvisionWebhookUrl { get; set; }

    /// <summary>Time allowed for one attempt. Default 10 s.</summary>
    public TimeSpan AttemptTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Retries after the first attempt. Default 3.</summary>
    public int MaxRetries { get; set; } = 3;

    /// <summary>The first retry's delay; later ones back off exponentially. Default 1 s.</summary>
    public TimeSpan RetryDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How long the circuit stays open after it breaks. Default 30 s.</summary>
    public TimeSpan BreakDuration { get; set; } = TimeSpan.FromSeconds(30);
}
