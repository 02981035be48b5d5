namespace Fleet.Client;

/// <summary>Input the SDK refused before sending it: every problem, by field.</summary>
public sealed class FleetValidationException(string message, IReadOnlyDictionary<string, string[]> problems) : Exception(message)
{
    public IReadOnlyDictionary<string, string[]> Problems { get; } = problems;

    public override string ToString() => Message + Environment.NewLine +
        string.Join(Environment.NewLine, Problems.SelectMany(kv => kv.Value.Select(v => $"  {kv.Key}: {v}")));

    /// <summary>The message and every problem on one line (for a log).</summary>
    public string OneLine => Message + " " + string.Join("; ", Problems.SelectMany(kv => kv.Value.Select(v => $"{kv.Key}: {v}")));
}

/// <summary>The request named something the fleet does not know (a node never registered, a service never applied).</summary>
public sealed class FleetNotFoundException(string message) : Exception(message);

/// <summary>A guardrail refused the request; <see cref="Guardrail"/> names it and the message gives its figures.</summary>
public sealed class FleetRefusedException(string guardrail, string message) : Exception(message)
{
    public string Guardrail { get; } = guardrail;
}

/// <summary>The cluster could not be reached, or did not answer in time.</summary>
public sealed class FleetUnavailableException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// The cluster refused the caller's credential: none or an invalid one (<see cref="Unauthenticated"/>, HTTP's 401), or one
/// whose role is not enough (HTTP's 403). The message says which and what is needed.
/// </summary>
public sealed class FleetAccessDeniedException(string message, bool unauthenticated) : Exception(message)
{
    public bool Unauthenticated { get; } = unauthenticated;
}

/// <summary>
/// The cluster refused the call because the credential sent more calls than its rate allows, and the SDK's retries waited
/// as long as they may; <see cref="RetryAfter"/> says when a call will be taken again.
/// </summary>
public sealed class FleetRateLimitedException(string message, TimeSpan retryAfter) : Exception(message)
{
    public TimeSpan RetryAfter { get; } = retryAfter;
}
