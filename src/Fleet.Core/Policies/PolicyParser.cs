using System.Collections.Immutable;
using System.Globalization;
using System.Text.RegularExpressions;
using Fleet.Abstractions.Actions;
using Fleet.Abstractions.Policy;
using Fleet.Abstractions.Supervision;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Fleet.Core.Policies;

public sealed record PolicyParseResult(FleetPolicy? Policy, ImmutableArray<PolicyProblem> Problems)
{
    public bool IsValid => Policy is not null && Problems.IsEmpty;
}

/// <summary>
/// Reads a YAML policy document. Every field is optional and falls back to the built-in default; every problem
/// (syntax, unknown field, bad value, a rule across fields) is reported by its path in the document, all at once.
/// </summary>
public static partial class PolicyParser
{
    [GeneratedRegex("^[a-z][a-z0-9-]{0,63}$")]
    private static partial Regex ActionName();

    public static PolicyParseResult Parse(string yaml, int version = 0)
    {
        var problems = ImmutableArray.CreateBuilder<PolicyProblem>();
        YamlMappingNode root;
        try
        {
            var stream = new YamlStream();
            stream.Load(new StringReader(yaml ?? ""));
            if (stream.Documents.Count == 0) return new(FleetPolicy.Default with { Version = version }, []);
            if (stream.Documents[0].RootNode is YamlScalarNode { Value: null or "" or "~" })
                return new(FleetPolicy.Default with { Version = version }, []);
            if (stream.Documents[0].RootNode is not YamlMappingNode map)
                return new(null, [new PolicyProblem("(document)", "the document must be a mapping of sections (telemetry, health, forecast, remediation, guardrails)", Line(stream.Documents[0].RootNode))]);
            root = map;
        }
        catch (YamlException e)
        {
            return new(null, [new PolicyProblem("(document)", $"not valid YAML: {e.InnerException?.Message ?? e.Message}", (int)e.Start.Line)]);
        }

        var r = new Reader(problems);
        var d = FleetPolicy.Default;
        r.Known(root, "", "telemetry", "health", "forecast", "remediation", "guardrails", "actions");

        var t = r.Section(root, "telemetry");
        var telemetry = new TelemetryPolicy(
            r.Duration(t, "telemetry.reportInterval", d.Telemetry.ReportInterval, TimeSpan.FromMilliseconds(100), TimeSpan.FromHours(1)),
            r.Int(t, "telemetry.allowedMisses", d.Telemetry.AllowedMisses, 1, 100),
            r.Duration(t, "telemetry.maxTtl", d.Telemetry.MaxTtl, TimeSpan.FromMilliseconds(100), TimeSpan.FromHours(24)));
        r.Known(t, "telemetry", "reportInterval", "allowedMisses", "maxTtl");

        var h = r.Section(root, "health");
        var health = new HealthPolicy(
            r.Double(h, "health.cpuDegradedPercent", d.Health.CpuDegradedPercent, 1, 100),
            r.Double(h, "health.memoryDegradedPercent", d.Health.MemoryDegradedPercent, 1, 100),
            r.Double(h, "health.diskDegradedPercent", d.Health.DiskDegradedPercent, 1, 100),
            r.Int(h, "health.degradeAfterReports", d.Health.DegradeAfterReports, 1, 100),
            r.Int(h, "health.unhealthyAfterFailedReports", d.Health.UnhealthyAfterFailedReports, 1, 100),
            r.Int(h, "health.recoverAfterReports", d.Health.RecoverAfterReports, 1, 100));
        r.Known(h, "health", "cpuDegradedPercent", "memoryDegradedPercent", "diskDegradedPercent", "degradeAfterReports", "unhealthyAfterFailedReports", "recoverAfterReports");

        var f = r.Section(root, "forecast");
        var forecast = new ForecastPolicy(
            r.Bool(f, "forecast.enabled", d.Forecast.Enabled),
            r.Duration(f, "forecast.horizon", d.Forecast.Horizon, TimeSpan.FromSeconds(1), TimeSpan.FromDays(30)),
            r.Int(f, "forecast.minSamples", d.Forecast.MinSamples, 2, 10_000),
            r.Int(f, "forecast.maxSamples", d.Forecast.MaxSamples, 2, 10_000),
            r.Action(f, "forecast.action", d.Forecast.Action));
        r.Known(f, "forecast", "enabled", "horizon", "minSamples", "maxSamples", "action");
        if (forecast.MaxSamples < forecast.MinSamples)
            r.Problem(f, "forecast.maxSamples", $"must be at least forecast.minSamples ({forecast.MinSamples}), was {forecast.MaxSamples}");
        if (forecast.Action == Fleet.Abstractions.Actions.ActionNames.Human)
            r.Problem(f, "forecast.action", "a preventive action must be something the fleet can do, not 'human'");

        var m = r.Section(root, "remediation");
        var ladder = r.Ladder(m, d.Remediation.Ladder);
        var remediation = new RemediationPolicy(ladder,
            r.Duration(m, "remediation.cooldown", d.Remediation.Cooldown, TimeSpan.Zero, TimeSpan.FromDays(1)),
            r.Double(m, "remediation.backoffMultiplier", d.Remediation.BackoffMultiplier, 1, 10),
            r.Duration(m, "remediation.maxCooldown", d.Remediation.MaxCooldown, TimeSpan.Zero, TimeSpan.FromDays(7)),
            r.Duration(m, "remediation.probation", d.Remediation.Probation, TimeSpan.Zero, TimeSpan.FromDays(1)),
            r.Duration(m, "remediation.flapWindow", d.Remediation.FlapWindow, TimeSpan.Zero, TimeSpan.FromDays(30)));
        r.Known(m, "remediation", "ladder", "cooldown", "backoffMultiplier", "maxCooldown", "probation", "flapWindow");
        if (remediation.MaxCooldown < remediation.Cooldown)
            r.Problem(m, "remediation.maxCooldown", $"must be at least remediation.cooldown ({Durations.Write(remediation.Cooldown)})");

        var g = r.Section(root, "guardrails");
        var guardrails = new GuardrailPolicy(
            r.Int(g, "guardrails.maxConcurrentPerDomain", d.Guardrails.MaxConcurrentPerDomain, 0, 10_000),
            r.Int(g, "guardrails.maxActionsPerWindow", d.Guardrails.MaxActionsPerWindow, 0, 1_000_000),
            r.Duration(g, "guardrails.window", d.Guardrails.Window, TimeSpan.FromSeconds(1), TimeSpan.FromDays(7)),
            r.Double(g, "guardrails.stormThreshold", d.Guardrails.StormThreshold, 0.01, 1),
            r.Int(g, "guardrails.stormMinMembers", d.Guardrails.StormMinMembers, 1, 1_000_000),
            r.Duration(g, "guardrails.stormCooldown", d.Guardrails.StormCooldown, TimeSpan.Zero, TimeSpan.FromDays(1)),
            r.Duration(g, "guardrails.leaseDuration", d.Guardrails.LeaseDuration, TimeSpan.FromSeconds(1), TimeSpan.FromDays(1)),
            r.Int(g, "guardrails.fleetMaxConcurrent", d.Guardrails.FleetMaxConcurrent, 0, 1_000_000));
        r.Known(g, "guardrails", "maxConcurrentPerDomain", "maxActionsPerWindow", "window", "stormThreshold", "stormMinMembers", "stormCooldown", "leaseDuration", "fleetMaxConcurrent");
        var longestVerify = ladder.IsDefaultOrEmpty ? TimeSpan.Zero : ladder.Max(s => s.VerifyWindow);
        if (guardrails.LeaseDuration < longestVerify)
            r.Problem(g, "guardrails.leaseDuration", $"must be at least the longest verify window of the ladder ({Durations.Write(longestVerify)}), or leases expire mid-verification");

        var actions = r.Actions(root);

        if (problems.Count > 0) return new(null, problems.ToImmutable());
        return new(new FleetPolicy(version, telemetry, health, forecast, remediation, guardrails) { Actions = actions }, []);
    }

