using System.CommandLine;
using System.Globalization;
using Fleet.Abstractions.Audit;
using Fleet.Abstractions.Nodes;
using Fleet.Client;
using Fleet.Core.Policies;
using Fleet.Core.Text;
using Fleet.Core.Validation;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Fleet.Cli;

/// <summary>
/// The <c>fleet</c> command. Exit codes: 0 done; 1 the request was refused (bad input, invalid policy, unknown node);
/// 2 the cluster could not be reached; 3 the credential was refused (none, invalid or revoked, or its role is not enough).
/// </summary>
internal static class FleetCommand
{
    public const int Refused = 1;
    public const int Unreachable = 2;
    public const int Denied = 3;

    private static readonly Option<string> Gateway = new("--gateway")
    {
        Description = "Gateways host:port[,host:port]; default $FLEET_GATEWAY or 127.0.0.1:30000",
        Recursive = true,
        DefaultValueFactory = _ => Environment.GetEnvironmentVariable("FLEET_GATEWAY") ?? "127.0.0.1:30000",
    };

    private static readonly Option<string?> Redis = new("--redis")
    {
        Description = "Find the gateways through Redis (cluster mode); default $FLEET_REDIS",
        Recursive = true,
        DefaultValueFactory = _ => Environment.GetEnvironmentVariable("FLEET_REDIS") is { Length: > 0 } r ? r : null,
    };

    private static readonly Option<string> ClusterId = new("--cluster-id")
    {
        Description = "Orleans cluster id; default $FLEET_CLUSTER_ID or fleet",
        Recursive = true,
        DefaultValueFactory = _ => Environment.GetEnvironmentVariable("FLEET_CLUSTER_ID") is { Length: > 0 } v ? v : "fleet",
    };

    private static readonly Option<string> ServiceId = new("--service-id")
    {
        Description = "Orleans service id; default $FLEET_SERVICE_ID or fleet",
        Recursive = true,
        DefaultValueFactory = _ => Environment.GetEnvironmentVariable("FLEET_SERVICE_ID") is { Length: > 0 } v ? v : "fleet",
    };

    // No default value factory: help would print the key it found.
    private static readonly Option<string?> Key = new("--key")
    {
        Description = "The API key; default $FLEET_KEY, else the file $FLEET_KEY_FILE, else ~/.config/fleet/admin.key (written by a silo's first start)",
        Recursive = true,
    };

    private static Option<string?> TlsFile(string name, string variable, string what) => new(name)
    {
        Description = $"{what} (PEM); default ${variable}",
        Recursive = true,
        DefaultValueFactory = _ => Environment.GetEnvironmentVariable(variable) is { Length: > 0 } v ? v : null,
    };

    private static readonly Option<string?> TlsCa = TlsFile("--tls-ca", "FLEET_TLS_CA", "Speak TLS to the gateway, which must show a certificate from this CA");
    private static readonly Option<string?> TlsCert = TlsFile("--tls-cert", "FLEET_TLS_CERT", "This client's certificate, for a gateway that requires one");
    private static readonly Option<string?> TlsKey = TlsFile("--tls-key", "FLEET_TLS_KEY", "The private key of --tls-cert");

    internal static readonly Option<string> Output = new("--output", "-o")
    {
        Description = "table or json",
        Recursive = true,
        DefaultValueFactory = _ => "table",
    };

    internal static readonly Option<string> By = new("--by")
    {
        Description = "Who asks, recorded in the audit trail when the cluster checks no credentials (else the key's name is recorded); default the user name",
        Recursive = true,
        DefaultValueFactory = _ => Environment.UserName is { Length: > 0 } u ? u : "cli",
    };

    internal static readonly Option<string?> Reason = new("--reason") { Description = "Why (recorded in the audit trail)", Recursive = true };

