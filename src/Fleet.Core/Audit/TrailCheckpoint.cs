using System.Collections.Immutable;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Fleet.Abstractions.Audit;

namespace Fleet.Core.Audit;

/// <summary>
/// A signed checkpoint of the trail: at a moment, the end of the streams of the chain its writer names (its position and the
/// MAC of the record there; a writer names every stream whose end moved since its last checkpoint), signed with the cluster's action key (ECDSA P-256; its public half is <c>action-key.pem</c> and
/// <c>GET /api/v1/agents/action-key</c>). It is appended to the trail as a record of kind <c>checkpoint</c> (sealed in its
/// stream as any record), so it reaches the export too. What it adds to the chain: the records it vouches for must still be
/// there, with those MACs — a stream cut short behind a checkpoint is named — and whoever holds only the public key (an
/// auditor with the exported files) can check it without the cluster's secret. The signed bytes begin with their own
/// purpose, so a checkpoint's signature can never pass for an action's.
/// </summary>
public static class TrailCheckpoint
{
    public const string Subject = "trail";
    private const string StreamPrefix = "stream:";

    /// <summary>A stream's end as a checkpoint names it.</summary>
    public readonly record struct End(string Stream, long Seq, string Mac);

    /// <summary>The bytes that are signed: purpose, key, time, then each stream's end in stream order.</summary>
    public static byte[] Payload(string keyId, DateTimeOffset at, IEnumerable<End> ends)
    {
        var b = new StringBuilder();
        void Put(string text) => b.Append(text.Length).Append(':').Append(text).Append(';');
        Put("fleet-trail-checkpoint/v1");
        Put(keyId);
        Put(at.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture));
        foreach (var e in ends.OrderBy(e => e.Stream, StringComparer.Ordinal))
        {
            Put(e.Stream);
            Put(e.Seq.ToString(CultureInfo.InvariantCulture));
            Put(e.Mac);
        }
        return Encoding.UTF8.GetBytes(b.ToString());
    }

    /// <summary>The checkpoint record over <paramref name="ends"/> (streams with no record yet are left out).</summary>
    public static DecisionRecord Make(ECDsa key, string keyId, DateTimeOffset at, IReadOnlyList<End> ends, string actor)
    {
        var signature = Convert.ToBase64String(key.SignData(Payload(keyId, at, ends), HashAlgorithmName.SHA256));
        var evidence = ImmutableDictionary.CreateBuilder<string, string>();
        foreach (var e in ends) evidence[StreamPrefix + e.Stream] = $"{e.Seq.ToString(CultureInfo.InvariantCulture)} {e.Mac}";
        evidence["key"] = keyId;
        evidence["signature"] = signature;
        var reason = ends.Count == 1
            ? $"Checkpoint: stream {ends[0].Stream} ends at #{ends[0].Seq}; signed with the cluster's action key {keyId}."
            : $"Checkpoint: {ends.Count} streams, {ends.Sum(e => e.Seq)} records; signed with the cluster's action key {keyId}.";
        return new DecisionRecord(Guid.CreateVersion7(at).ToString("N"), at, actor, Subject, DecisionKinds.Checkpoint, null, reason,
            evidence.ToImmutable(), null, 0, null, null, null, null);
    }

    /// <summary>The ends a checkpoint record names, or null with why when it is not a well-formed, validly signed checkpoint.</summary>
    public static (IReadOnlyList<End>? Ends, string? Why) Read(ECDsa publicKey, DecisionRecord r)
    {
        if (!r.Evidence.TryGetValue("key", out var keyId) || !r.Evidence.TryGetValue("signature", out var signatureText))
            return (null, "it is a checkpoint without a key or a signature");
        var ends = new List<End>();
        foreach (var (k, v) in r.Evidence)
        {
            if (!k.StartsWith(StreamPrefix, StringComparison.Ordinal)) continue;
            var parts = v.Split(' ', 2);
            if (parts.Length != 2 || !long.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var seq))
                return (null, $"its end of stream {k[StreamPrefix.Length..]} is not '<position> <mac>'");
            ends.Add(new End(k[StreamPrefix.Length..], seq, parts[1]));
        }
        byte[] signature;
        try { signature = Convert.FromBase64String(signatureText); }
        catch (FormatException) { return (null, "its signature is not base64"); }
        if (!publicKey.VerifyData(Payload(keyId, r.Time, ends), signature, HashAlgorithmName.SHA256))
            return (null, $"its signature does not verify with the cluster's action key (key {keyId})");
        return (ends, null);
    }
}
