using System.Collections.Immutable;
using System.Runtime.CompilerServices;
using Fleet.Abstractions.Actions;
using Fleet.Abstractions.Policy;
using Fleet.Abstractions.Supervision;

namespace Fleet.Core.Actions;

/// <summary>
/// What each action means: the verb its records use, its class (the budgets and brakes it meets), its effect on the
/// subject's administrative state and the actuator that runs it. A new action is a row, not an edit in three files.
/// An action no row names (an agent's own <c>restart-nginx</c>, say) is disruptive, has no admin effect and reads "Ran …".
/// </summary>
public sealed class ActionCatalogue
{
    public static readonly ImmutableArray<ActionSpec> BuiltIn =
    [
        new(ActionNames.RestartServices, "Restarted services", ActionClass.Disruptive),
        new(ActionNames.Reboot, "Rebooted", ActionClass.Disruptive),
        new(ActionNames.Drain, "Drained", ActionClass.Disruptive, AdminEffect.Draining),
        new(ActionNames.Decommission, "Decommissioned", ActionClass.Disruptive, AdminEffect.Draining),
        new(ActionNames.Admit, "Admitted into service", ActionClass.Lifecycle),
        new(ActionNames.Quarantine, "Quarantined", ActionClass.Lifecycle),
        new(ActionNames.Consolidate, "Consolidated", ActionClass.Disruptive, AdminEffect.Draining),
        new(ActionNames.GiveBack, "Gave back", ActionClass.Lifecycle, Actuator: "provisioner"),
        new(ActionNames.Provision, "Asked the provisioner for machines for", ActionClass.Lifecycle, Actuator: "provisioner"),
        new(ActionNames.Replace, "Replaced", ActionClass.Disruptive, AdminEffect.Reset),
        new(ActionNames.StartInstance, "Started an instance", ActionClass.Placement),
        new(ActionNames.StopInstance, "Stopped an instance", ActionClass.Placement),
        new(ActionNames.RestartInstance, "Restarted an instance", ActionClass.Disruptive),
        new(ActionNames.ReplaceInstance, "Replaced an instance", ActionClass.Disruptive),
        new(ActionNames.Rollout, "Rolled out a step of", ActionClass.Rollout),
        new(ActionNames.Rollback, "Rolled back", ActionClass.Rollout),
        new(ActionNames.ProbePath, "Probed a path for", ActionClass.Reroute),
        new(ActionNames.ShiftFlow, "Shifted the traffic of", ActionClass.Reroute),
        new(ActionNames.Reroute, "Rerouted the flows of", ActionClass.Reroute),
        new(Abstractions.Principals.ContainmentActions.RevokeTokens, "Revoked the tokens of", ActionClass.Containment, Actuator: "security"),
        new(Abstractions.Principals.ContainmentActions.QuarantineSessions, "Quarantined the sessions of", ActionClass.Containment, Actuator: "security"),
        new(Abstractions.Principals.ContainmentActions.BlockEgress, "Blocked the egress of", ActionClass.Containment, Actuator: "security"),
        new(Abstractions.Principals.ContainmentActions.Release, "Released", ActionClass.Containment, Actuator: "security"),
    ];

    /// <summary>The actuator names a row may give: the silo's configured one is used when a row names none.</summary>
    public static readonly ImmutableArray<string> Actuators = ["agent", "webhook", "simulated", "security", "provisioner"];

    private static readonly ConditionalWeakTable<FleetPolicy, ActionCatalogue> Cache = [];
    private readonly ImmutableDictionary<string, ActionSpec> _rows;

    public ActionCatalogue(IEnumerable<ActionSpec> extra)
    {
        var rows = BuiltIn.ToImmutableDictionary(r => r.Name).ToBuilder();
        foreach (var r in extra) rows[r.Name] = r;
        _rows = rows.ToImmutable();
    }

    public static ActionCatalogue Default { get; } = new([]);

    /// <summary>The catalogue a policy makes: the built-in rows with the policy's own over them (computed once per policy).</summary>
    public static ActionCatalogue For(FleetPolicy policy) =>
        policy.Actions.IsDefaultOrEmpty ? Default : Cache.GetValue(policy, p => new ActionCatalogue(p.Actions));

    public ActionSpec this[string name] => _rows.TryGetValue(name, out var row) ? row : new ActionSpec(name, $"Ran {name}", ActionClass.Disruptive);

    public bool Knows(string name) => _rows.ContainsKey(name);

    public IEnumerable<ActionSpec> Rows => _rows.Values.OrderBy(r => r.Name, StringComparer.Ordinal);
}
