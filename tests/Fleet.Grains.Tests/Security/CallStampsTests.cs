using Fleet.Core.Security;
using Fleet.Abstractions.Supervision;
using Fleet.Grains.Security;
using Microsoft.Extensions.Time.Testing;

namespace Fleet.Grains.Tests.Security;

public class CallStampsTests
{
    private static readonly System.Reflection.MethodInfo Freeze = typeof(IFleetSupervisorGrain).GetMethod(nameof(IFleetSupervisorGrain.FreezeAsync))!;
    private static readonly System.Reflection.MethodInfo Unfreeze = typeof(IFleetSupervisorGrain).GetMethod(nameof(IFleetSupervisorGrain.UnfreezeAsync))!;
    private static readonly GrainId Supervisor = GrainId.Create("fleetsupervisor", "default");
    private static readonly GrainId Node = GrainId.Create("node", "web-01");
    private const string Secret = "a-cluster-secret-of-at-least-32-characters";

    [Fact]
    public void Verify_TheSameClustersStampForTheSameCall_Holds_ForAnyKeyOfTheSameType()
    {
        var time = new FakeTimeProvider(DateTimeOffset.Parse("2026-12-07T10:00:30Z"));
        var sender = new CallStamps(new ClusterKeys(Secret), time);
        var receiver = new CallStamps(new ClusterKeys(Secret), time);
        var stamp = sender.Make(Supervisor, Freeze);
        Assert.True(receiver.Verify(stamp, Supervisor, Freeze));
        Assert.True(receiver.Verify(stamp, GrainId.Create("fleetsupervisor", "other"), Freeze));
    }

    [Fact]
    public void Verify_AnotherMethodTypeOrCluster_OrNoStamp_Fails()
    {
        var time = new FakeTimeProvider(DateTimeOffset.Parse("2026-12-07T10:00:30Z"));
        var stamps = new CallStamps(new ClusterKeys(Secret), time);
        var stamp = stamps.Make(Supervisor, Freeze);
        Assert.False(stamps.Verify(stamp, Supervisor, Unfreeze));
        Assert.False(stamps.Verify(stamp, Node, Freeze));
        Assert.False(new CallStamps(ClusterKeys.Random(), time).Verify(stamp, Supervisor, Freeze));
        Assert.False(stamps.Verify(null, Supervisor, Freeze));
        Assert.False(stamps.Verify("", Supervisor, Freeze));
        Assert.False(stamps.Verify("hosted-silo", Supervisor, Freeze));
        Assert.False(stamps.Verify(stamp[..^1] + (stamp[^1] == 'A' ? 'B' : 'A'), Supervisor, Freeze));
        Assert.False(stamps.Verify("-1:" + stamp.Split(':')[1], Supervisor, Freeze));
        Assert.False(stamps.Verify(new string('9', 10_000), Supervisor, Freeze));
    }

    [Theory]
    [InlineData(-5, true)]
    [InlineData(5, true)]
    [InlineData(-6, false)]
    [InlineData(6, false)]
    public void Verify_AStampFromAnotherMinute_HoldsWithinTheSkewOnly(int minutes, bool holds)
    {
        var senderClock = new FakeTimeProvider(DateTimeOffset.Parse("2026-12-07T10:00:30Z"));
        var receiverClock = new FakeTimeProvider(senderClock.GetUtcNow() + TimeSpan.FromMinutes(minutes));
        var stamp = new CallStamps(new ClusterKeys(Secret), senderClock).Make(Supervisor, Freeze);
        Assert.Equal(holds, new CallStamps(new ClusterKeys(Secret), receiverClock).Verify(stamp, Supervisor, Freeze));
    }

    [Fact]
    public void ClusterKeys_TheSameSecret_MakesTheSameSigningKey_AnotherSecretAnother()
    {
        using var a = new ClusterKeys(Secret);
        using var b = new ClusterKeys(Secret);
        using var c = ClusterKeys.Random();
        Assert.Equal(a.ActionPublicKeyPem, b.ActionPublicKeyPem);
        Assert.NotEqual(a.ActionPublicKeyPem, c.ActionPublicKeyPem);
        Assert.Throws<ArgumentException>(() => new ClusterKeys("too short"));
    }
}
