using Fleet.Abstractions.Actions;
using Fleet.Grains.Actuators;
using Microsoft.Extensions.DependencyInjection;

namespace Fleet.Grains.Tests.Actuators;

public sealed class EffectivelyOnceCluster : FleetTestCluster;

/// <summary>
/// At-least-once delivery made effectively once: an action whose ledger shows an attempt that never completed (its silo
/// died between the actuator's answer and the ledger's write) is resolved from the far end's own record, not sent again.
/// </summary>
public class EffectivelyOnceTests(EffectivelyOnceCluster f) : IClassFixture<EffectivelyOnceCluster>
{
    private ActionExecutor Executor => f.Cluster.Silos[0].ServiceProvider.GetRequiredService<ActionExecutor>();

    [Fact]
    public async Task AnActionBegunAndCarriedOut_ButNeverRecorded_IsResolvedFromTheActuator_NotSentAgain()
    {
        var request = new ActionRequest("once-1", "once-n1", ActionNames.RestartServices, "test", null, "node/once-n1");
        var calls = 0;
        f.Actuator.Behaviour = r => { if (r.IdempotencyKey.StartsWith("once-")) Interlocked.Increment(ref calls); return null; };
        try
        {
            // The far end carried it out; the silo that sent it died before its ledger heard the answer.
            await f.Actuator.ExecuteAsync(request, CancellationToken.None);
            await f.Client.GetGrain<IActionLedgerGrain>(request.IdempotencyKey).BeginAsync("a silo that died");
            var outcome = await Executor.RunAsync(request);
            Assert.True(outcome.Succeeded);
            Assert.Contains("the simulated fleet's own record of the key", outcome.Detail);
            Assert.Equal(1, calls); // only the first send; the recovery asked instead of sending
            Assert.Equal(outcome, (await f.Client.GetGrain<IActionLedgerGrain>(request.IdempotencyKey).GetAsync()).Outcome);

            // Begun but never carried out: the far end never saw the key, so it is sent (once).
            var lost = request with { IdempotencyKey = "once-2" };
            await f.Client.GetGrain<IActionLedgerGrain>(lost.IdempotencyKey).BeginAsync("a silo that died");
            Assert.True((await Executor.RunAsync(lost)).Succeeded);
            Assert.Equal(2, calls);
            Assert.Contains(f.Actuator.History, r => r.IdempotencyKey == "once-2");
        }
        finally
        {
            f.Actuator.Behaviour = null;
        }
    }
}