    private static int? Line(YamlNode? node) => node is null ? null : (int)node.Start.Line;

    private sealed class Reader(ImmutableArray<PolicyProblem>.Builder problems)
    {
        public void Problem(YamlNode? node, string path, string message) => problems.Add(new PolicyProblem(path, message, Line(node)));

        public YamlMappingNode? Section(YamlMappingNode parent, string key)
        {
            var node = Get(parent, key);
            if (node is null or YamlScalarNode { Value: null or "" or "~" }) return null;
            if (node is YamlMappingNode map) return map;
            Problem(node, key, "must be a mapping of fields");
            return null;
        }

        public void Known(YamlMappingNode? map, string path, params string[] keys)
        {
            if (map is null) return;
            foreach (var key in map.Children.Keys)
            {
                var name = (key as YamlScalarNode)?.Value ?? "?";
                if (!keys.Contains(name))
                    Problem(key, path.Length == 0 ? name : $"{path}.{name}", $"unknown field; accepted: {string.Join(", ", keys)}");
            }
        }

        private static YamlNode? Get(YamlMappingNode? map, string key) =>
            map is not null && map.Children.TryGetValue(new YamlScalarNode(key), out var v) ? v : null;

        private string? Scalar(YamlMappingNode? map, string path, out YamlNode? node)
        {
            node = Get(map, path[(path.LastIndexOf('.') + 1)..]);
            if (node is null) return null;
            if (node is YamlScalarNode s) return s.Value;
            Problem(node, path, "must be a single value");
            return null;
        }

