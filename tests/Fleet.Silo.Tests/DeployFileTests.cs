using System.Reflection;
using System.Text.RegularExpressions;
using YamlDotNet.RepresentationModel;

namespace Fleet.Silo.Tests;

/// <summary>
/// The deploy files at lint level (no container engine or cluster runs here): they parse; every Fleet setting they name
/// is an option of the built silo; other variables are known ones; ports, probes, images and RBAC agree with the code.
/// </summary>
public partial class DeployFileTests
{
    private static string Deploy(params string[] parts) => Path.Combine([Repo.Root, "deploy", .. parts]);

    /// <summary>Variables the files set that are not Fleet options: the pod's identity (Orleans' Kubernetes hosting), ASP.NET's address, the runtime's GC, the files' own.</summary>
    private static readonly HashSet<string> KnownVariables =
        ["POD_NAME", "POD_NAMESPACE", "POD_IP", "ORLEANS_SERVICE_ID", "ORLEANS_CLUSTER_ID", "ASPNETCORE_URLS", "DOTNET_gcServer", "REDIS_PASSWORD"];

    private static readonly int[] SiloPorts = [5080, 11111, 30000];

    private static List<YamlMappingNode> Documents(string path)
    {
        var stream = new YamlStream();
        using (var reader = new StreamReader(path)) stream.Load(reader);
        return [.. stream.Documents.Select(d => Assert.IsType<YamlMappingNode>(d.RootNode))];
    }

    private static YamlNode? Get(YamlNode? node, params string[] path)
    {
        foreach (var key in path)
            node = node is YamlMappingNode m && m.Children.TryGetValue(new YamlScalarNode(key), out var v) ? v : null;
        return node;
    }

    private static IEnumerable<YamlNode> Items(YamlNode? node) => node is YamlSequenceNode s ? s.Children : [];

    private static string? Text(YamlNode? node) => (node as YamlScalarNode)?.Value;

    /// <summary>
    /// The silo's options types, read from the built silo as metadata only (a MetadataLoadContext: nothing is loaded into
    /// this process, where Orleans' client would otherwise find the silo's assemblies and scan them).
    /// </summary>
    private static (Type Fleet, Type Actuator) OptionsTypes()
    {
        var dir = Path.GetDirectoryName(Repo.SiloDll)!;
        var runtime = Path.GetDirectoryName(typeof(object).Assembly.Location)!;
        var aspnetRoot = Path.GetFullPath(Path.Combine(runtime, "..", "..", "Microsoft.AspNetCore.App"));
        var aspnet = Directory.Exists(aspnetRoot) ? Directory.GetDirectories(aspnetRoot).Where(d => Path.GetFileName(d).StartsWith("10.")).Order().LastOrDefault() : null;
        var paths = Directory.GetFiles(dir, "*.dll").Concat(Directory.GetFiles(runtime, "*.dll"))
            .Concat(aspnet is null ? [] : Directory.GetFiles(aspnet, "*.dll"));
        var context = new MetadataLoadContext(new PathAssemblyResolver(paths.GroupBy(Path.GetFileName).Select(g => g.First())));
        var silo = context.LoadFromAssemblyPath(Repo.SiloDll);
        var grains = context.LoadFromAssemblyPath(Path.Combine(dir, "Fleet.Grains.dll"));
        return (silo.GetType("Fleet.Silo.Hosting.FleetOptions", true)!, grains.GetType("Fleet.Grains.Actuators.ActuatorOptions", true)!);
    }

    /// <summary>Whether <c>Fleet__A__B</c> (or <c>Fleet:A:B</c>) names a settable option.</summary>
    private static bool IsOption(string name, (Type Fleet, Type Actuator) types)
    {
        var parts = name.Split(["__", ":"], StringSplitOptions.None);
        if (parts[0] != "Fleet" || parts.Length < 2) return false;
        var type = types.Fleet;
        var rest = parts.Skip(1).ToArray();
        if (rest[0] == "Actuator") (type, rest) = (types.Actuator, rest.Skip(1).ToArray());
        if (rest.Length == 1 && rest[0] == "Demo") return true; // the short switch
        foreach (var part in rest)
        {
            var property = type.GetProperty(part, BindingFlags.Public | BindingFlags.Instance | BindingFlags.IgnoreCase);
            if (property is null || property.Name != part) return false;
            type = property.PropertyType;
        }
        return rest.Length > 0;
    }

