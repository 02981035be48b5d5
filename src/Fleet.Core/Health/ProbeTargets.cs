using Fleet.Abstractions.Nodes;
using Fleet.Abstractions.Policy;
using Fleet.Core.Services;

namespace Fleet.Core.Health;

/// <summary>Which direct probe confirms a silent node: its registration's own, or the policy's first default matching its labels.</summary>
public static class ProbeTargets
{
    public static NodeProbe? For(NodeRegistration node, ProbePolicy policy)
    {
        if (node.Probe is { } own) return own with { Timeout = own.Timeout ?? policy.Timeout };
        if (node.Address is not { } host || policy.Defaults.IsDefaultOrEmpty) return null;
        var match = policy.Defaults.FirstOrDefault(d => Placement.MissingLabel(node.Labels, d.Labels) is null);
        if (match is null) return null;
        var address = match.Kind == ProbeKind.Tcp ? $"{host}:{match.Port}" : $"http://{host}:{match.Port}{match.Path ?? "/"}";
        return new NodeProbe(match.Kind, address, match.Timeout ?? policy.Timeout);
    }
}
