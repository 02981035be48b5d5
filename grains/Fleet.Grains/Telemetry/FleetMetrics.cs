using System.Diagnostics.Metrics;
using Fleet.Abstractions.Nodes;

namespace Fleet.Grains.Telemetry;

/// <summary>Fleet's own instruments (meter <c>Fleet</c>): nodes by health, reports, actions, denials, decision latency.</summary>
public sealed class FleetMetrics : IDisposable
{
    public const string MeterName = "Fleet";
    private readonly Meter _meter = new(MeterName, "1.0");
    private readonly long[] _byHealth = new long[Enum.GetValues<HealthState>().Length];
    private readonly Counter<long> _reports;
    private readonly Counter<long> _actions;
    private readonly Counter<long> _denials;
    private readonly Counter<long> _clientErrors;
    private readonly Counter<long> _gatewayRefusals;
    private readonly Histogram<double> _decisionLatency;

    public FleetMetrics()
    {
        _meter.CreateObservableGauge("fleet.nodes", ObserveNodes, "{node}", "Nodes active on this silo, by health");
        _reports = _meter.CreateCounter<long>("fleet.reports", "{report}", "Telemetry reports received, by outcome");
        _actions = _meter.CreateCounter<long>("fleet.actions", "{action}", "Actions executed, by action and outcome");
        _denials = _meter.CreateCounter<long>("fleet.lease.denials", "{denial}", "Lease requests denied, by guardrail");
        _clientErrors = _meter.CreateCounter<long>("fleet.http.client_errors", "{error}", "HTTP requests answered 4xx (the caller's mistakes), by route and reason");
        _gatewayRefusals = _meter.CreateCounter<long>("fleet.gateway.refusals", "{call}", "Calls through the gateway refused, by reason");
        _decisionLatency = _meter.CreateHistogram<double>("fleet.decision.latency", "s", "Time to judge a report or tick and decide what to do");
    }

    private IEnumerable<Measurement<long>> ObserveNodes()
    {
        foreach (var state in Enum.GetValues<HealthState>())
            yield return new Measurement<long>(Interlocked.Read(ref _byHealth[(int)state]), new KeyValuePair<string, object?>("health", state.ToString()));
    }

    public void NodeEntered(HealthState state) => Interlocked.Increment(ref _byHealth[(int)state]);

    public void NodeLeft(HealthState state) => Interlocked.Decrement(ref _byHealth[(int)state]);

    public void NodeMoved(HealthState from, HealthState to)
    {
        if (from == to) return;
        NodeLeft(from);
        NodeEntered(to);
    }

    public long CountOf(HealthState state) => Interlocked.Read(ref _byHealth[(int)state]);

    public void ClientError(string route, string reason) =>
        _clientErrors.Add(1, new KeyValuePair<string, object?>("route", route), new KeyValuePair<string, object?>("reason", reason));

    public void GatewayRefusal(string reason) => _gatewayRefusals.Add(1, new KeyValuePair<string, object?>("reason", reason));

    public void Report(ReportOutcome outcome) => _reports.Add(1, new KeyValuePair<string, object?>("outcome", outcome.ToString()));

    public void Action(string action, bool succeeded) =>
        _actions.Add(1, new("action", action), new("outcome", succeeded ? "succeeded" : "failed"));

    public void Denial(string guardrail) => _denials.Add(1, new KeyValuePair<string, object?>("guardrail", guardrail));

    public void Decision(TimeSpan elapsed) => _decisionLatency.Record(elapsed.TotalSeconds);

    public void Dispose() => _meter.Dispose();
}
