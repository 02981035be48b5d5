namespace Fleet.Client;

/// <summary>Input the SDK refused before sending it: every problem, by field.</summary>
public sealed class FleetValidationException(string message, IReadOnlyDictionary<string, string[]> problems) : Exception(message)
{
    public IReadOnlyDictionary<string, string[]> Problems { get; } = problems;

    public override string ToString() => Message + Environment.NewLine +
        string.Join(Environment.NewLine, Problems.SelectMany(kv => kv.Value.Select(v => $"  {kv.Key}: {v}")));
}

/// <summary>The cluster could not be reached, or did not answer in time.</summary>
public sealed class FleetUnavailableException(string message, Exception? inner = null) : Exception(message, inner);
