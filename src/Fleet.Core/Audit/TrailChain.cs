using System.Security.Cryptography;
using System.Text;
using Fleet.Abstractions.Audit;

namespace Fleet.Core.Audit;

/// <summary>
/// The trail's hash chain: each record is sealed with HMAC-SHA256 (a key derived from the cluster secret) over a canonical
/// form of every field it has — evidence sorted by name — and the MAC of the record before it in its stream. Verifying
/// walks each stream in order and names the first record whose MAC does not match, whose predecessor's MAC is not the one
/// it names, or before which a record is missing.
/// </summary>
public static class TrailChain
{
    /// <summary>What the first record of a stream names as its predecessor.</summary>
    public const string Genesis = "genesis";

    /// <summary>
    /// What the first record of a chain names as its predecessor when the store already held <paramref name="unsealed"/>
    /// records written before records were sealed: the count is sealed with it, so a record slipped in among them shows.
    /// </summary>
    public static string GenesisAfter(long unsealed) => unsealed > 0 ? $"{Genesis}/{unsealed.ToString(System.Globalization.CultureInfo.InvariantCulture)}" : Genesis;

    /// <summary>Whether a predecessor names a stream's start, and how many unsealed records it accounts for.</summary>
    public static bool IsGenesis(string previous, out long unsealed)
    {
        unsealed = 0;
        if (previous == Genesis) return true;
        return previous.StartsWith(Genesis + "/", StringComparison.Ordinal)
            && long.TryParse(previous.AsSpan(Genesis.Length + 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out unsealed);
    }

    /// <summary>The record sealed as the next of its stream.</summary>
    public static DecisionRecord Seal(byte[] key, DecisionRecord record, string stream, long seq, string previous)
    {
        var open = record with { Seal = new TrailSeal(stream, seq, previous, "") };
        return open with { Seal = open.Seal! with { Mac = Mac(key, open) } };
    }

    public static string Mac(byte[] key, DecisionRecord r) =>
        Convert.ToBase64String(HMACSHA256.HashData(key, Canonical(r)));

    /// <summary>Every field but the MAC itself, each length-prefixed (no two records share a form), evidence in name order.</summary>
    public static byte[] Canonical(DecisionRecord r)
    {
        var b = new StringBuilder();
        void Put(string? text)
        {
            if (text is null) b.Append("-;");
            else b.Append(text.Length).Append(':').Append(text).Append(';');
        }
        Put("fleet-trail/v1");
        Put(r.Seal?.Stream);
        Put(r.Seal?.Seq.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Put(r.Seal?.Previous);
        Put(r.Id);
        Put(r.Time.UtcTicks.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Put(((int)r.Time.Offset.TotalMinutes).ToString(System.Globalization.CultureInfo.InvariantCulture));
        Put(r.Actor);
        Put(r.Subject);
        Put(r.Kind);
        Put(r.Action);
        Put(r.Reason);
        Put(r.Evidence.Count.ToString(System.Globalization.CultureInfo.InvariantCulture));
        foreach (var (k, v) in r.Evidence.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            Put(k);
            Put(v);
        }
        Put(r.PolicyRule);
        Put(r.PolicyVersion.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Put(r.Guardrail);
        Put(r.Outcome);
        Put(r.IncidentId);
        Put(r.TraceId);
        Put(r.CaseId);
        return Encoding.UTF8.GetBytes(b.ToString());
    }

    /// <summary>
    /// Checks every stream among <paramref name="records"/> (each in its own order) and says whether the chain holds; the
    /// first break found names its record. <paramref name="unsealed"/>: records older than the chain (written before records
    /// were sealed), counted apart. With <paramref name="checkpointKey"/>, every checkpoint among the records is checked
    /// too: its signature, and that each position it vouched for is still there with the MAC it named.
    /// </summary>
    public static TrailVerification VerifyAll(byte[] key, IEnumerable<DecisionRecord> records, bool fromStart, long unsealed = 0,
        ECDsa? checkpointKey = null)
    {
        var all = records.ToList();
        var walk = new TrailWalk(key, fromStart, checkpointKey);
        foreach (var checkpoint in all.Where(TrailWalk.IsCheckpoint)) walk.Expect(checkpoint);
        if (all.FirstOrDefault(r => r.Seal is null) is { } bare) walk.Add(bare);
        foreach (var stream in all.Where(r => r.Seal is not null).GroupBy(r => r.Seal!.Stream))
            foreach (var r in stream.OrderBy(r => r.Seal!.Seq))
                walk.Add(r);
        return walk.Result(unsealed);
    }
}

/// <summary>
/// A walk over the chain one record at a time — each stream's records in their order, streams in any order or interleaved —
/// that keeps only each stream's last link and the positions checkpoints vouched for, never the records: a store streams
/// its whole trail through it in constant memory per stream. Checkpoints are read first (<see cref="Expect"/>, from the
/// store's index of them), then every record (<see cref="Add"/>). A break in the chain is reported before a checkpoint that
/// does not hold; among those, the earliest checkpoint.
/// </summary>
public sealed class TrailWalk(byte[] key, bool fromStart, ECDsa? checkpointKey, bool exactStart = true)
{
    /// <summary>Checkpoints read from the store's index of them: one met in the walk that is not among them was taken out of it.</summary>
    private readonly HashSet<string> _expected = [];
    /// <summary>The most unsealed records a stream's start accounts for.</summary>
    private long _claimedUnsealed;
    private readonly Dictionary<string, (long First, long Last, string Mac)> _streams = [];
    /// <summary>Positions checkpoints vouched for: the MAC each named (distinct ones only), and the earliest checkpoint that named it.</summary>
    private readonly Dictionary<(string Stream, long Seq), List<(string Mac, string Checkpoint, DateTimeOffset At)>> _vouched = [];
    private (string Id, string Why)? _broken;
    private (string Id, string Why, DateTimeOffset At)? _checkpointBroken;
    private long _records;
    private int _checkpoints;
    private DateTimeOffset? _lastCheckpoint;

    public static bool IsCheckpoint(DecisionRecord r) => r.Kind == DecisionKinds.Checkpoint && r.Subject == TrailCheckpoint.Subject;

    /// <summary>Whether the chain is already broken (a caller may stop reading).</summary>
    public bool Broken => _broken is not null;

    /// <summary>Takes a checkpoint's claims (before the records are walked).</summary>
    public void Expect(DecisionRecord checkpoint)
    {
        if (!_expected.Add(checkpoint.Id)) return;
        _checkpoints++;
        if (_lastCheckpoint is null || checkpoint.Time > _lastCheckpoint) _lastCheckpoint = checkpoint.Time;
        if (checkpointKey is null) return;
        var (ends, why) = TrailCheckpoint.Read(checkpointKey, checkpoint);
        if (ends is null)
        {
            FailCheckpoint(checkpoint.Id, why!, checkpoint.Time);
            return;
        }
        foreach (var end in ends)
        {
            if (!_vouched.TryGetValue((end.Stream, end.Seq), out var claims)) _vouched[(end.Stream, end.Seq)] = claims = [];
            var same = claims.FindIndex(c => c.Mac == end.Mac);
            if (same < 0) claims.Add((end.Mac, checkpoint.Id, checkpoint.Time));
            else if (checkpoint.Time < claims[same].At) claims[same] = (end.Mac, checkpoint.Id, checkpoint.Time);
        }
    }

    /// <summary>A break the store found itself (e.g. records stored outside its index).</summary>
    public void Break(string where, string why) => _broken ??= (where, why);

    /// <summary>A stored record that cannot be read (not a record at all): the chain is broken there.</summary>
    public void AddUnreadable(string where)
    {
        if (_broken is not null) return;
        _records++;
        _broken = (where, "its stored form cannot be read as a record: it was changed after it was written");
    }

    /// <summary>Walks one record: the next of its stream.</summary>
    public void Add(DecisionRecord r)
    {
        if (_broken is not null) return;
        _records++;
        if (IsCheckpoint(r) && !_expected.Contains(r.Id))
        {
            _broken = (r.Id, "it is a checkpoint the store's index of checkpoints does not list: it was taken out of the index, so what it vouched for would go unchecked");
            return;
        }
        if (r.Seal is not { } seal)
        {
            _broken = (r.Id, "it carries no seal, among sealed records: it was added to the store directly");
            return;
        }
        if (!CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(seal.Mac), Encoding.ASCII.GetBytes(TrailChain.Mac(key, r))))
        {
            _broken = (r.Id, $"its content does not match its seal (stream {seal.Stream}, #{seal.Seq}): it was changed after it was written");
            return;
        }
        if (!_streams.TryGetValue(seal.Stream, out var stream))
        {
            if (fromStart && (seal.Seq != 1 || !TrailChain.IsGenesis(seal.Previous, out _)))
            {
                _broken = (r.Id, $"it is #{seal.Seq} of stream {seal.Stream}, but the records before it are missing");
                return;
            }
            if (seal.Seq == 1 && TrailChain.IsGenesis(seal.Previous, out var claimed)) _claimedUnsealed = Math.Max(_claimedUnsealed, claimed);
            stream = (seal.Seq, seal.Seq - 1, seal.Previous);
        }
        else if (seal.Seq != stream.Last + 1)
        {
            _broken = (r.Id, $"it is #{seal.Seq} of stream {seal.Stream}, but #{stream.Last + 1} is missing");
            return;
        }
        else if (seal.Previous != stream.Mac)
        {
            _broken = (r.Id, $"it names a predecessor (#{stream.Last}) whose seal is not the one stored: a record before it was replaced");
            return;
        }
        _streams[seal.Stream] = (stream.First, seal.Seq, seal.Mac);
        if (_vouched.Remove((seal.Stream, seal.Seq), out var claims))
            foreach (var claim in claims.Where(c => c.Mac != seal.Mac))
                FailCheckpoint(claim.Checkpoint, $"it vouched for #{seal.Seq} of stream {seal.Stream} (record {r.Id}) with a MAC that record does not have: the stream was rewritten after the checkpoint", claim.At);
    }

    /// <summary>What the walk found: a break in the chain first, else the earliest checkpoint that does not hold.</summary>
    public TrailVerification Result(long unsealed = 0)
    {
        if (_broken is null && fromStart && _streams.Count > 0 && (unsealed > _claimedUnsealed || exactStart && unsealed != _claimedUnsealed))
            _broken = ("(before the chain)", $"{unsealed:N0} record(s) carry no seal where the chain's start accounts for {_claimedUnsealed:N0} written before records were sealed: " +
                (unsealed > _claimedUnsealed ? "records were added to the store directly" : "records written before the chain were removed"));
        if (_broken is { } broken) return new TrailVerification(false, _records, _streams.Count, broken.Id, broken.Why, unsealed, _checkpoints, _lastCheckpoint);
        // Positions vouched for that the walk never passed: beyond a stream's end (removed), or in a stream not there at all.
        foreach (var ((name, seq), claims) in _vouched)
        {
            string? why = null;
            if (!_streams.TryGetValue(name, out var stream))
            {
                // A walk since a time may start after a stream ended; a walk of the whole trail may not.
                if (fromStart) why = $"it vouched for #{seq} of stream {name}, but that stream is not in the store: its records were removed";
            }
            else if (seq > stream.Last)
                why = $"it vouched for #{seq} of stream {name}, but the stream ends at #{stream.Last}: " +
                    (seq == stream.Last + 1 ? $"record #{seq} was removed" : $"records #{stream.Last + 1} to #{seq} were removed");
            if (why is not null)
                foreach (var claim in claims) FailCheckpoint(claim.Checkpoint, why, claim.At);
        }
        if (_checkpointBroken is { } c) return new TrailVerification(false, _records, _streams.Count, c.Id, c.Why, unsealed, _checkpoints, _lastCheckpoint);
        return new TrailVerification(true, _records, _streams.Count, null, null, unsealed, _checkpoints, _lastCheckpoint);
    }

    private void FailCheckpoint(string id, string why, DateTimeOffset at)
    {
        if (_checkpointBroken is null || at < _checkpointBroken.Value.At) _checkpointBroken = (id, why, at);
    }
}
