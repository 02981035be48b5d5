using System.Threading.RateLimiting;
using Fleet.Abstractions.Audit;
using Fleet.Grains.Audit;
using Fleet.Grains.Telemetry;
using Microsoft.Extensions.Logging;

namespace Fleet.Grains.Security;

/// <summary>
/// What the gateway refused: every refusal is counted (<c>fleet.gateway.refusals</c>, by reason); the first
/// <see cref="RecordsPerMinute"/> a minute on each silo are also logged and written to the trail (subject <c>gateway</c>,
/// kind <c>denied</c>, guardrail <c>access</c>), so a client hammering the door cannot flood the log or the trail.
/// </summary>
public sealed partial class GatewayRefusals(IAuditStore audit, FleetMetrics metrics, TimeProvider time, ILogger<GatewayRefusals> log) : IDisposable
{
    public const int RecordsPerMinute = 30;
    public const string Subject = "gateway";

    private readonly TokenBucketRateLimiter _records = new(new TokenBucketRateLimiterOptions
    {
        TokenLimit = RecordsPerMinute, TokensPerPeriod = RecordsPerMinute, ReplenishmentPeriod = TimeSpan.FromMinutes(1), QueueLimit = 0, AutoReplenishment = true,
    });

    /// <summary>Counts, logs and records one refused call.</summary>
    public void Refused(string reason, string method, string claimedSender, string detail, string? who = null)
    {
        metrics.GatewayRefusal(reason);
        using var lease = _records.AttemptAcquire();
        if (!lease.IsAcquired) return;
        LogRefused(log, method, reason, claimedSender, detail);
        var evidence = new Dictionary<string, string> { ["method"] = method, ["reason"] = reason, ["claimedSender"] = claimedSender };
        if (who is not null) evidence["key"] = who;
        var record = Decisions.Create(time.GetUtcNow(), "gateway", Subject, DecisionKinds.Denied,
            $"Refused a client's call to {method}: {detail}", 0, action: method, evidence: evidence, rule: "access", guardrail: "access", outcome: "refused");
        // The trail is written off the caller's path; a store that cannot take it now loses this record, never the refusal.
        _ = Task.Run(async () =>
        {
            try { await audit.AppendAsync([record]); }
            catch (Exception e) { LogRecordFailed(log, e.Message); }
        });
    }

    public void Dispose() => _records.Dispose();

    [LoggerMessage(LogLevel.Warning, "Refused a client's call to {Method} ({Reason}; the message claimed to come from {Sender}): {Detail}")]
    private static partial void LogRefused(ILogger logger, string method, string reason, string sender, string detail);

    [LoggerMessage(LogLevel.Warning, "Could not record a refused gateway call in the trail: {Error}")]
    private static partial void LogRecordFailed(ILogger logger, string error);
}