    private static IEnumerable<(string Where, string Name)> KubernetesVariables() =>
        Directory.GetFiles(Deploy("kubernetes"), "*.yaml", SearchOption.AllDirectories).SelectMany(f => Documents(f).SelectMany(d =>
            Items(Get(d, "spec", "template", "spec", "containers")).SelectMany(c =>
                Items(Get(c, "env")).Select(e => ($"{Path.GetFileName(f)} {Text(Get(c, "name"))}", Text(Get(e, "name"))!)))));

    private static IEnumerable<(string Where, string Name)> ComposeVariables()
    {
        var doc = Documents(Deploy("compose", "compose.yaml")).Single();
        foreach (var (key, service) in ((YamlMappingNode)Get(doc, "services")!).Children)
            if (Get(service, "environment") is YamlMappingNode env)
                foreach (var name in env.Children.Keys.Select(k => Text(k)!).Where(k => k != "<<"))
                    yield return ($"compose {Text(key)}", name);
        if (Get(doc, "x-silo-env") is YamlMappingNode shared)
            foreach (var name in shared.Children.Keys.Select(k => Text(k)!))
                yield return ("compose x-silo-env", name);
    }

    [Fact]
    public void EveryFile_Parses_AndEveryVariableIsAnOptionOrAKnownOne()
    {
        var types = OptionsTypes();
        var variables = KubernetesVariables().Concat(ComposeVariables()).ToList();
        foreach (var dockerfile in Directory.GetFiles(Deploy("container"), "Dockerfile.*"))
            foreach (Match m in EnvLine().Matches(File.ReadAllText(dockerfile)))
                variables.Add((Path.GetFileName(dockerfile), m.Groups[1].Value));
        foreach (Match m in SystemdSetting().Matches(File.ReadAllText(Deploy("systemd", "fleet-silo.service"))))
            variables.Add(("fleet-silo.service", m.Groups[1].Value));
        Assert.True(variables.Count(v => v.Name.StartsWith("Fleet", StringComparison.Ordinal)) >= 15, "the files name too few settings to be checked");
        var wrong = variables.Where(v => v.Name.StartsWith("Fleet", StringComparison.Ordinal) ? !IsOption(v.Name, types) : !KnownVariables.Contains(v.Name))
            .Select(v => $"{v.Where}: {v.Name}").ToList();
        Assert.True(wrong.Count == 0, "not an option or a known variable:\n" + string.Join("\n", wrong));
        Assert.False(IsOption("Fleet__Auth__AdminKeyy", types)); // the check can fail
    }

    [Fact]
    public void Kubernetes_PortsProbesImagesAndRbac_AgreeWithTheSilo()
    {
        var docs = Directory.GetFiles(Deploy("kubernetes"), "*.yaml").Where(f => !f.EndsWith("kustomization.yaml")).SelectMany(Documents).ToList();
        var kustomization = Documents(Deploy("kubernetes", "kustomization.yaml")).Single();
        Assert.All(Items(Get(kustomization, "resources")), r => Assert.True(File.Exists(Deploy("kubernetes", Text(r)!)), $"kustomization names {Text(r)}"));

        var silo = docs.Single(d => Text(Get(d, "kind")) == "Deployment" && Text(Get(d, "metadata", "name")) == "fleet-silo");
        var pod = Get(silo, "spec", "template")!;
        Assert.Equal("fleet", Text(Get(pod, "metadata", "labels", "orleans/serviceId")));
        Assert.Equal("fleet", Text(Get(pod, "metadata", "labels", "orleans/clusterId")));
        var container = Items(Get(pod, "spec", "containers")).Single();
        Assert.Equal("fleet-silo:latest", Text(Get(container, "image")));
        var ports = Items(Get(container, "ports")).ToDictionary(p => Text(Get(p, "name"))!, p => int.Parse(Text(Get(p, "containerPort"))!));
        Assert.Equal(SiloPorts, ports.Values.Order().ToArray());
        foreach (var probe in new[] { "readinessProbe", "livenessProbe" })
        {
            Assert.Equal("/health", Text(Get(container, probe, "httpGet", "path")));
            Assert.Equal(5080, ports[Text(Get(container, probe, "httpGet", "port"))!]);
        }
        var env = Items(Get(container, "env")).ToDictionary(e => Text(Get(e, "name"))!, e => Get(e, "value") ?? Get(e, "valueFrom"));
        Assert.Equal("true", Text(env["Fleet__Kubernetes"]));
        Assert.Equal("Redis", Text(env["Fleet__Clustering"]));
        Assert.Equal("fleet-secrets", Text(Get(env["Fleet__Auth__AdminKey"], "secretKeyRef", "name")));
        Assert.Equal(Text(env["ORLEANS_SERVICE_ID"]), Text(env["Fleet__ServiceId"]));

        var service = docs.Single(d => Text(Get(d, "kind")) == "Service" && Text(Get(d, "metadata", "name")) == "fleet");
        Assert.All(Items(Get(service, "spec", "ports")), p => Assert.Contains(Text(Get(p, "targetPort"))!, ports.Keys));

        var role = docs.Single(d => Text(Get(d, "kind")) == "Role");
        var verbs = Items(Get(Items(Get(role, "rules")).Single(), "verbs")).Select(v => Text(v)).ToList();
        Assert.Contains("list", verbs);
        Assert.Contains("watch", verbs);
        Assert.Equal("fleet-silo", Text(Get(pod, "spec", "serviceAccountName")));
        Assert.Contains(docs, d => Text(Get(d, "kind")) == "ServiceAccount" && Text(Get(d, "metadata", "name")) == "fleet-silo");
    }

