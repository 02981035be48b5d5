using Fleet.Abstractions.Audit;
using Fleet.Client;

namespace Fleet.Silo.Pages;

/// <summary>
/// The trail page's check of the last day's chain: at most one a minute for the whole silo, however many people open the
/// page (a check walks a day of records), and never two at once.
/// </summary>
public sealed class TrailCheck(IFleetClient fleet, TimeProvider time)
{
    /// <summary>How far back the page checks the chain.</summary>
    public static readonly TimeSpan Window = TimeSpan.FromDays(1);

    /// <summary>How long a check stands before the next page view makes another.</summary>
    public static readonly TimeSpan Every = TimeSpan.FromMinutes(1);

    private readonly SemaphoreSlim _checking = new(1, 1);
    private (TrailVerification Result, DateTimeOffset At)? _last;

    public async Task<(TrailVerification Result, DateTimeOffset At)> GetAsync()
    {
        if (Fresh() is { } last) return last;
        await _checking.WaitAsync();
        try
        {
            if (Fresh() is { } again) return again;
            var now = time.GetUtcNow();
            var result = await fleet.VerifyAuditAsync(now - Window);
            _last = (result, now);
            return _last.Value;
        }
        finally
        {
            _checking.Release();
        }
    }

    private (TrailVerification, DateTimeOffset)? Fresh() =>
        _last is { } last && time.GetUtcNow() - last.At < Every ? last : null;
}
