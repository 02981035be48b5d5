using ProtoBuf;

namespace Fleet.Silo.Intake;

// The messages intake reads, declared from the public specifications by field number (only the fields Fleet uses; the
// reader skips the rest): Prometheus remote-write 1.0 (prompb WriteRequest) and OTLP metrics (ExportMetricsServiceRequest).
// Nothing recursive is declared, so no message can nest deeper than these types do.

/// <summary>Prometheus remote-write 1.0: <c>WriteRequest</c>.</summary>
[ProtoContract]
public sealed class WriteRequest
{
    [ProtoMember(1)] public List<TimeSeries> Timeseries { get; set; } = [];
}

[ProtoContract]
public sealed class TimeSeries
{
    [ProtoMember(1)] public List<PromLabel> Labels { get; set; } = [];
    [ProtoMember(2)] public List<PromSample> Samples { get; set; } = [];
}

[ProtoContract]
public sealed class PromLabel
{
    [ProtoMember(1)] public string Name { get; set; } = "";
    [ProtoMember(2)] public string Value { get; set; } = "";
}

[ProtoContract]
public sealed class PromSample
{
    [ProtoMember(1)] public double Value { get; set; }
    [ProtoMember(2)] public long Timestamp { get; set; }
}

/// <summary>OTLP metrics: <c>ExportMetricsServiceRequest</c>.</summary>
[ProtoContract]
public sealed class ExportMetricsServiceRequest
{
    [ProtoMember(1)] public List<ResourceMetrics> ResourceMetrics { get; set; } = [];
}

[ProtoContract]
public sealed class ResourceMetrics
{
    [ProtoMember(1)] public OtlpResource? Resource { get; set; }
    [ProtoMember(2)] public List<ScopeMetrics> ScopeMetrics { get; set; } = [];
}

[ProtoContract]
public sealed class OtlpResource
{
    [ProtoMember(1)] public List<OtlpKeyValue> Attributes { get; set; } = [];
}

[ProtoContract]
public sealed class ScopeMetrics
{
    [ProtoMember(2)] public List<OtlpMetric> Metrics { get; set; } = [];
}

[ProtoContract]
public sealed class OtlpMetric
{
    [ProtoMember(1)] public string Name { get; set; } = "";
    [ProtoMember(3)] public string Unit { get; set; } = "";
    [ProtoMember(5)] public OtlpGauge? Gauge { get; set; }
    [ProtoMember(7)] public OtlpSum? Sum { get; set; }
    [ProtoMember(9)] public OtlpHistogram? Histogram { get; set; }
}

[ProtoContract]
public sealed class OtlpHistogram
{
    [ProtoMember(1)] public List<HistogramDataPoint> DataPoints { get; set; } = [];

    /// <summary>1 delta, 2 cumulative.</summary>
    [ProtoMember(2)] public int AggregationTemporality { get; set; }
}

/// <summary>An explicit-bucket histogram point: <see cref="BucketCounts"/> has one more entry than <see cref="ExplicitBounds"/>.</summary>
[ProtoContract]
public sealed class HistogramDataPoint
{
    [ProtoMember(2, DataFormat = DataFormat.FixedSize)] public ulong StartTimeUnixNano { get; set; }
    [ProtoMember(3, DataFormat = DataFormat.FixedSize)] public ulong TimeUnixNano { get; set; }
    [ProtoMember(4, DataFormat = DataFormat.FixedSize)] public ulong Count { get; set; }
    [ProtoMember(6, DataFormat = DataFormat.FixedSize, IsPacked = true)] public List<ulong> BucketCounts { get; set; } = [];
    [ProtoMember(7, IsPacked = true)] public List<double> ExplicitBounds { get; set; } = [];
    [ProtoMember(9)] public List<OtlpKeyValue> Attributes { get; set; } = [];

    /// <summary>Bit 0: no recorded value.</summary>
    [ProtoMember(10)] public uint Flags { get; set; }
}

[ProtoContract]
public sealed class OtlpGauge
{
    [ProtoMember(1)] public List<NumberDataPoint> DataPoints { get; set; } = [];
}

[ProtoContract]
public sealed class OtlpSum
{
    [ProtoMember(1)] public List<NumberDataPoint> DataPoints { get; set; } = [];

    /// <summary>1 delta, 2 cumulative.</summary>
    [ProtoMember(2)] public int AggregationTemporality { get; set; }
}

[ProtoContract]
public sealed class NumberDataPoint
{
    [ProtoMember(3, DataFormat = DataFormat.FixedSize)] public ulong TimeUnixNano { get; set; }
    [ProtoMember(4)] public double AsDouble { get; set; }

    [ProtoMember(6, DataFormat = DataFormat.FixedSize)]
    public long AsInt
    {
        get => _asInt;
        set { _asInt = value; IsInt = true; }
    }
    private long _asInt;

    [ProtoMember(7)] public List<OtlpKeyValue> Attributes { get; set; } = [];

    /// <summary>Bit 0: no recorded value (the point is stale).</summary>
    [ProtoMember(8)] public uint Flags { get; set; }

    /// <summary>Which of the two values was sent (OTLP's oneof).</summary>
    public bool IsInt { get; private set; }

    public double Value => IsInt ? _asInt : AsDouble;
}

[ProtoContract]
public sealed class OtlpKeyValue
{
    [ProtoMember(1)] public string Key { get; set; } = "";
    [ProtoMember(2)] public OtlpAnyValue? Value { get; set; }
}

/// <summary>The scalar kinds of <c>AnyValue</c>; arrays, maps and bytes are skipped (they name no node or series).</summary>
[ProtoContract]
public sealed class OtlpAnyValue
{
    [ProtoMember(1)] public string? StringValue { get; set; }
    [ProtoMember(2)] public bool BoolValue { get; set; }
    [ProtoMember(3)] public long IntValue { get; set; }
    [ProtoMember(4)] public double DoubleValue { get; set; }

    public string Text => StringValue ?? (IntValue != 0 ? IntValue.ToString(System.Globalization.CultureInfo.InvariantCulture)
        : DoubleValue != 0 ? DoubleValue.ToString(System.Globalization.CultureInfo.InvariantCulture) : BoolValue ? "true" : "");
}
