using System.Collections.Immutable;
using Fleet.Abstractions.Lifecycle;
using Fleet.Abstractions.Nodes;
using Fleet.Core.Lifecycle;

namespace Fleet.Core.Tests.Lifecycle;

/// <summary>The maintenance train's step and its room check, as tables.</summary>
public class MaintenanceTrainTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 12, 0, 0, TimeSpan.Zero);
    private const long Gi = 1L << 30;

    private static TrainRun Run(int batch = 1, string[]? started = null, string[]? skipped = null) =>
        new("rack-b", "erin", "refresh", T0, batch) { Nodes = 3, Started = [.. started ?? []], Skipped = [.. skipped ?? []] };

    private static TrainCar C(string id, AdminState admin = AdminState.None) => new(id, admin);

    public static TheoryData<string, int, string[], string[], (string, AdminState)[], string[], string[], bool, string> Steps => new()
    {
        // what, batch, started, skipped, members, → cordon, retire, done, progress starts with
        { "a fresh train cordons every member and asks the first", 1, [], [], [("b1", AdminState.None), ("b2", AdminState.None), ("b3", AdminState.None)],
            ["b1", "b2", "b3"], ["b1"], false, "0 of 3 node(s) retired, 0 draining, 3 to go" },
        { "one draining of a batch of one: nothing more is asked", 1, ["b1"], [], [("b1", AdminState.Draining), ("b2", AdminState.Cordoned), ("b3", AdminState.Cordoned)],
            [], [], false, "0 of 3 node(s) retired, 1 draining, 2 to go" },
        { "a batch of two keeps two draining", 2, ["b1"], [], [("b1", AdminState.Draining), ("b2", AdminState.Cordoned), ("b3", AdminState.Cordoned)],
            [], ["b2"], false, "0 of 3 node(s) retired, 1 draining, 2 to go" },
        { "a retired node leaves the inventory; the next is asked", 1, ["b1"], [], [("b2", AdminState.Cordoned), ("b3", AdminState.Cordoned)],
            [], ["b2"], false, "1 of 3 node(s) retired, 0 draining, 2 to go" },
        { "a node a person brought back is left be", 1, ["b1", "b2"], [], [("b1", AdminState.None), ("b3", AdminState.Cordoned)],
            [], ["b3"], false, "1 of 3 node(s) retired, 0 draining, 1 to go, 1 left in service" },
        { "a node uncordoned before it was asked is cordoned again", 1, [], [], [("b1", AdminState.None), ("b2", AdminState.Cordoned)],
            ["b1"], ["b1"], false, "0 of 3 node(s) retired" },
        { "a person's own drain is taken over", 1, [], [], [("b1", AdminState.Draining)],
            [], ["b1"], false, "0 of 3 node(s) retired, 0 draining, 1 to go" },
        { "every member retired: arrived", 1, ["b1", "b2", "b3"], [], [("b3", AdminState.Decommissioned)],
            [], [], true, "arrived: 3 node(s) retired" },
        { "arrived with one left in service", 1, ["b1", "b2"], ["b1"], [("b1", AdminState.None)],
            [], [], true, "arrived: 1 node(s) retired, 1 brought back into service by a person (b1)" },
    };

    [Theory, MemberData(nameof(Steps))]
    public void Next(string what, int batch, string[] started, string[] skipped, (string, AdminState)[] members, string[] cordon, string[] retire, bool done, string progress)
    {
        var step = MaintenanceTrain.Next(Run(batch, started, skipped), [.. members.Select(m => C(m.Item1, m.Item2))]);
        Assert.True(cordon.SequenceEqual(step.Cordon), $"{what}: cordon {string.Join(",", step.Cordon)}");
        Assert.True(retire.SequenceEqual(step.Retire), $"{what}: retire {string.Join(",", step.Retire)}");
        Assert.Equal(done, step.Done);
        Assert.StartsWith(progress, step.Run.Progress);
    }

    private static PlannedInstance I(string service, string id, double cpu = 1, long memory = Gi) => new(service, id, cpu, memory, T0);
    private static PlannedNode N(string id, string domain, bool takesWork = true, double cpu = 8, params PlannedInstance[] instances) => new(id, domain, cpu, 32 * Gi, takesWork, [.. instances]);

    [Fact]
    public void Room_TheRestHoldsTheDomain_OrSaysWhatDoesNotFit()
    {
        var fits = new[] { N("b1", "rack-b", true, 8, I("db", "db-2", 4)), N("a1", "rack-a", true, 8, I("db", "db-1", 2)), N("c1", "rack-c", true, 8) };
        Assert.Null(MaintenanceTrain.Room("rack-b", fits)); // db-2 cannot go beside db-1, but c1 has room

        var full = new[] { N("b1", "rack-b", true, 8, I("db", "db-2", 4), I("web", "w-2", 4)), N("a1", "rack-a", true, 8, I("db", "db-1", 2)), N("c1", "rack-c", true, 3) };
        var why = MaintenanceTrain.Room("rack-b", full);
        Assert.Equal("the 2 node(s) outside rack-b that take work have no room for 1 of its 2 instance(s) (first: db-2 of db, 4 cores, 1 GiB)", why);

        var cordoned = new[] { N("b1", "rack-b", true, 8, I("db", "db-2", 1)), N("a1", "rack-a", false, 8) };
        Assert.NotNull(MaintenanceTrain.Room("rack-b", cordoned)); // a node that takes no work is no room

        var gpu = ImmutableDictionary<string, string>.Empty.Add("gpu", "a100");
        var labelled = new[] { N("b1", "rack-b", true, 8, I("train", "t-1") with { Needs = gpu }), N("a1", "rack-a", true, 8) };
        Assert.NotNull(MaintenanceTrain.Room("rack-b", labelled));
        Assert.Null(MaintenanceTrain.Room("rack-b", [labelled[0], labelled[1] with { Labels = gpu }]));

        Assert.Null(MaintenanceTrain.Room("rack-b", [N("b1", "rack-b"), N("a1", "rack-a", false)])); // an empty domain always fits
    }
}
