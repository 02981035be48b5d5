using System.Collections.Concurrent;
using Fleet.Abstractions.Services;
using Fleet.Core.Validation;

namespace Fleet.Core.Intake;

/// <summary>
/// Turns a service's own OpenTelemetry metrics into instance reports (the shape an agent's instance reports have, so the
/// same instance health and canary judge read them). The instance is named by the resource: <c>service.name</c> is the
/// service, <c>service.instance.id</c> the instance's id in Fleet (<c>checkout-3</c>), <c>service.version</c> its version.
/// Requests, errors (<c>http.response.status_code</c> ≥ 500, or an <c>error.type</c>) and latency come from the
/// semantic conventions' <c>http.server.request.duration</c> histogram (cumulative or delta); memory from
/// <c>process.memory.usage</c>. A cumulative series is reported from its second export on (a rate needs two).
/// </summary>
public sealed class InstanceIntake(TimeProvider time, int maxInstances = 100_000)
{
    public const string RequestDuration = "http.server.request.duration", MemoryUsage = "process.memory.usage";

    /// <summary>Attribute sets (status codes × routes × methods) kept per instance.</summary>
    public const int MaxSeries = 256;

    private readonly ConcurrentDictionary<(string Service, string Instance), InstanceSeries> _instances = new();
    /// <summary>The instances kept: at most <c>maxInstances</c>; at the bound, those not heard of for 15 minutes are forgotten.</summary>
    private readonly IntakeRoom _room = new(maxInstances);

    /// <summary>Series dropped: more instances than intake keeps.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);
    private long _dropped;

    /// <summary>The instance a resource names, or null when it names none Fleet accepts.</summary>
    public static (string Service, string Instance, string Version)? InstanceOf(IReadOnlyDictionary<string, string> resource) =>
        resource.TryGetValue("service.name", out var service) && InputRules.IsValidId(service)
        && resource.TryGetValue("service.instance.id", out var instance) && InputRules.IsValidId(instance)
            ? (service, instance, resource.TryGetValue("service.version", out var v) && InputRules.IsValidVersion(v) ? v : "unknown")
            : null;

    /// <summary>One point of the request-duration histogram: its count and bucket counts (cumulative or this interval's).</summary>
    public void Requests((string Service, string Instance, string Version) of, string series, bool error, long startMs, long timeMs, ulong count,
        IReadOnlyList<ulong> buckets, IReadOnlyList<double> bounds, double unitToMs, bool cumulative, ISet<(string, string)> touched)
    {
        if (Series(of) is not { } s) return;
        lock (s)
        {
            if (s.Take(series, error, startMs, timeMs, count, buckets, bounds, unitToMs, cumulative)) touched.Add((of.Service, of.Instance));
        }
    }

    public void Memory((string Service, string Instance, string Version) of, double bytes)
    {
        if (Series(of) is not { } s) return;
        lock (s) s.MemoryBytes = double.IsFinite(bytes) && bytes >= 0 ? (long)bytes : s.MemoryBytes;
    }

    private InstanceSeries? Series((string Service, string Instance, string Version) of)
    {
        var now = time.GetUtcNow();
        if (!_instances.TryGetValue((of.Service, of.Instance), out var s))
        {
            if (!_room.Fits(_instances, i => i.SeenAt, now))
            {
                Interlocked.Increment(ref _dropped);
                return null;
            }
            s = _instances.GetOrAdd((of.Service, of.Instance), _ => new InstanceSeries());
        }
        s.Version = of.Version;
        s.SeenAt = now;
        return s;
    }

    /// <summary>The instance's report for what was taken since the last one, or null when nothing new was.</summary>
    public InstanceReport? Report(string service, string instance)
    {
        if (!_instances.TryGetValue((service, instance), out var s)) return null;
        lock (s) return s.Report(service, instance);
    }

    private sealed class InstanceSeries
    {
        public string Version = "";
        public long MemoryBytes;
        private readonly Dictionary<string, (long At, ulong Count, ulong[] Buckets)> _last = new(StringComparer.Ordinal);
        public DateTimeOffset SeenAt;
        private double _requests, _errors, _seconds;
        private double[]? _bounds, _merged;
        private double _unitToMs = 1;
        private long _at, _exportAt, _previousExportAt;

