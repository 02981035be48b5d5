namespace Fleet.Abstractions.Nodes;

/// <summary>An operator command named a node that was never registered.</summary>
[GenerateSerializer, Alias("fleet.NodeNotRegisteredException")]
public sealed class NodeNotRegisteredException(string nodeId) : Exception($"Node '{nodeId}' is not registered.")
{
    [Id(0)] public string NodeId { get; } = nodeId;
}
