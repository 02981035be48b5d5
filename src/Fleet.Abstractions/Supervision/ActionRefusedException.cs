namespace Fleet.Abstractions.Supervision;

/// <summary>
/// An operator's action was refused by a guardrail (a drain past a domain's budget, a service's minimum of healthy
/// instances, a freeze). <see cref="Guardrail"/> names the rule; the message gives its figures.
/// </summary>
[GenerateSerializer, Alias("fleet.ActionRefusedException")]
public sealed class ActionRefusedException(string guardrail, string message) : Exception(message)
{
    [Id(0)] public string Guardrail { get; } = guardrail;
}
