namespace Fleet.Abstractions.Security;

/// <summary>
/// What a credential may do. Viewer, operator and admin nest (an admin may do what an operator may, an operator what a
/// viewer may); an agent key is bound to one node and may only register it, report its telemetry and receive its actions;
/// an ingest key may only push telemetry and alerts over HTTP.
/// </summary>
[System.Text.Json.Serialization.JsonConverter(typeof(RoleJsonConverter))]
public enum FleetRole
{
    /// <summary>Reads: lists, statuses, the audit trail, the policy.</summary>
    Viewer = 0,

    /// <summary>Steers: cordon, drain, freeze, scale, release, and everything a viewer may.</summary>
    Operator = 1,

    /// <summary>Changes the rules: policy, service specs, keys, and everything an operator may.</summary>
    Admin = 2,

    /// <summary>A node's agent: registers and reports for its own node only, and receives its actions.</summary>
    Agent = 3,

    /// <summary>A team's monitoring: pushes telemetry and alerts (remote-write, OTLP, Alertmanager) for any node, over HTTP only; reads nothing.</summary>
    Ingest = 4,
}

public static class FleetRoles
{
    /// <summary>Whether a credential of role <paramref name="held"/> may do what needs <paramref name="needed"/>.</summary>
    public static bool Satisfies(this FleetRole held, FleetRole needed) => needed switch
    {
        FleetRole.Agent => held is FleetRole.Agent or FleetRole.Operator or FleetRole.Admin,
        FleetRole.Ingest => held is FleetRole.Ingest or FleetRole.Operator or FleetRole.Admin,
        _ => held is FleetRole.Viewer or FleetRole.Operator or FleetRole.Admin && held >= needed,
    };

    public static string Name(this FleetRole role) => role.ToString().ToLowerInvariant();

    public static bool TryParse(string? text, out FleetRole role)
    {
        role = default;
        return text is { Length: > 0 } && !int.TryParse(text, out _) && Enum.TryParse(text, true, out role) && Enum.IsDefined(role);
    }
}

/// <summary>
/// The role a client (SDK, CLI, agent) needs to call this grain method through the gateway. A method without it cannot be
/// called from outside the cluster at all (it is for grains). With <see cref="OwnNode"/>, an agent key may call it only on
/// the grain keyed by its own node; viewers and operators are not affected by it.
/// </summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class RequiresRoleAttribute(FleetRole role) : Attribute
{
    public FleetRole Role { get; } = role;

    /// <summary>An agent key may call this only on the grain of its own node (the grain's key is the node id).</summary>
    public bool OwnNode { get; init; }
}

/// <summary>A call through the gateway was refused: no key, an unknown or revoked key, or a key whose role is not enough.</summary>
[GenerateSerializer, Alias("fleet.AccessDeniedException")]
public sealed class AccessDeniedException(string message, bool unauthenticated) : Exception(message)
{
    /// <summary>True when no valid credential was presented (HTTP would answer 401); false when the credential's role is not enough (403).</summary>
    [Id(0)] public bool Unauthenticated { get; } = unauthenticated;
}

/// <summary>Names the request-context entries the gateway's access check reads and sets.</summary>
public static class CallerContext
{
    /// <summary>The key the client presents (set by the SDK on every call; removed by the silo once checked, so it never travels further).</summary>
    public const string Key = "fleet.key";

    /// <summary>Who made the call, from the credential's name (set by the silo; a value sent by the client is replaced).</summary>
    public const string Who = "fleet.who";

    /// <summary>The node an agent key is bound to (set by the silo for agent keys).</summary>
    public const string Node = "fleet.node";
}
