using CsCheck;
using Fleet.Abstractions.Audit;
using Fleet.Abstractions.Links;

namespace Fleet.Grains.Tests.Links;

/// <summary>
/// The link cluster with the network's storm brake out of reach: this property is about capacity, and the grids of earlier
/// runs, no longer probed, go stale together — counted as links losing their probes, they engaged the brake in a later run
/// now and then, which held that run's reroutes and left the property hardly exercised. The brake has tests of its own.
/// </summary>
public class LinkCapacityCluster : LinkCluster
{
    protected override string PolicyYaml => base.PolicyYaml + """

          storm: {minLinks: 1000000}
        """;
}

/// <summary>Concurrent reroutes of hundreds of flows never put more on a link than it carries, whatever fails.</summary>
public class LinkCapacityTests(LinkCapacityCluster f) : IClassFixture<LinkCapacityCluster>
{
    [Fact]
    public async Task ConcurrentReroutesOfHundredsOfFlows_RandomFailures_NeverOversubscribeALink()
    {
        var run = 0;
        var moves = 0;
        var notes = new System.Collections.Concurrent.ConcurrentBag<string>();
        // Per run: the flows' ends and demands, then two rounds of up to three links failing at once (cut or degraded).
        var flows = Gen.Select(Gen.Int[0, 8], Gen.Int[0, 8], Gen.Int[2, 12]).Array[300]; // ~267 with distinct ends
        var failures = Gen.Select(Gen.Int[0, 11], Gen.Bool).Array[1, 3].Array[2];
        await Gen.Select(flows, failures).SampleAsync(async (demands, rounds) =>
        {
            var r = Interlocked.Increment(ref run);
            string Site(int i) => $"g{r}s{i}";
            // A 3×3 grid of sites: 12 links of 200 Mbit/s each way.
            var links = new List<(string Id, double Capacity, double Latency)>();
            for (var i = 0; i < 9; i++)
            {
                if (i % 3 < 2) links.Add((Id(Site(i), Site(i + 1)), 200, 5 + i));
                if (i < 6) links.Add((Id(Site(i), Site(i + 3)), 200, 7 + i));
            }
            await f.DefineAsync($"grid-{r}", [.. links]);
            var placed = 0;
            await Task.WhenAll(demands.Select(async (d, i) =>
            {
                var (from, to, mbps) = d;
                if (from == to) return;
                var s = await f.AddFlowAsync($"g{r}f{i}", Site(from), Site(to), mbps, priority: i % 3);
                if (s.State == FlowState.Active) Interlocked.Increment(ref placed);
            }));
            await AssertWithinCapacityAsync(links, "after placement");
            Assert.True(placed > 0, "some flows were placed");

            foreach (var round in rounds)
            {
                var failing = round.Select(x => links[x.Item1].Id).Distinct().ToList();
                // While the flows move, every link's holdings are read again and again: never over capacity mid-move either.
                using var moving = new CancellationTokenSource();
                var samples = 0;
                var watcher = Task.Run(async () =>
                {
                    while (!moving.IsCancellationRequested)
                    {
                        await AssertWithinCapacityAsync(links, $"while the flows of {string.Join(", ", failing)} move");
                        samples++;
                    }
                });
                // Every failure of the round at once: their flows move concurrently.
                for (var probe = 0; probe < 2; probe++)
                    await Task.WhenAll(round.DistinctBy(x => x.Item1).Select(x => f.ProbeAsync([links[x.Item1].Id], up: x.Item2, loss: 30)));
                await FleetTestCluster.EventuallyAsync(async () =>
                {
                    foreach (var id in failing)
                    {
                        var status = (await f.Link(id).GetStatusAsync())!;
                        if (status.State == LinkState.Up) continue;
                        if (status.Flows.Length > 0 && !(await f.TrailAsync($"link/{id}")).Any(x => x.Kind is DecisionKinds.Executed or DecisionKinds.Denied)) return false;
                    }
                    return true;
                }, "every failed link's flows were handled", 30_000);
                moving.Cancel();
                await watcher;
                Assert.True(samples > 0, "the links were read while the flows moved");
                await AssertWithinCapacityAsync(links, $"after {string.Join(", ", failing)} failed");
                foreach (var id in failing) notes.Add($"run {r} placed {placed}: {id} {string.Join("; ", (await f.TrailAsync($"link/{id}")).Where(x => x.Kind is DecisionKinds.Executed or DecisionKinds.Denied or DecisionKinds.HealthChanged).Select(x => x.Reason[..Math.Min(140, x.Reason.Length)]))}");
                // The failed links come back for the next round, past the storm window.
                for (var probe = 0; probe < 2; probe++) await f.ProbeAsync(failing, up: true);
                f.Time.Advance(TimeSpan.FromSeconds(15));
            }
            f.Time.Advance(TimeSpan.FromMinutes(1)); // past the storm window, so runs do not add up
            Interlocked.Add(ref moves, f.Actuator.History.Count(a => a.Action == Abstractions.Actions.ActionNames.ShiftFlow
                && a.Parameters["flow"].StartsWith($"g{r}f", StringComparison.Ordinal) && a.Parameters["fromPath"] != ""));
        }, iter: 8, threads: 1); // 8 random runs: 4 drew too few moves now and then (41 once) for the property to be exercised
        Assert.True(moves >= 50, $"only {moves} flows were moved by the failures: the property was hardly exercised; {string.Join(" | ", notes.Take(6))}");
    }

    private static string Id(string a, string b) => string.CompareOrdinal(a, b) < 0 ? $"{a}~{b}" : $"{b}~{a}";

    private async Task AssertWithinCapacityAsync(List<(string Id, double Capacity, double Latency)> links, string when)
    {
        foreach (var (id, capacity, _) in links)
        {
            var s = (await f.Link(id).GetStatusAsync())!;
            Assert.True(s.ReservedAB <= capacity + 1e-9 && s.ReservedBA <= capacity + 1e-9,
                $"{when}: link {id} holds {s.ReservedAB} and {s.ReservedBA} Mbit/s of {capacity}: oversubscribed");
        }
    }
}
