using System.Collections.Immutable;
using Fleet.Abstractions.Audit;
using Fleet.Core.Audit;

namespace Fleet.Core.Tests.Audit;

public class TrailChainTests
{
    private static readonly byte[] Key = System.Text.Encoding.UTF8.GetBytes("a-trail-key-of-thirty-two-bytes!");
    private static readonly DateTimeOffset T0 = DateTimeOffset.Parse("2026-12-07T10:00:00Z");

    private static List<DecisionRecord> Chain(int n, string stream = "s1", string idPrefix = "")
    {
        var list = new List<DecisionRecord>();
        var previous = TrailChain.Genesis;
        for (var i = 1; i <= n; i++)
        {
            var r = new DecisionRecord($"{idPrefix}r{i}", T0.AddSeconds(i), "node/web-01", "node/web-01", DecisionKinds.Observed, null, $"reason {i}",
                ImmutableDictionary<string, string>.Empty.Add("b", "2").Add("a", "1"), "rule", 3, null, null, null, null);
            var sealedRecord = TrailChain.Seal(Key, r, stream, i, previous);
            previous = sealedRecord.Seal!.Mac;
            list.Add(sealedRecord);
        }
        return list;
    }

    [Fact]
    public void AnUntouchedChain_Holds_WhateverOrderTheEvidenceIsIn()
    {
        var chain = Chain(5);
        Assert.True(TrailChain.VerifyAll(Key, chain, fromStart: true).Holds);
        // The same evidence built in another order (another process's dictionary) seals the same.
        var reordered = chain[2] with { Evidence = ImmutableDictionary<string, string>.Empty.Add("a", "1").Add("b", "2") };
        Assert.Equal(chain[2].Seal!.Mac, TrailChain.Mac(Key, reordered with { Seal = reordered.Seal! with { Mac = "" } }));
    }

    public static TheoryData<string, Func<DecisionRecord, DecisionRecord>> Edits() => new()
    {
        { "reason", r => r with { Reason = r.Reason + "!" } },
        { "time", r => r with { Time = r.Time.AddMilliseconds(1) } },
        { "kind", r => r with { Kind = DecisionKinds.Verified } },
        { "evidence", r => r with { Evidence = r.Evidence.SetItem("a", "9") } },
        { "guardrail", r => r with { Guardrail = "none" } },
        { "actor", r => r with { Actor = "gateway" } },
        { "subject", r => r with { Subject = "node/web-02" } },
        { "policy version", r => r with { PolicyVersion = 4 } },
        { "mac", r => r with { Seal = r.Seal! with { Mac = Convert.ToBase64String(new byte[32]) } } },
    };

    [Theory]
    [MemberData(nameof(Edits))]
    public void AnEditedRecord_IsNamed(string what, Func<DecisionRecord, DecisionRecord> edit)
    {
        var chain = Chain(5);
        chain[2] = edit(chain[2]);
        var result = TrailChain.VerifyAll(Key, chain, fromStart: true);
        Assert.False(result.Holds, what);
        Assert.Equal("r3", result.BrokenAt);
    }

    [Fact]
    public void ARemovedRecord_TheFirst_OrOneResealedWithAnotherKey_IsNamed()
    {
        var chain = Chain(5);
        var missing = chain.Where(r => r.Id != "r3").ToList();
        var result = TrailChain.VerifyAll(Key, missing, fromStart: true);
        Assert.Equal("r4", result.BrokenAt);
        Assert.Contains("#3 is missing", result.Why);

        Assert.Equal("r2", TrailChain.VerifyAll(Key, chain.Skip(1), fromStart: true).BrokenAt);
        Assert.True(TrailChain.VerifyAll(Key, chain.Skip(1), fromStart: false).Holds); // from a time: the first is taken on trust

        var forged = chain.ToList();
        forged[2] = TrailChain.Seal(System.Text.Encoding.UTF8.GetBytes("another-key-another-key-another!"), chain[2] with { Reason = "forged", Seal = null },
            "s1", 3, chain[1].Seal!.Mac);
        Assert.Equal("r3", TrailChain.VerifyAll(Key, forged, fromStart: true).BrokenAt);
    }

