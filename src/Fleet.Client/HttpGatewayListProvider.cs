using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using Orleans.Messaging;

namespace Fleet.Client;

/// <summary>
/// The live gateways, read from a silo's <c>GET /api/v1/gateways</c> (the first of the given silos that answers), so a
/// client finds the cluster with its own key and no Redis password. When none answers, the last list read stands.
/// </summary>
internal sealed class HttpGatewayListProvider(IReadOnlyList<Uri> silos, string? key) : IGatewayListProvider, IDisposable
{
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(5) };
    private IList<Uri> _last = [];

    public TimeSpan MaxStaleness => TimeSpan.FromSeconds(10);

    public bool IsUpdatable => true;

    public Task InitializeGatewayListProvider() => Task.CompletedTask;

    public async Task<IList<Uri>> GetGateways()
    {
        foreach (var silo in silos)
        {
            try
            {
                using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(silo, "/api/v1/gateways"));
                if (key is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
                using var response = await _http.SendAsync(request);
                if (!response.IsSuccessStatusCode) continue;
                var answer = await response.Content.ReadFromJsonAsync<GatewayList>();
                var endpoints = (answer?.Gateways ?? []).Select(g => IPEndPoint.TryParse(g, out var ep) ? ep : null).OfType<IPEndPoint>().ToList();
                if (endpoints.Count == 0) continue;
                return _last = endpoints.Select(ep => ep.ToGatewayUri()).ToList();
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException or System.Text.Json.JsonException)
            {
                // The next silo, else the last list.
            }
        }
        return _last;
    }

    /// <summary>Reads <c>http(s)://host:port[,…]</c>; throws <see cref="FleetValidationException"/> naming the bad entry.</summary>
    public static IReadOnlyList<Uri> ParseUrls(string text)
    {
        var urls = new List<Uri>();
        foreach (var part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!Uri.TryCreate(part, UriKind.Absolute, out var url) || url.Scheme is not ("http" or "https"))
                throw new FleetValidationException("The gateway discovery list is not valid.",
                    new Dictionary<string, string[]> { ["gatewayDiscovery"] = [$"'{part}' is not an http(s) URL of a silo (e.g. http://127.0.0.1:5080)"] });
            urls.Add(url);
        }
        return urls;
    }

    public void Dispose() => _http.Dispose();

    private sealed record GatewayList(string[]? Gateways);
}
