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
        Put(r.Time.ToUnixTimeMilliseconds().ToString(System.Globalization.CultureInfo.InvariantCulture));
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
    /// Checks one stream's records, in their order in the stream. <paramref name="fromStart"/>: the first record must be the
    /// stream's first (a walk of the whole trail); otherwise the first record's predecessor is taken on trust (a walk since
    /// a time). Null when the chain holds; else the id of the first record that breaks it and why.
    /// </summary>
    public static (string RecordId, string Why)? Verify(byte[] key, IReadOnlyList<DecisionRecord> stream, bool fromStart)
    {
        string? previous = null;
        long? seq = null;
        foreach (var r in stream)
        {
            if (r.Seal is not { } seal) return (r.Id, "it carries no seal");
            if (!CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(seal.Mac), Encoding.ASCII.GetBytes(Mac(key, r))))
                return (r.Id, $"its content does not match its seal (stream {seal.Stream}, #{seal.Seq}): it was changed after it was written");
            if (seq is null)
            {
                if (fromStart && (seal.Seq != 1 || seal.Previous != Genesis))
                    return (r.Id, $"it is #{seal.Seq} of stream {seal.Stream}, but the records before it are missing");
            }
            else
            {
                if (seal.Seq != seq + 1) return (r.Id, $"it is #{seal.Seq} of stream {seal.Stream}, but #{seq + 1} is missing");
                if (seal.Previous != previous) return (r.Id, $"it names a predecessor (#{seq}) whose seal is not the one stored: a record before it was replaced");
            }
            previous = seal.Mac;
            seq = seal.Seq;
        }
        return null;
    }

    /// <summary>
    /// Checks every stream among <paramref name="records"/> (each in its own order) and says whether the chain holds; the
    /// first break found names its record. <paramref name="unsealed"/>: records older than the chain (written before records
    /// were sealed), counted apart. With <paramref name="checkpointKey"/>, every checkpoint among the records is checked
    /// too: its signature, and that each position it vouched for is still there with the MAC it named.
    /// </summary>
    public static TrailVerification VerifyAll(byte[] key, IEnumerable<DecisionRecord> records, bool fromStart, long unsealed = 0,
        System.Security.Cryptography.ECDsa? checkpointKey = null)
    {
        var all = records.ToList();
        if (all.FirstOrDefault(r => r.Seal is null) is { } bare)
            return new TrailVerification(false, all.Count, 0, bare.Id, "it carries no seal, among sealed records: it was added to the store directly", unsealed);
        var streams = all.GroupBy(r => r.Seal!.Stream).ToDictionary(g => g.Key, g => g.OrderBy(r => r.Seal!.Seq).ToList());
        foreach (var (_, stream) in streams)
            if (Verify(key, stream, fromStart) is { } broken)
                return new TrailVerification(false, all.Count, streams.Count, broken.RecordId, broken.Why, unsealed);
        var checkpoints = all.Where(r => r.Kind == DecisionKinds.Checkpoint && r.Subject == TrailCheckpoint.Subject).OrderBy(r => r.Time).ToList();
        if (checkpointKey is not null)
            foreach (var checkpoint in checkpoints)
                if (CheckCheckpoint(checkpointKey, checkpoint, streams, fromStart) is { } why)
                    return new TrailVerification(false, all.Count, streams.Count, checkpoint.Id, why, unsealed, checkpoints.Count);
        return new TrailVerification(true, all.Count, streams.Count, null, null, unsealed, checkpoints.Count, checkpoints.LastOrDefault()?.Time);
    }

    /// <summary>Why a checkpoint does not hold against the streams as stored, or null when it does.</summary>
    private static string? CheckCheckpoint(System.Security.Cryptography.ECDsa publicKey, DecisionRecord checkpoint,
        Dictionary<string, List<DecisionRecord>> streams, bool fromStart)
    {
        var (ends, why) = TrailCheckpoint.Read(publicKey, checkpoint);
        if (ends is null) return why;
        foreach (var end in ends)
        {
            if (!streams.TryGetValue(end.Stream, out var stream) || stream.Count == 0)
            {
                // A walk since a time may start after a stream ended; a walk of the whole trail may not.
                if (fromStart) return $"it vouched for #{end.Seq} of stream {end.Stream}, but that stream is not in the store: its records were removed";
                continue;
            }
            var (first, last) = (stream[0].Seal!.Seq, stream[^1].Seal!.Seq);
            if (end.Seq > last)
                return $"it vouched for #{end.Seq} of stream {end.Stream}, but the stream ends at #{last}: " +
                    (end.Seq == last + 1 ? $"record #{end.Seq} was removed" : $"records #{last + 1} to #{end.Seq} were removed");
            if (end.Seq < first) continue;
            var there = stream[(int)(end.Seq - first)];
            if (there.Seal!.Mac != end.Mac)
                return $"it vouched for #{end.Seq} of stream {end.Stream} (record {there.Id}) with a MAC that record does not have: the stream was rewritten after the checkpoint";
        }
        return null;
    }
}
