using Fleet.Core.Security;
using System.Collections.Concurrent;
using System.Reflection;
using System.Security.Cryptography;
using System.Text;

namespace Fleet.Grains.Security;

/// <summary>
/// How a silo tells its cluster's own grain calls from a client's: every call a silo sends to a grain or system target
/// carries a stamp in its request context, an HMAC-SHA256 (with <see cref="ClusterKeys.StampKey"/>) over the minute it was
/// sent, the target's grain type and the method. A client has no key and cannot make one; a stamp it somehow saw opens
/// only that method of that grain type for a few minutes. Whatever a message says about its sender (a client id, a grain
/// id) is never read. Stamps are made once a minute per method and type and kept, so a call costs a dictionary look-up.
/// </summary>
public sealed class CallStamps(ClusterKeys keys, TimeProvider time)
{
    /// <summary>The request-context entry that carries the stamp.</summary>
    public const string ContextKey = "fleet.stamp";

    /// <summary>How far a stamp's minute may lie from the receiver's clock, either way (silos' clocks may differ this much).</summary>
    public const int SkewMinutes = 5;

    private readonly ConcurrentDictionary<(long Minute, GrainType Type, MethodInfo Method), string> _made = new();
    private static readonly ConcurrentDictionary<MethodInfo, byte[]> MethodNames = new();
    private long _prunedAt;

    /// <summary>The stamp for a call to <paramref name="target"/>'s <paramref name="method"/> sent now.</summary>
    public string Make(GrainId target, MethodInfo method) => Stamp(Minute(), target.Type, method);

    /// <summary>Whether <paramref name="stamp"/> is this cluster's stamp for a call to this target's method, made within the skew.</summary>
    public bool Verify(string? stamp, GrainId target, MethodInfo method)
    {
        if (stamp is null || stamp.Length > 64) return false;
        var colon = stamp.IndexOf(':');
        if (colon <= 0 || !long.TryParse(stamp.AsSpan(0, colon), System.Globalization.NumberStyles.None, null, out var minute)) return false;
        if (Math.Abs(minute - Minute()) > SkewMinutes) return false;
        var expected = Stamp(minute, target.Type, method);
        return CryptographicOperations.FixedTimeEquals(System.Runtime.InteropServices.MemoryMarshal.AsBytes(stamp.AsSpan()),
            System.Runtime.InteropServices.MemoryMarshal.AsBytes(expected.AsSpan()));
    }

    private long Minute() => time.GetUtcNow().ToUnixTimeSeconds() / 60;

    private string Stamp(long minute, GrainType type, MethodInfo method)
    {
        if (_made.TryGetValue((minute, type, method), out var known)) return known;
        Prune(minute);
        var name = MethodNames.GetOrAdd(method, m => Encoding.UTF8.GetBytes($"{m.DeclaringType?.FullName}.{m.Name}/{m.GetParameters().Length}"));
        var typeBytes = type.AsSpan();
        var input = new byte[8 + 1 + typeBytes.Length + 1 + name.Length];
        BitConverter.TryWriteBytes(input, minute);
        typeBytes.CopyTo(input.AsSpan(9));
        name.CopyTo(input, 10 + typeBytes.Length);
        Span<byte> mac = stackalloc byte[32];
        HMACSHA256.HashData(keys.StampKey, input, mac);
        var stamp = $"{minute}:{Convert.ToBase64String(mac[..16]).TrimEnd('=').Replace('+', '-').Replace('/', '_')}";
        return _made.GetOrAdd((minute, type, method), stamp);
    }

    /// <summary>Stamps of minutes outside the skew are dropped (at most once a minute).</summary>
    private void Prune(long minute)
    {
        var last = Interlocked.Read(ref _prunedAt);
        if (minute <= last || Interlocked.CompareExchange(ref _prunedAt, minute, last) != last) return;
        foreach (var key in _made.Keys)
            if (Math.Abs(key.Minute - minute) > SkewMinutes + 1) _made.TryRemove(key, out _);
    }
}