        public bool Take(string series, bool error, long startMs, long timeMs, ulong count, IReadOnlyList<ulong> buckets, IReadOnlyList<double> bounds, double unitToMs, bool cumulative)
        {
            ulong[] now = [.. buckets];
            double delta;
            double[] bucketDelta;
            double seconds;
            if (timeMs > _exportAt) (_previousExportAt, _exportAt) = (_exportAt, timeMs);
            if (cumulative)
            {
                var had = _last.TryGetValue(series, out var last);
                if (!had && _last.Count >= MaxSeries) return false; // attribute sets the pusher chooses: bounded
                _last[series] = (timeMs, count, now);
                // A series first seen after an export of this instance was taken began since: all of its count is new
                // (a status code served for the first time). Otherwise the first export primes the series.
                if (!had && _previousExportAt > 0 && timeMs > _previousExportAt)
                    (had, last) = (true, (_previousExportAt, 0UL, new ulong[now.Length]));
                // A count that went down is a restarted process: start again from it.
                if (!had || timeMs <= last.At || count < last.Count || last.Buckets.Length != now.Length) return false;
                delta = count - last.Count;
                bucketDelta = new double[now.Length];
                for (var i = 0; i < now.Length; i++) bucketDelta[i] = now[i] >= last.Buckets[i] ? now[i] - last.Buckets[i] : 0;
                seconds = (timeMs - last.At) / 1000.0;
            }
            else
            {
                delta = count;
                bucketDelta = [.. now.Select(b => (double)b)];
                seconds = startMs > 0 && timeMs > startMs ? (timeMs - startMs) / 1000.0 : 0; // a delta point's own window
            }
            if (_bounds is null || !_bounds.SequenceEqual(bounds))
            {
                // Buckets are merged only across points with the same bounds (one histogram's points share them).
                _bounds = [.. bounds];
                _merged = new double[bucketDelta.Length];
            }
            if (_merged!.Length == bucketDelta.Length)
                for (var i = 0; i < bucketDelta.Length; i++) _merged[i] += bucketDelta[i];
            _requests += delta;
            if (error) _errors += delta;
            _seconds = Math.Max(_seconds, seconds);
            _unitToMs = unitToMs;
            _at = Math.Max(_at, timeMs);
            return true;
        }

        public InstanceReport? Report(string service, string instance)
        {
            if (_at == 0) return null;
            var seconds = _seconds > 0 ? _seconds : 10;
            // Healthy is the instance's own reporter's word (an agent's check); intake's reports carry figures only.
            var report = new InstanceReport(service, instance, Version, _requests / seconds, _errors / seconds,
                Quantile(0.5) * _unitToMs, Quantile(0.99) * _unitToMs, MemoryBytes, true, null, DateTimeOffset.FromUnixTimeMilliseconds(_at)) { Source = Health.NodeMonitor.IntakeSource };
            (_requests, _errors, _seconds, _at) = (0, 0, 0, 0);
            if (_merged is not null) Array.Clear(_merged);
            return report;
        }

        /// <summary>
        /// The q-quantile of the merged buckets, interpolated linearly inside the bucket it falls in (as Prometheus'
        /// histogram_quantile does); in the last, unbounded bucket, its lower bound.
        /// </summary>
        private double Quantile(double q)
        {
            if (_merged is null || _bounds is null || _merged.Length != _bounds.Length + 1) return 0;
            var total = _merged.Sum();
            if (total <= 0) return 0;
            var rank = q * total;
            double seen = 0;
            for (var i = 0; i < _merged.Length; i++)
            {
                if (seen + _merged[i] >= rank && _merged[i] > 0)
                {
                    if (i == _bounds.Length) return _bounds.Length > 0 ? _bounds[^1] : 0;
                    var lower = i == 0 ? Math.Min(0, _bounds[0]) : _bounds[i - 1];
                    return lower + (_bounds[i] - lower) * ((rank - seen) / _merged[i]);
                }
                seen += _merged[i];
            }
            return _bounds.Length > 0 ? _bounds[^1] : 0;
        }
    }
}
