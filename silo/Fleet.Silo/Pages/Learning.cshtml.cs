using System.Collections.Immutable;
using Fleet.Abstractions.Policy;
using Fleet.Abstractions.Supervision;
using Fleet.Client;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace Fleet.Silo.Pages;

/// <summary>The table of verified outcomes per (symptom, action), and whether the policy applies it.</summary>
public sealed class LearningModel(IFleetClient fleet) : PageModel
{
    public ImmutableArray<LearnedOutcome> Outcomes { get; private set; } = [];
    public LearningPolicy Policy { get; private set; } = LearningPolicy.Default;

    public async Task OnGetAsync()
    {
        Outcomes = [.. (await fleet.GetLearningAsync()).OrderBy(o => o.Signature, StringComparer.Ordinal).ThenBy(o => o.Action, StringComparer.Ordinal)];
        Policy = (await fleet.GetEffectivePolicyAsync()).Learning;
    }
}
