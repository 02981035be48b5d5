using System.Threading.Channels;
using Fleet.Abstractions.Audit;
using Fleet.Client;

namespace Fleet.Silo.Web;

/// <summary>
/// One reader of the trail per silo for every open page's live feed: while anyone listens it reads what is new once a
/// second (page by page until caught up, with a little overlap for the clocks of several silos, ids already sent left out)
/// and hands each record to every listener; a listener that falls behind loses its oldest records, never the reader's pace.
/// </summary>
public sealed class TrailFeed(IFleetClient fleet, TimeProvider time, ILogger<TrailFeed> log) : IDisposable
{
    private readonly object _gate = new();
    private readonly List<Channel<DecisionRecord>> _listeners = [];
    private readonly CancellationTokenSource _stop = new();
    private Task? _loop;

    public int Listeners { get { lock (_gate) return _listeners.Count; } }

    /// <summary>Records from now on, until the returned subscription is disposed.</summary>
    public (ChannelReader<DecisionRecord> Records, IDisposable Subscription) Listen()
    {
        var channel = Channel.CreateBounded<DecisionRecord>(new BoundedChannelOptions(1000) { FullMode = BoundedChannelFullMode.DropOldest });
        lock (_gate)
        {
            _listeners.Add(channel);
            if (_loop is null || _loop.IsCompleted) _loop = Task.Run(() => ReadAsync(_stop.Token));
        }
        return (channel.Reader, new Unsubscribe(this, channel));
    }

    private sealed class Unsubscribe(TrailFeed feed, Channel<DecisionRecord> channel) : IDisposable
    {
        public void Dispose()
        {
            lock (feed._gate) feed._listeners.Remove(channel);
            channel.Writer.TryComplete();
        }
    }

    private async Task ReadAsync(CancellationToken ct)
    {
        var since = time.GetUtcNow();
        var seen = new Queue<string>();
        var known = new HashSet<string>();
        while (!ct.IsCancellationRequested && Listeners > 0)
        {
            try
            {
                var fresh = new List<DecisionRecord>();
                long? before = null;
                for (var pages = 0; pages < 20; pages++)
                {
                    var page = await fleet.QueryAuditAsync(new AuditQuery(Since: since - TimeSpan.FromSeconds(5), Limit: 500, Before: before), ct);
                    fresh.AddRange(page.Records);
                    before = page.NextBefore;
                    if (before is null) break;
                }
                Channel<DecisionRecord>[] listeners;
                lock (_gate) listeners = [.. _listeners];
                foreach (var r in fresh.AsEnumerable().Reverse())
                {
                    if (!known.Add(r.Id)) continue;
                    seen.Enqueue(r.Id);
                    if (seen.Count > 5000) known.Remove(seen.Dequeue());
                    if (r.Time > since) since = r.Time;
                    foreach (var l in listeners) l.Writer.TryWrite(r);
                }
            }
            catch (Exception e) when (!ct.IsCancellationRequested)
            {
                LogReadFailed(log, e.Message);
            }
            try { await Task.Delay(TimeSpan.FromSeconds(1), ct); }
            catch (OperationCanceledException) { return; }
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _stop.Dispose();
    }

    private static void LogReadFailed(ILogger logger, string error) => logger.LogWarning("The live feed could not read the trail ({Error}); it tries again in a second", error);
}
