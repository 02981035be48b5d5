using Fleet.Abstractions.Diagnostics;
using Fleet.Abstractions.Nodes;

namespace Fleet.Grains.Nodes;

/// <summary>
/// One per silo, instead of a timer per node: wakes a node's grain when something about it falls due — the moment its
/// silence would make it Suspect, its report's expiry, a case's next step — and never otherwise, so a node reporting on
/// time costs one dictionary write per report and nothing in between. A queue ordered by due time; a node whose due
/// time moved later keeps its queued entry, which is moved on when it comes up (so a report is not a queue operation).
/// A woken grain that is not active is activated by the call, so the silence of a node whose grain was collected is
/// still noticed on time.
/// </summary>
public sealed class NodeWakeups : IDisposable
{
    private readonly object _gate = new();
    private readonly PriorityQueue<string, long> _queue = new();
    private readonly Dictionary<string, long> _due = new(StringComparer.Ordinal);
    private readonly IGrainFactory _grains;
    private readonly TimeProvider _time;
    private readonly ITimer _timer;
    private long _armedFor = long.MaxValue;

    public NodeWakeups(IGrainFactory grains, TimeProvider time)
    {
        _grains = grains;
        _time = time;
        _timer = time.CreateTimer(_ => Fire(), null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    /// <summary>Nodes with a wake-up pending.</summary>
    public int Count
    {
        get { lock (_gate) return _due.Count; }
    }

    /// <summary>When the next wake-up falls due (null when none is pending); a replay moves its clock there before it delivers a later input.</summary>
    public DateTimeOffset? NextDue
    {
        get
        {
            lock (_gate) return _armedFor == long.MaxValue ? null : new DateTimeOffset(_armedFor, TimeSpan.Zero);
        }
    }

    /// <summary>
    /// Wakes <paramref name="node"/> at <paramref name="at"/>, replacing any wake-up it had — or, with
    /// <paramref name="noLater"/>, keeping an earlier one (a periodic check is not put off by every call).
    /// </summary>
    public void Schedule(string node, DateTimeOffset at, bool noLater = false)
    {
        var due = at.UtcTicks;
        lock (_gate)
        {
            var exists = _due.TryGetValue(node, out var current);
            if (noLater && exists && current <= due) return;
            var later = exists && due >= current;
            _due[node] = due;
            if (later) return; // the queued entry is moved on when it comes up
            _queue.Enqueue(node, due);
            if (due < _armedFor) Arm(due);
        }
    }

    public void Cancel(string node)
    {
        lock (_gate) _due.Remove(node);
    }

    private void Fire()
    {
        var now = _time.GetUtcNow().UtcTicks;
        List<string>? wake = null;
        lock (_gate)
        {
            _armedFor = long.MaxValue;
            while (_queue.TryPeek(out var node, out var at) && at <= now)
            {
                _queue.Dequeue();
                if (!_due.TryGetValue(node, out var due) || due < at) continue; // cancelled, or an earlier entry already woke it
                if (due > at)
                {
                    _queue.Enqueue(node, due); // it moved later: queue it where it belongs now
                    continue;
                }
                _due.Remove(node);
                (wake ??= []).Add(node);
            }
            if (_queue.TryPeek(out _, out var next)) Arm(next);
        }
        if (wake is null) return;
        foreach (var node in wake)
        {
            Interlocked.Increment(ref _waking);
            GrainReferences.Get<INodeGrain>(_grains, node).WakeAsync().ContinueWith(t =>
            {
                _ = t.Exception; // observed: a node that failed to wake is woken again by its next report or wake-up
                Interlocked.Decrement(ref _waking);
            }, TaskScheduler.Default);
        }
    }

    private int _waking;

    /// <summary>Wake-ups sent whose node has not finished its turn yet; a replay waits for none before it moves its clock on.</summary>
    public int Waking => Volatile.Read(ref _waking);

    private void Arm(long due)
    {
        _armedFor = due;
        var wait = TimeSpan.FromTicks(Math.Max(0, due - _time.GetUtcNow().UtcTicks));
        _timer.Change(wait, Timeout.InfiniteTimeSpan);
    }

    public void Dispose() => _timer.Dispose();
}