    public static RootCommand Build()
    {
        Output.AcceptOnlyFromAmong("table", "json");
        var root = new RootCommand("fleet: query and steer a Fleet cluster") { Gateway, Redis, ClusterId, ServiceId, Key, TlsCa, TlsCert, TlsKey, Output, By, Reason };
        root.Add(NodesCommand.Build());
        root.Add(ServicesCommand.Build());
        root.Add(OversightCommand.Approvals());
        root.Add(OversightCommand.Shadow());
        root.Add(IncidentsCommand.Build());
        root.Add(OversightCommand.Learning());
        root.Add(LinksCommand.Links());
        root.Add(LinksCommand.Flows());
        root.Add(AuditCommand.Build());
        root.Add(PolicyCommand.Build());
        root.Add(StatusCommand.Build());
        root.Add(StatusCommand.Capacity());
        root.Add(StatusCommand.Optimize());
        root.Add(StatusCommand.Domains());
        root.Add(KeysCommand.Build());
        root.Add(PrincipalsCommand.Build());
        root.Add(SimCommand.Build(Output));
        root.Add(TraceCommand.Trace());
        root.Add(TraceCommand.Replay());
        foreach (var c in StatusCommand.FreezeCommands()) root.Add(c);
        return root;
    }

    internal static void Print<T>(ParseResult p, T value, Action table)
    {
        if (p.GetValue(Output) == "json") Terminal.WriteJson(value);
        else table();
    }

    internal static bool TryRead(FileInfo file, out string text)
    {
        text = "";
        try
        {
            text = File.ReadAllText(file.FullName);
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Terminal.Error($"cannot read {file.FullName}: {e.Message}");
            return false;
        }
    }

    internal static bool TryTime(string? text, string option, out DateTimeOffset? value)
    {
        if (InputRules.TryParseTime(text, DateTimeOffset.UtcNow, out value, out var problem)) return true;
        Terminal.Error($"{option}: {problem}");
        return false;
    }

    /// <summary>Connects, runs the command, and turns every failure into one line on stderr and an exit code.</summary>
    internal static async Task<int> RunAsync(ParseResult p, Func<IFleetClient, Task<int>> body)
    {
        var redis = p.GetValue(Redis);
        var gateways = redis is null ? p.GetValue(Gateway)! : $"the gateways listed in Redis {redis}";
        IHost host;
        try
        {
            var builder = Host.CreateApplicationBuilder(["--hostBuilder:reloadConfigOnChange=false"]); // no watch of the working folder
            builder.Logging.ClearProviders();
            builder.AddFleetClient(o =>
            {
                o.Gateways = p.GetValue(Gateway)!;
                o.Redis = redis;
                o.ClusterId = p.GetValue(ClusterId)!;
                o.ServiceId = p.GetValue(ServiceId)!;
                o.Key = p.GetValue(Key) ?? FleetKeyFile.FromEnvironment();
                o.TlsCa = p.GetValue(TlsCa);
                o.TlsCertificate = p.GetValue(TlsCert);
                o.TlsKey = p.GetValue(TlsKey);
                o.ConnectAttempts = 2;
            });
            host = builder.Build();
        }
        catch (FleetValidationException e)
        {
            Terminal.Error(e.Problems.SelectMany(kv => kv.Value).FirstOrDefault() ?? e.Message);
            return Refused;
        }
        try
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(15));
            await host.StartAsync(cts.Token);
        }
        catch (Exception e)
        {
            Terminal.Error($"cannot reach the cluster at {gateways}: {Short(e)}");
            return Unreachable;
        }
        try
        {
            return await body(host.Services.GetRequiredService<IFleetClient>());
        }
        catch (FleetValidationException e)
        {
            Terminal.Error(e.Message);
            foreach (var (field, messages) in e.Problems)
                foreach (var m in messages) Console.Error.WriteLine($"  {field}: {m}");
            return Refused;
        }
        catch (FleetNotFoundException e)
        {
            Terminal.Error(e.Message);
            return Refused;
        }
        catch (FleetRefusedException e)
        {
            Terminal.Error($"refused by {e.Guardrail}: {e.Message}");
            return Refused;
        }
        catch (FleetUnavailableException e)
        {
            Terminal.Error(e.Message);
            return Unreachable;
        }
        catch (FleetAccessDeniedException e)
        {
            Terminal.Error(e.Message);
            return Denied;
        }
        catch (FleetRateLimitedException e)
        {
            Terminal.Error(e.Message);
            return Unreachable;
        }
        finally
        {
            try { await host.StopAsync(TimeSpan.FromSeconds(2)); } catch { /* leaving anyway */ }
            host.Dispose();
        }
    }

    private static string Short(Exception e)
    {
        while (e.InnerException is not null && e is AggregateException or OperationCanceledException) e = e.InnerException;
        return e is OperationCanceledException ? "no answer within 15 s" : e.Message.Split('\n')[0].Trim();
    }
}
