using Fleet.Abstractions.Supervision;
using Fleet.Core.Remediation;

namespace Fleet.Grains.Supervision;

/// <summary>
/// The effects of a case that every owner carries out alike (a node's case, an instance's): giving a lease back after the
/// records so far are written, withdrawing an approval no longer needed, and counting a rung's verified outcome. What is
/// the owner's own — writing its state before an action starts, an admin effect, a forecast — stays with the owner.
/// </summary>
public static class CaseEffectRunner
{
    /// <summary>Carries out <paramref name="effect"/> when it is one of the shared ones; false when the owner must.</summary>
    public static async Task<bool> RunSharedAsync(this IGrainFactory grains, CaseEffect effect, DateTimeOffset now, Func<Task> flushRecords)
    {
        switch (effect)
        {
            case CaseEffect.ReleaseLease release:
                await flushRecords(); // the trail reads in order: the verdict, then the release it caused
                await grains.ReleaseLeaseAsync(release.LeaseId, release.Scopes, release.Outcome);
                return true;
            case CaseEffect.WithdrawApproval withdraw:
                await grains.GetGrain<IOversightGrain>(FleetNames.Default).WithdrawAsync(withdraw.RequestId, withdraw.Why);
                return true;
            case CaseEffect.Learned learned:
                await grains.GetGrain<ILearningGrain>(FleetNames.Default).RecordAsync(learned.Signature, learned.Action, learned.Healed, now);
                return true;
            default:
                return false;
        }
    }
}