    [Fact]
    public void KubernetesRedis_KeepsItsDataOnAVolumeClaim_WithAnExplicitFsyncPolicy_AndItsServicesSelectOnlyThatPod()
    {
        var docs = Documents(Deploy("kubernetes", "redis.yaml"));
        var redis = docs.Single(d => Text(Get(d, "kind")) == "StatefulSet" && Text(Get(d, "metadata", "name")) == "redis");
        var claim = Items(Get(redis, "spec", "volumeClaimTemplates")).Single();
        var container = Items(Get(redis, "spec", "template", "spec", "containers")).Single();
        Assert.Contains(Items(Get(container, "volumeMounts")), m => Text(Get(m, "name")) == Text(Get(claim, "metadata", "name")) && Text(Get(m, "mountPath")) == "/data");
        var args = Items(Get(container, "args")).Select(Text).ToList();
        Assert.Equal("yes", args[args.IndexOf("--appendonly") + 1]);
        Assert.Contains(args[args.IndexOf("--appendfsync") + 1], new[] { "always", "everysec" });
        Assert.Null(Get(redis, "spec", "template", "spec", "volumes")); // no emptyDir

        // Every Service for it selects the StatefulSet's pods and only those (not an earlier Deployment's, labelled app: redis).
        var labels = ((YamlMappingNode)Get(redis, "spec", "template", "metadata", "labels")!).Children.ToDictionary(kv => Text(kv.Key)!, kv => Text(kv.Value)!);
        var services = docs.Where(d => Text(Get(d, "kind")) == "Service").ToList();
        Assert.Contains(services, s => Text(Get(s, "metadata", "name")) == Text(Get(redis, "spec", "serviceName")) && Text(Get(s, "spec", "clusterIP")) == "None");
        Assert.Contains(services, s => Text(Get(s, "metadata", "name")) == "redis" && Get(s, "spec", "clusterIP") is null); // what the silos connect to, as before
        foreach (var service in services)
        {
            var selector = ((YamlMappingNode)Get(service, "spec", "selector")!).Children.ToDictionary(kv => Text(kv.Key)!, kv => Text(kv.Value)!);
            Assert.All(selector, kv => Assert.Equal(kv.Value, labels.GetValueOrDefault(kv.Key)));
            Assert.True(selector.Count > 1, "a selector of app: redis alone would also pick an earlier Deployment's pod");
        }
    }

