using System.Runtime.CompilerServices;

namespace Fleet.Abstractions.Diagnostics;

/// <summary>
/// Grain references on the hot paths without Orleans' per-call type resolution. <c>GetGrain&lt;T&gt;(key)</c> resolves
/// the interface's grain type from its attributes by reflection on every call — about a tenth of a silo's CPU when it
/// judges a hundred thousand reports an interval (dotnet-trace of <c>sim-scale</c>, docs/benchmarks.md). Here the first
/// reference made through a factory gives its grain type and interface type, kept per factory and interface, and every
/// later reference is built from them with <see cref="IGrainFactory.GetGrain(GrainId, GrainInterfaceType)"/> — the same
/// reference Orleans would have built. A reference whose type is not resolved yet (a client before it has the
/// cluster's type map) is not kept.
/// </summary>
public static class GrainReferences
{
    /// <summary>The grain of interface <typeparamref name="T"/> with string key <paramref name="key"/>.</summary>
    public static T Get<T>(IGrainFactory grains, string key) where T : IGrainWithStringKey =>
        Resolved<T>.Of.TryGetValue(grains, out var type)
            ? (T)grains.GetGrain(GrainId.Create(type.Grain, IdSpan.Create(key)), type.Interface)
            : Remember(grains, grains.GetGrain<T>(key));

    /// <summary>The grain of interface <typeparamref name="T"/> with integer key <paramref name="key"/>.</summary>
    public static T Get<T>(IGrainFactory grains, long key) where T : IGrainWithIntegerKey =>
        Resolved<T>.Of.TryGetValue(grains, out var type)
            ? (T)grains.GetGrain(GrainId.Create(type.Grain, GrainIdKeyExtensions.CreateIntegerKey(key)), type.Interface)
            : Remember(grains, grains.GetGrain<T>(key));

    private static T Remember<T>(IGrainFactory grains, T reference)
    {
        if (reference is GrainReference r && !r.GrainId.Type.ToString()!.StartsWith(GrainTypePrefix.SystemPrefix, StringComparison.Ordinal))
            Resolved<T>.Of.TryAdd(grains, new ResolvedType(r.GrainId.Type, r.InterfaceType));
        return reference;
    }

    private sealed record ResolvedType(GrainType Grain, GrainInterfaceType Interface);

    private static class Resolved<T>
    {
        public static readonly ConditionalWeakTable<IGrainFactory, ResolvedType> Of = new();
    }
}