    [Fact]
    public void ARecordReplacedByAValidOne_OrAnUnsealedOneAdded_IsNamed()
    {
        var chain = Chain(4);
        // r2 replaced by a record sealed properly at #2 — but r3 still names the old r2's MAC.
        var replaced = chain.ToList();
        replaced[1] = TrailChain.Seal(Key, chain[1] with { Reason = "other", Seal = null }, "s1", 2, chain[0].Seal!.Mac);
        Assert.Equal("r3", TrailChain.VerifyAll(Key, replaced, fromStart: true).BrokenAt);

        var added = chain.Append(chain[0] with { Id = "x", Seal = null }).ToList();
        Assert.Equal("x", TrailChain.VerifyAll(Key, added, fromStart: true).BrokenAt);
    }

    [Fact]
    public void StreamsAreCheckedEachInItsOwnOrder()
    {
        var mixed = Chain(3, "a").Concat(Chain(3, "b", "b-")).OrderBy(r => r.Time).Reverse().ToList();
        var result = TrailChain.VerifyAll(Key, mixed, fromStart: true);
        Assert.True(result.Holds);
        Assert.Equal(2, result.Streams);
    }

    // Checkpoints: stream "a" carries, as its 4th record, a checkpoint naming the ends of "a" (#3) and "b" (#3).
    private static readonly Fleet.Core.Security.ClusterKeys Cluster = Fleet.Core.Security.ClusterKeys.Random();

    private static (List<DecisionRecord> Records, DecisionRecord Checkpoint) WithCheckpoint(Fleet.Core.Security.ClusterKeys signer)
    {
        var a = Chain(3, "a");
        var b = Chain(3, "b", "b-");
        var checkpoint = TrailCheckpoint.Make(signer.ActionSigning, signer.ActionKeyId, T0.AddMinutes(1),
            [new("a", 3, a[2].Seal!.Mac), new("b", 3, b[2].Seal!.Mac)], "silo");
        var sealedCheckpoint = TrailChain.Seal(Key, checkpoint, "a", 4, a[2].Seal!.Mac);
        return ([.. a, sealedCheckpoint, .. b], sealedCheckpoint);
    }

    [Fact]
    public void ASignedCheckpoint_Holds_AndIsCounted()
    {
        var (records, checkpoint) = WithCheckpoint(Cluster);
        var result = TrailChain.VerifyAll(Key, records, fromStart: true, checkpointKey: Cluster.ActionSigning);
        Assert.True(result.Holds, result.Why);
        Assert.Equal(1, result.Checkpoints);
        Assert.Equal(checkpoint.Time, result.LastCheckpoint);
        Assert.Equal(DecisionKinds.Checkpoint, checkpoint.Kind);
        Assert.Contains("signed with the cluster's action key", checkpoint.Reason);
    }

    [Fact]
    public void AStreamCutShortBehindACheckpoint_IsNamed_ThoughItsOwnChainStillHolds()
    {
        var (records, checkpoint) = WithCheckpoint(Cluster);
        var cut = records.Where(r => r.Seal!.Stream != "b" || r.Seal.Seq < 3).ToList();
        Assert.True(TrailChain.VerifyAll(Key, cut, fromStart: true).Holds); // the chain alone cannot tell
        var result = TrailChain.VerifyAll(Key, cut, fromStart: true, checkpointKey: Cluster.ActionSigning);
        Assert.False(result.Holds);
        Assert.Equal(checkpoint.Id, result.BrokenAt);
        Assert.Contains("of stream b, but the stream ends at #2: record #3 was removed", result.Why);

        var gone = records.Where(r => r.Seal!.Stream != "b").ToList();
        Assert.Contains("that stream is not in the store", TrailChain.VerifyAll(Key, gone, fromStart: true, checkpointKey: Cluster.ActionSigning).Why);
        // A walk since a time that starts after stream b ended does not ask for it.
        Assert.True(TrailChain.VerifyAll(Key, gone, fromStart: false, checkpointKey: Cluster.ActionSigning).Holds);
    }

