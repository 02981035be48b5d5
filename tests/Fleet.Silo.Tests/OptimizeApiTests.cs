using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace Fleet.Silo.Tests;

/// <summary>The consolidation plan through REST and the real CLI, on a silo of its own (the plan reads the whole fleet).</summary>
public class OptimizeApiTests(SiloFixture f) : IClassFixture<SiloFixture>
{
    [Fact]
    public async Task ThePlan_FreesTheEmptyNode_AndTheOneWhoseInstanceFitsElsewhere_NothingRuns()
    {
        var put = await f.Http.PutAsync("/api/v1/policy?by=ops", new StringContent("lifecycle:\n  consolidate:\n    moveWindow: 0s\n    maxNodesPerPlan: 10\n", Encoding.UTF8, "text/yaml"));
        Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        foreach (var n in new[] { "opt-1", "opt-2", "opt-3" })
        {
            Assert.Equal(HttpStatusCode.Created, (await f.RegisterAsync(n, "rack-opt")).StatusCode);
            await f.ReportAsync(n, 1);
        }
        foreach (var s in new[] { "opt-a", "opt-b" })
        {
            var applied = await f.Http.PutAsync($"/api/v1/services/{s}", new StringContent("""{"replicas": 1, "resources": {"cpuCores": 2, "memoryBytes": 1073741824}}""", Encoding.UTF8, "application/json"));
            Assert.True(applied.IsSuccessStatusCode, await applied.Content.ReadAsStringAsync());
        }
        for (var tries = 0; tries < 100; tries++)
        {
            var running = 0;
            foreach (var s in new[] { "opt-a", "opt-b" }) running += (await f.GetJsonAsync($"/api/v1/services/{s}")).GetProperty("running").GetInt32();
            if (running == 2) break;
            await Task.Delay(100);
        }
        var hosts = new List<string>();
        foreach (var s in new[] { "opt-a", "opt-b" })
            hosts.Add((await f.GetJsonAsync($"/api/v1/services/{s}")).GetProperty("instances")[0].GetProperty("node").GetString()!);
        Assert.Equal(2, hosts.Distinct().Count()); // placement spread them over the least allocated nodes
        var empty = new[] { "opt-1", "opt-2", "opt-3" }.Except(hosts).Single();

        var plan = await f.GetJsonAsync("/api/v1/optimize/plan");
        var freed = plan.GetProperty("candidates").EnumerateArray().Where(c => c.GetProperty("accepted").GetBoolean()).ToList();
        Assert.Equal(2, freed.Count);
        Assert.Equal(empty, freed[0].GetProperty("nodeId").GetString()); // the empty node first, for nothing
        var move = Assert.Single(freed[1].GetProperty("moves").EnumerateArray());
        Assert.Contains(move.GetProperty("from").GetString(), hosts);
        Assert.Contains(move.GetProperty("to").GetString(), hosts);
        Assert.NotEqual(move.GetProperty("from").GetString(), move.GetProperty("to").GetString());
        Assert.StartsWith("2 node(s) can be freed", plan.GetProperty("summary").GetString());

        // Nothing ran: the instances stay where they were.
        foreach (var (s, host) in new[] { "opt-a", "opt-b" }.Zip(hosts))
            Assert.Equal(host, (await f.GetJsonAsync($"/api/v1/services/{s}")).GetProperty("instances")[0].GetProperty("node").GetString());

        var (code, stdout, stderr) = await Repo.RunAsync("dotnet", [Repo.CliDll, .. f.Silo.CliArgs(), "optimize", "plan"], TimeSpan.FromSeconds(60));
        Assert.True(code == 0, stderr);
        Assert.Contains("2 node(s) can be freed", stdout);
        Assert.Contains(empty, stdout);

        // The capacity supervisor through REST and the CLI: provisioning is off by default, and says so.
        var capacity = await f.GetJsonAsync("/api/v1/capacity");
        Assert.Equal("provisioning is off (lifecycle.provision.enabled)", capacity.GetProperty("plan").GetString());
        Assert.Empty(capacity.GetProperty("requests").EnumerateArray());
        (code, stdout, stderr) = await Repo.RunAsync("dotnet", [Repo.CliDll, .. f.Silo.CliArgs(), "capacity"], TimeSpan.FromSeconds(60));
        Assert.True(code == 0, stderr);
        Assert.Contains("provisioning is off", stdout);
    }
}