    [Fact]
    public async Task IntakeExamples_PassTheirOwnToolsChecks_AndPointAtWhatTheSiloServes()
    {
        // The programs' own validators (Debian's prometheus and prometheus-alertmanager ship them): what a reader copies is taken.
        foreach (var (tool, args) in new[] { ("promtool", new[] { "check", "config", Deploy("intake", "prometheus.yml") }), ("amtool", new[] { "check-config", Deploy("intake", "alertmanager.yml") }) })
        {
            var (code, stdout, stderr) = await Repo.RunAsync(tool, args, TimeSpan.FromSeconds(60));
            Assert.True(code == 0, $"{tool}: {stdout}{stderr}");
        }
        var prometheus = Documents(Deploy("intake", "prometheus.yml")).Single();
        var write = Items(Get(prometheus, "remote_write")).Single();
        Assert.EndsWith(":5080/api/v1/write", Text(Get(write, "url")));
        // The relabel keep-list lets through every series the default mapping reads.
        var keep = new Regex("^(?:" + Text(Get(Items(Get(write, "write_relabel_configs")).Single(), "regex"))! + ")$");
        var mapping = Fleet.Abstractions.Policy.IntakePolicy.Default;
        Assert.All(new[] { "up", mapping.CpuSeconds, mapping.MemoryTotal, mapping.MemoryAvailable, mapping.FilesystemSize, mapping.FilesystemAvailable },
            name => Assert.Matches(keep, name));
        var alertmanager = Documents(Deploy("intake", "alertmanager.yml")).Single();
        var hook = Items(Get(Items(Get(alertmanager, "receivers")).Single(), "webhook_configs")).Single();
        Assert.EndsWith(":5080/api/v1/alerts/alertmanager", Text(Get(hook, "url")));
        Assert.Equal("true", Text(Get(hook, "send_resolved")));
        var collector = Documents(Deploy("intake", "otel-collector.yml")).Single();
        Assert.EndsWith(":5080/v1/metrics", Text(Get(collector, "exporters", "otlphttp/fleet", "metrics_endpoint")));
        Assert.Equal("proto", Text(Get(collector, "exporters", "otlphttp/fleet", "encoding")));
    }

    [Fact]
    public void Images_AreBuiltFromProjectsThatExist_AndStartTheirAssembly()
    {
        foreach (var (file, project, assembly) in new[] { ("Dockerfile.silo", "silo/Fleet.Silo/Fleet.Silo.csproj", "Fleet.Silo.dll"), ("Dockerfile.agent", "src/Fleet.Agent/Fleet.Agent.csproj", "fleet-agent.dll") })
        {
            var text = File.ReadAllText(Deploy("container", file));
            Assert.Contains($"dotnet publish {project}", text);
            Assert.True(File.Exists(Path.Combine(Repo.Root, project)), project);
            var csproj = File.ReadAllText(Path.Combine(Repo.Root, project));
            var name = AssemblyName().Match(csproj) is { Success: true } m ? m.Groups[1].Value : Path.GetFileNameWithoutExtension(project);
            Assert.Equal(assembly, name + ".dll");
            Assert.Matches($@"ENTRYPOINT \[""dotnet"", ""{Regex.Escape(assembly)}""", text);
        }
        Assert.Contains("EXPOSE 5080 11111 30000", File.ReadAllText(Deploy("container", "Dockerfile.silo")));

        var compose = Documents(Deploy("compose", "compose.yaml")).Single();
        Assert.Equal("deploy/container/Dockerfile.silo", Text(Get(compose, "x-silo", "build", "dockerfile")));
        Assert.True(File.Exists(Path.Combine(Deploy("compose"), Text(Get(compose, "x-silo", "build", "context"))!, "deploy", "container", "Dockerfile.silo")));
        var silos = ((YamlMappingNode)Get(compose, "services")!).Children.Where(kv => Text(kv.Key)!.StartsWith("silo-")).ToList();
        Assert.Equal(3, silos.Count);
        // Each silo advertises the fixed address it has on the compose network.
        Assert.All(silos, s => Assert.Equal(Text(Get(s.Value, "networks", "fleet", "ipv4_address")), Text(Get(s.Value, "environment", "Fleet__AdvertisedIp"))));
    }

    [GeneratedRegex(@"^\s*(?:ENV\s+)?([A-Za-z_][A-Za-z0-9_]*)=\S+\s*\\?$", RegexOptions.Multiline)]
    private static partial Regex EnvLine();

    [GeneratedRegex(@"--(Fleet:[A-Za-z:]+)=")]
    private static partial Regex SystemdSetting();

    [GeneratedRegex(@"<AssemblyName>([^<]+)</AssemblyName>")]
    private static partial Regex AssemblyName();
}
