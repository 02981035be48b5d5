using Fleet.Abstractions.Security;
using System.Collections.Immutable;

namespace Fleet.Abstractions.Policy;

/// <summary>One problem found in a policy document, named by its path in the document.</summary>
[GenerateSerializer, Immutable, Alias("fleet.PolicyProblem")]
public sealed record PolicyProblem(
    [property: Id(0)] string Path,
    [property: Id(1)] string Message,
    [property: Id(2)] int? Line = null)
{
    public override string ToString() => Line is { } l ? $"{Path} (line {l}): {Message}" : $"{Path}: {Message}";
}

[GenerateSerializer, Immutable, Alias("fleet.PolicyApplyResult")]
public sealed record PolicyApplyResult(
    [property: Id(0)] bool Applied,
    [property: Id(1)] int Version,
    [property: Id(2)] ImmutableArray<PolicyProblem> Problems);

[GenerateSerializer, Immutable, Alias("fleet.PolicyVersionInfo")]
public sealed record PolicyVersionInfo(
    [property: Id(0)] int Version,
    [property: Id(1)] DateTimeOffset AppliedAt,
    [property: Id(2)] string AppliedBy,
    [property: Id(3)] string Document);

/// <summary>The fleet's policy, versioned. Keyed by fleet name.</summary>
[Alias("fleet.IPolicyGrain")]
public interface IPolicyGrain : IGrainWithStringKey
{
    /// <summary>The current policy. Version 0 is the built-in default.</summary>
    [ReadOnly, Alias("GetCurrent"), RequiresRole(FleetRole.Viewer)]
    Task<FleetPolicy> GetCurrentAsync();

    [ReadOnly, Alias("GetCurrentDocument"), RequiresRole(FleetRole.Viewer)]
    Task<PolicyVersionInfo> GetCurrentDocumentAsync();

    /// <summary>Validates and applies a YAML document; nothing is applied when any problem is found.</summary>
    [Alias("Apply"), RequiresRole(FleetRole.Admin)]
    Task<PolicyApplyResult> ApplyAsync(string yaml, string appliedBy);

    [ReadOnly, Alias("GetHistory"), RequiresRole(FleetRole.Viewer)]
    Task<ImmutableArray<PolicyVersionInfo>> GetHistoryAsync();

    /// <summary>Applies an earlier version's document again, as a new version (0: the built-in default); refused when the history no longer holds it.</summary>
    [Alias("Rollback"), RequiresRole(FleetRole.Admin)]
    Task<PolicyApplyResult> RollbackAsync(int version, string by);
}
