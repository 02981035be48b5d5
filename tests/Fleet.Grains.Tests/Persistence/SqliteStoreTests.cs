using System.Collections.Immutable;
using Fleet.Abstractions.Audit;
using Fleet.Abstractions.Nodes;
using Fleet.Grains.Audit;
using Fleet.Grains.Nodes;
using Fleet.Grains.Persistence;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Runtime;
using Orleans.Serialization;
using Orleans.Storage;

namespace Fleet.Grains.Tests.Persistence;

public sealed class SqliteStoreTests : IAsyncLifetime
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "fleet-sqlite-tests", Guid.NewGuid().ToString("N"));
    private SqliteBatchWriter _db = null!;
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly byte[] TrailKey = System.Text.Encoding.UTF8.GetBytes("test-trail-key-0123456789abcdef!");

    private string DbPath => Path.Combine(_dir, "fleet.db");

    public Task InitializeAsync()
    {
        _db = Open();
        return Task.CompletedTask;
    }

    private SqliteBatchWriter Open() => new(DbPath, SqliteGrainStorage.Schema + SqliteAuditStore.Schema);

    public async Task DisposeAsync()
    {
        await _db.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }

    private static DecisionRecord Rec(string id, int minute, string subject = "node/a", string kind = DecisionKinds.Observed) =>
        Decisions.Create(T0.AddMinutes(minute), "test", subject, kind, $"record {id}", 1, id: id);

    [Fact]
    public async Task Audit_AppendSameIdTwice_StoredOnce()
    {
        var store = new SqliteAuditStore(_db, TrailKey);
        await store.AppendAsync([Rec("x1", 0)]);
        await store.AppendAsync([Rec("x1", 0), Rec("x2", 1)]);
        var page = await store.QueryAsync(new AuditQuery());
        Assert.Equal(["x2", "x1"], page.Records.Select(r => r.Id).ToArray());
    }

    [Fact]
    public async Task Audit_Query_FiltersNewestFirstAndPages()
    {
        var store = new SqliteAuditStore(_db, TrailKey);
        await store.AppendAsync(Enumerable.Range(0, 10).Select(i => Rec($"r{i}", i, i % 2 == 0 ? "node/a" : "node/b", i < 5 ? DecisionKinds.Proposed : DecisionKinds.Denied)).ToList());

        var a = await store.QueryAsync(new AuditQuery(Subject: "node/a"));
        Assert.Equal(["r8", "r6", "r4", "r2", "r0"], a.Records.Select(r => r.Id).ToArray());
        var denied = await store.QueryAsync(new AuditQuery(Kind: DecisionKinds.Denied, Since: T0.AddMinutes(6), Until: T0.AddMinutes(9)));
        Assert.Equal(["r8", "r7", "r6"], denied.Records.Select(r => r.Id).ToArray());

        var page1 = await store.QueryAsync(new AuditQuery(Limit: 4));
        Assert.Equal(["r9", "r8", "r7", "r6"], page1.Records.Select(r => r.Id).ToArray());
        var page2 = await store.QueryAsync(new AuditQuery(Limit: 4, Before: page1.NextBefore));
        Assert.Equal(["r5", "r4", "r3", "r2"], page2.Records.Select(r => r.Id).ToArray());
        var page3 = await store.QueryAsync(new AuditQuery(Limit: 4, Before: page2.NextBefore));
        Assert.Equal(2, page3.Records.Length);
        Assert.Null(page3.NextBefore);
    }

    [Fact]
    public async Task Checkpoints_ComeOnTheInterval_OnlyWhenTheStreamMoved_Signed_AndHeldByVerify()
    {
        using var keys = Fleet.Core.Security.ClusterKeys.Random();
        var store = new SqliteAuditStore(_db, keys.TrailKey, null, keys.ActionSigning);
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(T0);
        var checkpointer = new TrailCheckpointer(store, keys, time, TimeSpan.FromMinutes(10), "silo",
            Microsoft.Extensions.Logging.Abstractions.NullLogger<TrailCheckpointer>.Instance);
        Assert.Null(await checkpointer.CheckpointAsync()); // an empty trail: nothing to vouch for

        await store.AppendAsync([Rec("c1", 0), Rec("c2", 1)]);
        var first = await checkpointer.CheckpointAsync();
        Assert.NotNull(first);
        Assert.StartsWith("2 ", first.Evidence["stream:embedded"]);
        Assert.Equal(keys.ActionKeyId, first.Evidence["key"]);
        Assert.Null(await checkpointer.CheckpointAsync()); // nothing new since: no checkpoint of a checkpoint

        // On its timer: nothing while idle, one after the stream moved.
        await checkpointer.StartAsync(CancellationToken.None);
        async Task<int> CountAsync() => (await store.QueryAsync(new AuditQuery(Kind: DecisionKinds.Checkpoint))).Records.Length;
        var looks = checkpointer.Looks;
        time.Advance(TimeSpan.FromMinutes(10));
        for (var i = 0; i < 100 && checkpointer.Looks == looks; i++) await Task.Delay(50);
        Assert.Equal(looks + 1, checkpointer.Looks); // it looked, and found nothing new
        Assert.Equal(1, await CountAsync());
        await store.AppendAsync([Rec("c3", 2)]);
        time.Advance(TimeSpan.FromMinutes(10));
        for (var i = 0; i < 100 && await CountAsync() < 2; i++) await Task.Delay(50);
        await checkpointer.StopAsync(CancellationToken.None);
        Assert.Equal(2, await CountAsync());

        var verified = await store.VerifyAsync(null);
        Assert.True(verified.Holds, verified.Why);
        Assert.Equal(2, verified.Checkpoints);
        Assert.Equal(T0.AddMinutes(20), verified.LastCheckpoint);
    }

    [Fact]
    public async Task Audit_ARowSlippedInBeforeTheChain_OrABodyThatIsNoRecord_IsNamed()
    {
        var store = new SqliteAuditStore(_db, TrailKey);
        await store.AppendAsync([Rec("s1", 0), Rec("s2", 1)]);
        Assert.True((await store.VerifyAsync(null)).Holds);
        async Task ExecAsync(string sql)
        {
            await using var c = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={DbPath};Pooling=false");
            await c.OpenAsync();
            await using (var wait = c.CreateCommand())
            {
                wait.CommandText = "PRAGMA busy_timeout=5000";
                await wait.ExecuteNonQueryAsync();
            }
            await using var cmd = c.CreateCommand();
            cmd.CommandText = sql;
            await cmd.ExecuteNonQueryAsync();
        }
        // An unsealed row numbered before the chain's first: it would pass for a record written before sealing began.
        await ExecAsync("INSERT INTO audit(seq, id, time, subject, kind, body) SELECT -1, 'planted', time, subject, kind, replace(body, '\"id\":\"s1\"', '\"id\":\"planted\"') FROM audit WHERE id = 's1'");
        await ExecAsync("UPDATE audit SET body = json_remove(body, '$.seal') WHERE id = 'planted'");
        var planted = await store.VerifyAsync(null);
        Assert.False(planted.Holds);
        Assert.Contains("records were added to the store directly", planted.Why);
        await ExecAsync("DELETE FROM audit WHERE id = 'planted'");
        Assert.True((await store.VerifyAsync(null)).Holds);

        // (The store's index over the body refuses text that is not JSON at all; JSON that is no record gets through.)
        await Assert.ThrowsAsync<Microsoft.Data.Sqlite.SqliteException>(() => ExecAsync("UPDATE audit SET body = 'not a record' WHERE id = 's2'"));
        await ExecAsync("UPDATE audit SET body = '[\"not a record\"]' WHERE id = 's2'");
        var unreadable = await store.VerifyAsync(null);
        Assert.False(unreadable.Holds, unreadable.ToString());
        Assert.Equal("s2", unreadable.BrokenAt);
        Assert.Contains("cannot be read", unreadable.Why);
        // And a writer that starts now (nothing remembered) still finds the chain's end past a body it cannot read.
        await new SqliteAuditStore(_db, TrailKey).AppendAsync([Rec("s3", 2)]);
        Assert.Single((await store.QueryAsync(new AuditQuery(Subject: "node/a", Limit: 1))).Records, r => r.Id == "s3");
    }

    [Fact]
    public async Task Audit_SurvivesReopen_WithEvidence()
    {
        var store = new SqliteAuditStore(_db, TrailKey);
        var rec = Decisions.Create(T0, "node/a", "node/a", DecisionKinds.Denied, "Denied reboot", 3,
            evidence: new Dictionary<string, string> { ["share"] = "40%" }, guardrail: "storm-brake", id: "keep");
        await store.AppendAsync([rec]);
        await _db.DisposeAsync();
        _db = Open();
        var back = Assert.Single((await new SqliteAuditStore(_db, TrailKey).QueryAsync(new AuditQuery())).Records);
        Assert.Equal("storm-brake", back.Guardrail);
        Assert.Equal("40%", back.Evidence["share"]);
        Assert.Equal(3, back.PolicyVersion);
    }

    [Fact]
    public async Task GrainStorage_RoundTripsImmutableState_AndRefusesStaleEtag()
    {
        var services = new ServiceCollection().AddSerializer(b => b.AddAssembly(typeof(NodeState).Assembly)).BuildServiceProvider();
        var storage = new SqliteGrainStorage(_db, services.GetRequiredService<Serializer>());
        var id = GrainId.Create("node", "n1");
        var state = new GrainState<NodeState>(new NodeState() with
        {
            Registration = new NodeRegistration("n1", "rack", new NodeCapacity(2, 100, 100), ImmutableDictionary<string, string>.Empty.Add("k", "v")),
            Admin = AdminState.Cordoned,
        });
        await storage.WriteStateAsync("node", id, state);
        var firstEtag = state.ETag;

        var read = new GrainState<NodeState>();
        await storage.ReadStateAsync("node", id, read);
        Assert.True(read.RecordExists);
        Assert.Equal(AdminState.Cordoned, read.State!.Admin);
        Assert.Equal("v", read.State.Registration!.Labels["k"]);

        await storage.WriteStateAsync("node", id, state);
        var stale = new GrainState<NodeState>(state.State) { ETag = firstEtag };
        await Assert.ThrowsAsync<InconsistentStateException>(() => storage.WriteStateAsync("node", id, stale));

        await storage.ClearStateAsync("node", id, state);
        var gone = new GrainState<NodeState>();
        await storage.ReadStateAsync("node", id, gone);
        Assert.False(gone.RecordExists);
    }
}
