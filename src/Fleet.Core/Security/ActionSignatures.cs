using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using Fleet.Abstractions.Actions;
using Fleet.Abstractions.Agents;

namespace Fleet.Core.Security;

/// <summary>
/// How the cluster signs an action for an agent and how the agent checks it: ECDSA P-256 with SHA-256 over a canonical
/// encoding of everything the agent acts on — the idempotency key, the node, the subject, the action, its reason, the lease,
/// its parameters (sorted) and the expiry. Changing any of them breaks the signature.
/// </summary>
public static class ActionSignatures
{
    /// <summary>How far the agent's clock may lie behind or ahead of the silo's, either way.</summary>
    public static readonly TimeSpan ClockSkew = TimeSpan.FromSeconds(30);

    /// <summary>The longest a signature may be valid for (a longer one is refused as if expired: nothing is signed for ever).</summary>
    public static readonly TimeSpan MaxLifetime = TimeSpan.FromMinutes(15);

    /// <summary>The bytes that are signed.</summary>
    public static byte[] Payload(ActionRequest r, string node, DateTimeOffset expiresAt, string keyId)
    {
        using var buffer = new MemoryStream();
        void Put(string? text)
        {
            var bytes = text is null ? [] : Encoding.UTF8.GetBytes(text);
            Span<byte> length = stackalloc byte[5];
            length[0] = text is null ? (byte)0 : (byte)1;
            BinaryPrimitives.WriteInt32BigEndian(length[1..], bytes.Length);
            buffer.Write(length);
            buffer.Write(bytes);
        }
        Put("fleet-action/v1");
        Put(keyId);
        Put(r.IdempotencyKey);
        Put(node);
        Put(r.Target);
        Put(r.Subject);
        Put(r.Action);
        Put(r.Reason);
        Put(r.LeaseId);
        Put(expiresAt.ToUnixTimeMilliseconds().ToString(System.Globalization.CultureInfo.InvariantCulture));
        foreach (var (k, v) in r.Parameters.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            Put(k);
            Put(v);
        }
        return buffer.ToArray();
    }

    public static SignedAction Sign(ECDsa key, string keyId, ActionRequest request, string node, DateTimeOffset expiresAt) =>
        new(request, node, expiresAt, keyId,
            Convert.ToBase64String(key.SignData(Payload(request, node, expiresAt, keyId), HashAlgorithmName.SHA256)));

    /// <summary>Why a signed action must not run on <paramref name="node"/> now (its refusal kind and a sentence), or null when it may.</summary>
    public static (string Kind, string Why)? Check(ECDsa? publicKey, SignedAction a, string node, DateTimeOffset now)
    {
        if (publicKey is null)
            return (AgentRefusalKinds.NoActionKey, "this agent has no cluster action key (cluster.actionKeyFile), so it runs no action");
        if (string.IsNullOrEmpty(a.Signature)) return (AgentRefusalKinds.Unsigned, "the request carries no signature");
        byte[] signature;
        try { signature = Convert.FromBase64String(a.Signature); }
        catch (FormatException) { return (AgentRefusalKinds.BadSignature, "the signature is not base64"); }
        if (!publicKey.VerifyData(Payload(a.Request, a.Node, a.ExpiresAt, a.KeyId), signature, HashAlgorithmName.SHA256))
            return (AgentRefusalKinds.BadSignature, "the signature does not verify with the cluster's action key (forged, altered or signed by another cluster)");
        if (a.Node != node) return (AgentRefusalKinds.OtherNode, $"it was signed for node {a.Node}, not this node ({node})");
        if (a.ExpiresAt + ClockSkew < now) return (AgentRefusalKinds.Expired, $"it expired at {a.ExpiresAt:O} (now {now:O})");
        if (a.ExpiresAt - now > MaxLifetime + ClockSkew)
            return (AgentRefusalKinds.Expired, $"it is valid until {a.ExpiresAt:O}, more than {MaxLifetime.TotalMinutes:0} min ahead: no action is signed for that long");
        return null;
    }
}
