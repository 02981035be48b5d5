using System.Text.Json;

namespace Fleet.Silo.Tests;

/// <summary>
/// The API contract at /openapi/v1.json: Fleet's API only, every operation named, summarised, tagged, secured and with its
/// problem responses; it passes Redocly's recommended rules, and a C# client generated from it (Kiota) compiles.
/// Redocly and Kiota are installed into .tools/ by tests/run-tests.sh.
/// </summary>
public class ApiContractTests(SiloFixture f) : IClassFixture<SiloFixture>
{
    private async Task<string> DocumentAsync()
    {
        using var anonymous = f.Silo.HttpWith(null);
        var text = await anonymous.GetStringAsync("/openapi/v1.json");
        var path = Path.Combine(Repo.TempDir("openapi"), "openapi.json");
        await File.WriteAllTextAsync(path, text);
        return path;
    }

    [Fact]
    public async Task Document_DescribesFleetsApiOnly_EveryOperationNamedSummarisedSecured()
    {
        var doc = JsonDocument.Parse(await File.ReadAllTextAsync(await DocumentAsync())).RootElement;
        var paths = doc.GetProperty("paths").EnumerateObject().ToList();
        // Fleet's API only; the OTLP receiver keeps OTLP/HTTP's own path, so a collector's otlphttp exporter needs only the address.
        Assert.All(paths, p => Assert.True(p.Name.StartsWith("/api/v1", StringComparison.Ordinal) || p.Name == "/v1/metrics", p.Name));
        Assert.Contains(paths, p => p.Name == "/v1/metrics");
        Assert.Equal("bearer", doc.GetProperty("components").GetProperty("securitySchemes").GetProperty("fleetKey").GetProperty("scheme").GetString());
        var ids = new HashSet<string>();
        foreach (var path in paths)
            foreach (var op in path.Value.EnumerateObject())
            {
                var where = $"{op.Name.ToUpperInvariant()} {path.Name}";
                Assert.True(op.Value.TryGetProperty("operationId", out var id) && ids.Add(id.GetString()!), $"{where}: operationId missing or repeated");
                Assert.True(op.Value.TryGetProperty("summary", out var summary) && summary.GetString()!.Length > 5, $"{where}: no summary");
                Assert.True(op.Value.TryGetProperty("tags", out var tags) && tags.GetArrayLength() == 1, $"{where}: no tag");
                Assert.Contains("Needs ", op.Value.GetProperty("description").GetString());
                var responses = op.Value.GetProperty("responses");
                foreach (var status in new[] { "400", "401", "403", "429" })
                    Assert.True(responses.TryGetProperty(status, out _), $"{where}: no {status} response");
            }
        Assert.True(ids.Count >= 28, $"only {ids.Count} operations");
    }

    [Fact]
    public async Task Document_PassesRedoclysRecommendedRules()
    {
        var redocly = Path.Combine(Repo.Root, ".tools", "redocly", "node_modules", ".bin", "redocly");
        Assert.True(File.Exists(redocly), "Redocly's CLI is not installed in .tools/redocly; tests/run-tests.sh installs it with npm");
        var (code, stdout, stderr) = await Repo.RunAsync(redocly, ["lint", "--extends=recommended", "--max-problems=200", await DocumentAsync()], TimeSpan.FromMinutes(2));
        var output = stdout + stderr;
        Assert.True(code == 0, output);
        Assert.Contains("Your API description is valid", output);
        Assert.DoesNotContain(" warning ", output);
    }

    [Fact]
    public async Task GeneratedClient_Compiles()
    {
        var kiota = Path.Combine(Repo.Root, ".tools", "kiota", "kiota");
        Assert.True(File.Exists(kiota), "Kiota is not installed in .tools/kiota; tests/run-tests.sh installs it");
        var dir = Repo.TempDir("client");
        var env = new Dictionary<string, string> { ["KIOTA_TUTORIAL_ENABLED"] = "false", ["KIOTA_OFFLINE_ENABLED"] = "true" };
        var (code, stdout, stderr) = await Repo.RunAsync(kiota, ["generate", "-l", "CSharp", "-d", await DocumentAsync(), "-o", Path.Combine(dir, "Generated"),
            "-c", "FleetApiClient", "-n", "Fleet.Api.Client", "--exclude-backward-compatible"], TimeSpan.FromMinutes(2), env);
        Assert.True(code == 0, stdout + stderr);
        Assert.True(File.Exists(Path.Combine(dir, "Generated", "FleetApiClient.cs")));
        await File.WriteAllTextAsync(Path.Combine(dir, "Client.csproj"), """
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <TargetFramework>net10.0</TargetFramework>
                <Nullable>enable</Nullable>
                <ImplicitUsings>enable</ImplicitUsings>
                <ManagePackageVersionsCentrally>false</ManagePackageVersionsCentrally>
              </PropertyGroup>
              <ItemGroup>
                <PackageReference Include="Microsoft.Kiota.Abstractions" Version="2.1.6" />
                <PackageReference Include="Microsoft.Kiota.Http.HttpClientLibrary" Version="2.1.6" />
                <PackageReference Include="Microsoft.Kiota.Serialization.Json" Version="2.1.6" />
                <PackageReference Include="Microsoft.Kiota.Serialization.Text" Version="2.1.6" />
                <PackageReference Include="Microsoft.Kiota.Serialization.Form" Version="2.1.6" />
                <PackageReference Include="Microsoft.Kiota.Serialization.Multipart" Version="2.1.6" />
              </ItemGroup>
            </Project>
            """);
        (code, stdout, stderr) = await Repo.RunAsync("dotnet", ["build", Path.Combine(dir, "Client.csproj"), "-nologo", "-v", "quiet", "-clp:ErrorsOnly"], TimeSpan.FromMinutes(5));
        Assert.True(code == 0, stdout + stderr);
    }
}
