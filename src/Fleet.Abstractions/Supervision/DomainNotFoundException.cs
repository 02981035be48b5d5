namespace Fleet.Abstractions.Supervision;

/// <summary>An operator command named a failure domain no node has registered into.</summary>
[GenerateSerializer, Alias("fleet.DomainNotFoundException")]
public sealed class DomainNotFoundException(string domain) : Exception($"Domain '{domain}' has no registered node.")
{
    [Id(0)] public string Domain { get; } = domain;
}