        public TimeSpan Duration(YamlMappingNode? map, string path, TimeSpan fallback, TimeSpan min, TimeSpan max)
        {
            var text = Scalar(map, path, out var node);
            if (text is null) return fallback;
            if (!Durations.TryParse(text, out var value))
            {
                Problem(node, path, $"'{text}' is not a duration; write e.g. 500ms, 10s, 5m, 1h30m");
                return fallback;
            }
            if (value < min || value > max)
                Problem(node, path, $"{Durations.Write(value)} is out of range; accepted {Durations.Write(min)} to {Durations.Write(max)}");
            return value;
        }

        public int Int(YamlMappingNode? map, string path, int fallback, int min, int max)
        {
            var text = Scalar(map, path, out var node);
            if (text is null) return fallback;
            if (!int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value))
            {
                Problem(node, path, $"'{text}' is not a whole number");
                return fallback;
            }
            if (value < min || value > max) Problem(node, path, $"{value} is out of range; accepted {min} to {max}");
            return value;
        }

        public double Double(YamlMappingNode? map, string path, double fallback, double min, double max)
        {
            var text = Scalar(map, path, out var node);
            if (text is null) return fallback;
            if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || !double.IsFinite(value))
            {
                Problem(node, path, $"'{text}' is not a number");
                return fallback;
            }
            if (value < min || value > max)
                Problem(node, path, $"{value.ToString(CultureInfo.InvariantCulture)} is out of range; accepted {min.ToString(CultureInfo.InvariantCulture)} to {max.ToString(CultureInfo.InvariantCulture)}");
            return value;
        }

        public bool Bool(YamlMappingNode? map, string path, bool fallback)
        {
            var text = Scalar(map, path, out var node);
            if (text is null) return fallback;
            if (bool.TryParse(text, out var value)) return value;
            Problem(node, path, $"'{text}' is not true or false");
            return fallback;
        }

        public string Action(YamlMappingNode? map, string path, string fallback)
        {
            var text = Scalar(map, path, out var node);
            if (text is null) return fallback;
            if (ActionName().IsMatch(text)) return text;
            Problem(node, path, $"'{text}' is not an action name (lower-case letters, digits and '-', starting with a letter)");
            return fallback;
        }

        /// <summary>The <c>actions</c> section: a mapping of action name to its catalogue row (verb, class, effect, actuator).</summary>
        public ImmutableArray<ActionSpec> Actions(YamlMappingNode root)
        {
            var node = Get(root, "actions");
            if (node is null or YamlScalarNode { Value: null or "" or "~" }) return [];
            if (node is not YamlMappingNode map)
            {
                Problem(node, "actions", "must be a mapping of action name to its fields (verb, class, effect, actuator)");
                return [];
            }
            var rows = ImmutableArray.CreateBuilder<ActionSpec>();
            foreach (var (key, value) in map.Children)
            {
                var name = (key as YamlScalarNode)?.Value ?? "";
                var path = $"actions.{name}";
                if (!ActionName().IsMatch(name) || name == Fleet.Abstractions.Actions.ActionNames.Human)
                {
                    Problem(key, path, $"'{name}' is not an action name (lower-case letters, digits and '-', starting with a letter; not 'human')");
                    continue;
                }
                if (value is not YamlMappingNode row)
                {
                    Problem(value, path, "must be a mapping with verb, class, effect and actuator");
                    continue;
                }
                Known(row, path, "verb", "class", "effect", "actuator");
                var verb = Scalar(row, $"{path}.verb", out var verbNode);
                if (verb is not null && (verb.Trim().Length == 0 || verb.Length > 80)) Problem(verbNode, $"{path}.verb", "must be 1 to 80 characters");
                var actionClass = Enum(row, $"{path}.class", ActionClass.Disruptive, ActionClass.Placement);
                var effect = Enum(row, $"{path}.effect", AdminEffect.None, null);
                var actuator = Scalar(row, $"{path}.actuator", out var actuatorNode);
                if (actuator is not null && !Fleet.Core.Actions.ActionCatalogue.Actuators.Contains(actuator))
                    Problem(actuatorNode, $"{path}.actuator", $"'{actuator}' is not an actuator; accepted: {string.Join(", ", Fleet.Core.Actions.ActionCatalogue.Actuators)}");
                rows.Add(new ActionSpec(name, verb?.Trim() ?? $"Ran {name}", actionClass, effect, actuator));
            }
            return rows.ToImmutable();
        }

        /// <summary>An enum value written in camelCase (<c>disruptive</c>, <c>draining</c>); <paramref name="refused"/> is a value not accepted here.</summary>
        private TEnum Enum<TEnum>(YamlMappingNode map, string path, TEnum fallback, TEnum? refused) where TEnum : struct, System.Enum
        {
            var text = Scalar(map, path, out var node);
            if (text is null) return fallback;
            var names = System.Enum.GetValues<TEnum>().Where(v => !v.Equals(refused)).Select(v => Text.Format.Camel(v.ToString())).ToArray();
            var match = System.Enum.GetValues<TEnum>().Where(v => !v.Equals(refused)).FirstOrDefault(v => Text.Format.Camel(v.ToString()) == text, fallback);
            if (Text.Format.Camel(match.ToString()) != text)
                Problem(node, path, $"'{text}' is not accepted; accepted: {string.Join(", ", names)}");
            return match;
        }

        public ImmutableArray<LadderStep> Ladder(YamlMappingNode? map, ImmutableArray<LadderStep> fallback)
        {
            var node = Get(map, "ladder");
            if (node is null) return fallback;
            if (node is not YamlSequenceNode seq)
            {
                Problem(node, "remediation.ladder", "must be a list of steps, each with an action and a verifyWindow");
                return fallback;
            }
            if (seq.Children.Count == 0)
            {
                Problem(node, "remediation.ladder", "must have at least one step");
                return fallback;
            }
            var steps = ImmutableArray.CreateBuilder<LadderStep>();
            for (var i = 0; i < seq.Children.Count; i++)
            {
                var path = $"remediation.ladder[{i}]";
                if (seq.Children[i] is not YamlMappingNode step)
                {
                    Problem(seq.Children[i], path, "must be a mapping with an action and a verifyWindow");
                    continue;
                }
                Known(step, path, "action", "verifyWindow");
                if (Get(step, "action") is null) Problem(step, $"{path}.action", "is required");
                var action = Action(step, $"{path}.action", "?");
                var isHuman = action == Fleet.Abstractions.Actions.ActionNames.Human;
                if (isHuman && i != seq.Children.Count - 1) Problem(step, $"{path}.action", "'human' ends the ladder, so it must be the last step");
                var verify = Duration(step, $"{path}.verifyWindow", isHuman ? TimeSpan.Zero : TimeSpan.FromMinutes(2), TimeSpan.Zero, TimeSpan.FromDays(1));
                if (!isHuman && verify <= TimeSpan.Zero) Problem(step, $"{path}.verifyWindow", "must be longer than 0s for an action the fleet runs");
                steps.Add(new LadderStep(action, verify));
            }
            return steps.ToImmutable();
        }
    }
}
