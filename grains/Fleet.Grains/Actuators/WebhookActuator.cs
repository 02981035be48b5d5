using System.Net;
using System.Net.Http.Json;
using Fleet.Abstractions.Actions;

namespace Fleet.Grains.Actuators;

/// <summary>
/// Posts each action as JSON to a webhook, with an <c>Idempotency-Key</c> header the receiver uses to ignore repeats:
/// <c>{idempotencyKey, subject, node, action, reason, leaseId, ...parameters}</c> (a service's instance action adds
/// <c>service</c>, <c>instance</c> and <c>version</c>).
/// 2xx is success; 408, 429 and 5xx are transient (retried by the pipeline); any other status is a final failure.
/// </summary>
public sealed class WebhookActuator(HttpClient http, Uri url) : IActuator
{
    public string Name => "webhook";

    /// <summary>The JSON body: the fixed fields, then the action's parameters (which never replace a fixed field).</summary>
    public static Dictionary<string, string?> Body(ActionRequest request)
    {
        var body = new Dictionary<string, string?>
        {
            ["idempotencyKey"] = request.IdempotencyKey,
            ["subject"] = request.Subject,
            ["node"] = request.Target,
            ["action"] = request.Action,
            ["reason"] = request.Reason,
            ["leaseId"] = request.LeaseId,
        };
        foreach (var (k, v) in request.Parameters) body.TryAdd(k, v);
        return body;
    }

    public async Task<ActuatorResult> ExecuteAsync(ActionRequest request, CancellationToken cancellationToken)
    {
        using var message = new HttpRequestMessage(HttpMethod.Post, url)
        {
            Content = JsonContent.Create(Body(request)),
        };
        message.Headers.Add("Idempotency-Key", request.IdempotencyKey);
        HttpResponseMessage response;
        try
        {
            response = await http.SendAsync(message, cancellationToken);
        }
        catch (HttpRequestException e)
        {
            // The URL may carry a token (in its query, its path or its user part): the trail gets it redacted.
            throw new ActuatorException($"webhook {Fleet.Core.Text.Redact.Url(url)} unreachable: {e.Message.Replace(url.OriginalString, Fleet.Core.Text.Redact.Url(url))}", e);
        }
        using (response)
        {
            var code = (int)response.StatusCode;
            if (response.IsSuccessStatusCode) return new ActuatorResult(true, $"webhook answered {code}");
            if (code >= 500 || response.StatusCode is HttpStatusCode.RequestTimeout or HttpStatusCode.TooManyRequests)
                throw new ActuatorException($"webhook answered {code}");
            return new ActuatorResult(false, $"webhook refused the action with {code}");
        }
    }
}