    [Fact]
    public void ACheckpointSignedByAnotherKey_OrNamingAMacTheRecordDoesNotHave_IsNamed()
    {
        using var stranger = Fleet.Core.Security.ClusterKeys.Random();
        var (forged, checkpoint) = WithCheckpoint(stranger);
        var result = TrailChain.VerifyAll(Key, forged, fromStart: true, checkpointKey: Cluster.ActionSigning);
        Assert.Equal(checkpoint.Id, result.BrokenAt);
        Assert.Contains("does not verify with the cluster's action key", result.Why);

        // Stream b rewritten wholesale by someone holding the trail key but not the signing key: its chain holds, the checkpoint does not.
        var (records, signed) = WithCheckpoint(Cluster);
        var rewritten = records.Where(r => r.Seal!.Stream != "b").Concat(
            Chain(3, "b", "b-").Select((r, i) => i == 2 ? TrailChain.Seal(Key, r with { Reason = "rewritten", Seal = null }, "b", 3, r.Seal!.Previous) : r)).ToList();
        var broken = TrailChain.VerifyAll(Key, rewritten, fromStart: true, checkpointKey: Cluster.ActionSigning);
        Assert.Equal(signed.Id, broken.BrokenAt);
        Assert.Contains("with a MAC that record does not have", broken.Why);
    }

    [Fact]
    public void ACheckpointsSignature_NeverPassesForAnActions()
    {
        var (_, checkpoint) = WithCheckpoint(Cluster);
        var action = new Fleet.Abstractions.Agents.SignedAction(
            new Fleet.Abstractions.Actions.ActionRequest("k", "n", "restart-services", "r", null, "node/n"), "n", T0, Cluster.ActionKeyId, checkpoint.Evidence["signature"]);
        Assert.NotNull(Fleet.Core.Security.ActionSignatures.Check(Cluster.ActionSigning, action, "n", T0));
    }

    [Fact]
    public void RecordsOlderThanTheChain_AreCountedApart_ButOnlyAsManyAsItsStartSays()
    {
        // The store held 2 records before sealing began: the chain's first record says so.
        var records = new List<DecisionRecord>();
        var previous = TrailChain.GenesisAfter(2);
        for (var i = 1; i <= 3; i++)
        {
            var r = TrailChain.Seal(Key, Chain(1)[0] with { Id = $"g{i}", Seal = null }, "s1", i, previous);
            previous = r.Seal!.Mac;
            records.Add(r);
        }
        Assert.True(TrailChain.VerifyAll(Key, records, fromStart: true, unsealed: 2).Holds);
        var slipped = TrailChain.VerifyAll(Key, records, fromStart: true, unsealed: 3);
        Assert.False(slipped.Holds);
        Assert.Contains("3 record(s) carry no seal where the chain's start accounts for 2", slipped.Why);
        Assert.Contains("removed", TrailChain.VerifyAll(Key, records, fromStart: true, unsealed: 1).Why);
        // A chain that began on an empty store accounts for none.
        Assert.Contains("records were added to the store directly", TrailChain.VerifyAll(Key, Chain(3), fromStart: true, unsealed: 1).Why);
    }

    [Fact]
    public void ACheckpointMissingFromTheIndex_OrABodyThatIsNoRecord_BreaksTheWalk()
    {
        var (records, checkpoint) = WithCheckpoint(Cluster);
        var walk = new TrailWalk(Key, fromStart: true, Cluster.ActionSigning);
        foreach (var r in records.Where(r => r.Seal!.Stream == "a")) walk.Add(r); // no Expect: the index did not list it
        var result = walk.Result();
        Assert.Equal(checkpoint.Id, result.BrokenAt);
        Assert.Contains("the store's index of checkpoints does not list", result.Why);

        var unreadable = new TrailWalk(Key, fromStart: true, null);
        unreadable.Add(Chain(1)[0]);
        unreadable.AddUnreadable("row 2");
        Assert.Equal("row 2", unreadable.Result().BrokenAt);
    }

    [Fact]
    public void TheSealCoversTheTimeToTheTick_AndItsOffset()
    {
        var r = Chain(1)[0];
        Assert.NotEqual(r.Seal!.Mac, TrailChain.Mac(Key, r with { Time = r.Time.AddTicks(1) }));
        Assert.NotEqual(r.Seal!.Mac, TrailChain.Mac(Key, r with { Time = r.Time.ToOffset(TimeSpan.FromHours(2)) }));
    }
}
