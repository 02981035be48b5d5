using System.Collections.Immutable;

namespace Fleet.Abstractions.Security;

/// <summary>
/// A client's call the gateway refused for its input (what HTTP answers 400): the grain's own input rules, the same the SDK
/// and the REST API apply, found these problems. Nothing was done.
/// </summary>
[GenerateSerializer, Alias("fleet.InvalidInputException")]
public sealed class InvalidInputException(string message, ImmutableDictionary<string, ImmutableArray<string>> problems) : Exception(message)
{
    /// <summary>Every problem, by the field at fault.</summary>
    [Id(0)] public ImmutableDictionary<string, ImmutableArray<string>> Problems { get; } = problems;
}

/// <summary>
/// A client's call the gateway refused because its credential sent more calls than its rate allows (what HTTP answers 429).
/// Nothing was done; <see cref="RetryAfter"/> says when a call will be taken again.
/// </summary>
[GenerateSerializer, Alias("fleet.RateLimitedException")]
public sealed class RateLimitedException(string message, TimeSpan retryAfter) : Exception(message)
{
    [Id(0)] public TimeSpan RetryAfter { get; } = retryAfter;
}

/// <summary>
/// The largest message a silo or the SDK sends or takes (Orleans' defaults are 100 MiB bodies and 10 MiB headers). The
/// largest legal batch — 10,000 reports, as the REST API takes in its 8 MiB body — is a few MiB on the wire; a listing of one
/// domain's members fits up to about 200,000 members.
/// </summary>
public static class MessageLimits
{
    public const int MaxBodyBytes = 32 << 20;
    public const int MaxHeaderBytes = 64 << 10;
}
