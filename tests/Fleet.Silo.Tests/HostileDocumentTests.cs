using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json;

namespace Fleet.Silo.Tests;

/// <summary>
/// Hostile documents against a real silo and the real CLI and agent: for every endpoint and command that reads a
/// document, one nested past any parser's stack, an alias bomb, a huge value and a huge key count. Each is refused with a
/// 4xx (or a non-zero exit) naming the limit it broke; the silo stays alive and answers within a second; nothing changes.
/// </summary>
public class HostileDocumentTests(SiloFixture f) : IClassFixture<SiloFixture>
{
    /// <summary>The documents, each with the limit it breaks (as the refusal names it).</summary>
    public static readonly (string Name, string Yaml, string Limit)[] Documents =
    [
        ("deep", "guardrails: " + new string('[', 200_000), "depth"),
        ("alias bomb", AliasBomb(), "nodes"),
        ("self alias", "guardrails:\n  ? &a [ *a ]\n  : x\n", "recursion"),
        ("huge value", "guardrails:\n  note: \"" + new string('x', 200_000) + "\"\n", "value"),
        ("huge key count", "{" + string.Join(",", Enumerable.Range(0, 28_000).Select(i => $"k{i:x}: 1")) + "}", "nodes"),
        ("huge document", "guardrails:\n" + string.Concat(Enumerable.Range(0, 40_000).Select(i => $"  # {i:D6}\n")), "size"),
    ];

    /// <summary>Nine levels of ten aliases each: about a billion values once expanded, in under a kilobyte.</summary>
    private static string AliasBomb()
    {
        var b = new StringBuilder("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for (var i = 1; i < 9; i++) b.Append($"a{i}: &a{i} [{string.Join(", ", Enumerable.Repeat($"*a{i - 1}", 10))}]\n");
        return b.ToString();
    }

    private async Task AliveWithinASecondAsync()
    {
        var clock = Stopwatch.StartNew();
        using var health = await f.Http.GetAsync("/health");
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(1), $"/health took {clock.Elapsed}");
        Assert.False(f.Silo.HasExited);
    }

    [Fact]
    public async Task EveryEndpointThatReadsADocument_RefusesEachHostileOne_NamingTheLimit_AndStaysUp()
    {
        var policyBefore = (await f.GetJsonAsync("/api/v1/policy")).GetProperty("version").GetInt32();
        var viewer = await f.HttpAsAsync("hostile-viewer", "viewer");
        foreach (var (name, yaml, limit) in Documents)
        {
            foreach (var (method, path, client) in new[] { (HttpMethod.Put, "/api/v1/policy", f.Http), (HttpMethod.Post, "/api/v1/policy/diff", viewer), (HttpMethod.Put, "/api/v1/services/hostile", f.Http) })
            {
                using var request = new HttpRequestMessage(method, path) { Content = new StringContent(yaml, Encoding.UTF8, "text/yaml") };
                using var response = await client.SendAsync(request);
                var body = await response.Content.ReadAsStringAsync();
                Assert.True((int)response.StatusCode is >= 400 and < 500, $"{name} {method} {path}: {(int)response.StatusCode} {body[..Math.Min(300, body.Length)]}");
                Assert.True(body.Contains($"limit ({limit})"), $"{name} {method} {path}: {body[..Math.Min(600, body.Length)]}");
                await AliveWithinASecondAsync();
            }
        }
        Assert.Equal(policyBefore, (await f.GetJsonAsync("/api/v1/policy")).GetProperty("version").GetInt32());
        Assert.Equal(HttpStatusCode.NotFound, (await f.Http.GetAsync("/api/v1/services/hostile")).StatusCode);
    }

    /// <summary>
    /// Every JSON body is a typed record, so nesting is refused at the first level where the shape is wrong (naming the
    /// field and the type expected) — and the reader's depth limit (32) stands behind it for any shape.
    /// </summary>
    [Fact]
    public async Task JsonBodies_NestedPastTheLimit_AreRefused_AndNothingIsTaken()
    {
        foreach (var path in new[] { "/api/v1/telemetry", "/api/v1/nodes", "/api/v1/links/probes", "/api/v1/principals/telemetry", "/api/v1/fleet/freeze" })
        {
            var deep = new string('[', 100_000) + new string(']', 100_000);
            using var response = await f.Http.PostAsync(path, new StringContent(deep, Encoding.UTF8, "application/json"));
            var body = await response.Content.ReadAsStringAsync();
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            Assert.True(body.Contains("limit (depth)") || body.Contains("expected"), $"{path}: {body}");
            await AliveWithinASecondAsync();
        }
        Assert.False((await f.GetJsonAsync("/api/v1/fleet")).GetProperty("fleet").GetProperty("frozen").GetBoolean());
    }

    [Fact]
    public async Task EveryCommandThatReadsADocument_RefusesEachHostileOne_NamingTheLimit_WithNoStackTrace()
    {
        var dir = Repo.TempDir("hostile");
        var agentDll = Path.Combine(Repo.Root, "src", "Fleet.Agent", "bin", Repo.Configuration, "net10.0", "fleet-agent.dll");
        foreach (var (name, yaml, limit) in Documents)
        {
            var file = Path.Combine(dir, name.Replace(' ', '-') + ".yaml");
            await File.WriteAllTextAsync(file, yaml);
            string[][] commands =
            [
                [Repo.CliDll, .. f.Silo.CliArgs(), "policy", "validate", file],
                [Repo.CliDll, .. f.Silo.CliArgs(), "policy", "diff", file],
                [Repo.CliDll, .. f.Silo.CliArgs(), "policy", "apply", file],
                [Repo.CliDll, .. f.Silo.CliArgs(), "services", "apply", file],
                [Repo.CliDll, "sim", "run", file],
                [agentDll, "--config", file, "--check-config"],
            ];
            foreach (var args in commands)
            {
                var (code, stdout, stderr) = await Repo.RunAsync("dotnet", args, TimeSpan.FromSeconds(60));
                var said = stdout + stderr;
                var what = $"{name}: {string.Join(' ', args.Skip(1).Where(a => !a.StartsWith("fk_")))}";
                Assert.True(code is > 0 and < 128, $"{what} exited {code}: {said}");
                Assert.True(said.Contains($"limit ({limit})"), $"{what}: {said[..Math.Min(800, said.Length)]}");
                Assert.DoesNotContain("   at ", said); // no stack trace
            }
        }
        await AliveWithinASecondAsync();
    }
}
