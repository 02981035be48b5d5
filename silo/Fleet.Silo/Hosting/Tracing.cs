using Fleet.Grains.Telemetry;
using OpenTelemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Fleet.Silo.Hosting;

/// <summary>
/// Traces of remediation cases over OTLP/HTTP (protobuf): Fleet's case spans, and the grain calls made inside them
/// (Orleans' activity propagation). Only case traces are kept: a span with no parent is kept when it is a case's root,
/// and a span with a parent is kept when its parent was — so the millions of grain calls outside any case cost nothing.
/// </summary>
public static class Tracing
{
    public static WebApplicationBuilder AddFleetTracing(this WebApplicationBuilder builder, string endpoint)
    {
        var url = new Uri(endpoint);
        if (url.AbsolutePath is "" or "/") url = new Uri(url, "/v1/traces");
        builder.Services.AddOpenTelemetry()
            .ConfigureResource(r => r.AddService("fleet-silo"))
            .WithTracing(t => t
                .AddSource(CaseTracing.SourceName, "Microsoft.Orleans.Application")
                .SetSampler(new CaseSampler())
                .AddOtlpExporter(o =>
                {
                    o.Endpoint = url;
                    o.Protocol = OtlpExportProtocol.HttpProtobuf;
                    o.BatchExportProcessorOptions.ScheduledDelayMilliseconds = 1000;
                }));
        return builder;
    }

    /// <summary>Keeps case roots and whatever descends from a kept span; drops every other root.</summary>
    private sealed class CaseSampler : Sampler
    {
        public override SamplingResult ShouldSample(in SamplingParameters p) =>
            p.ParentContext.TraceId != default
                ? new SamplingResult(p.ParentContext.TraceFlags.HasFlag(System.Diagnostics.ActivityTraceFlags.Recorded) ? SamplingDecision.RecordAndSample : SamplingDecision.Drop)
                : new SamplingResult(p.Name == "fleet.case" ? SamplingDecision.RecordAndSample : SamplingDecision.Drop);
    }
}
