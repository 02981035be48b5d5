using System.Net.Mime;
using System.Text.Json;
using System.Text.RegularExpressions;
using System.Threading.RateLimiting;
using Fleet.Grains.Telemetry;
using Fleet.Silo.Hosting;

namespace Fleet.Silo.Api;

/// <summary>
/// The caller's mistakes that the framework finds before an endpoint runs — malformed JSON, an unknown field, a value of
/// the wrong type, a missing body, a body too large, a wrong content type, an unknown route, a wrong method — answered
/// as problem documents in Fleet's words, naming the field and what is accepted (never a type name or a stack frame).
/// Each is logged once at Information without a stack trace (at most <see cref="LogsPerMinute"/> a minute, then one
/// line saying how many were not logged), and every 4xx answer is counted in <c>fleet_http_client_errors_total</c>
/// by route and reason. Error level stays for the silo's own failures.
/// </summary>
public sealed partial class BadRequests(RequestDelegate next, ILogger<BadRequests> log, FleetMetrics metrics) : IDisposable
{
    public const int LogsPerMinute = 20;
    private const string ReasonKey = "fleet.client-error";

    private readonly FixedWindowRateLimiter _logBudget = new(new FixedWindowRateLimiterOptions
    {
        PermitLimit = LogsPerMinute, Window = TimeSpan.FromMinutes(1), QueueLimit = 0, AutoReplenishment = true,
    });
    private long _notLogged;

    public async Task InvokeAsync(HttpContext context)
    {
        try
        {
            await next(context);
        }
        catch (Exception e) when (!context.Response.HasStarted && Explain(context, e) is { } problem)
        {
            context.Response.Clear();
            await WriteAsync(context, problem);
        }
        // A 4xx with no body yet (routing's 404 and 405, a body refused while it was read): the same problem document.
        if (!context.Response.HasStarted && context.Response.StatusCode is >= 400 and < 500)
            await WriteAsync(context, Unanswered(context));
        if (context.Response.StatusCode is >= 400 and < 500)
            metrics.ClientError(Route(context), context.Items[ReasonKey] as string ?? ReasonOf(context.Response.StatusCode));
    }

    /// <summary>A client error: status, one-line title, errors by field, and the reason it is counted under.</summary>
    private sealed record Problem(int Status, string Title, Dictionary<string, string[]> Errors, string Reason);

    private async Task WriteAsync(HttpContext context, Problem problem)
    {
        Counted(context, problem.Reason);
        var summary = Summary(problem.Errors);
        if (_logBudget.AttemptAcquire().IsAcquired)
        {
            var skipped = Interlocked.Exchange(ref _notLogged, 0);
            LogClientError(log, context.Request.Method, context.Request.Path, problem.Status, summary,
                skipped > 0 ? $" ({skipped} more client errors were not logged before this one)" : "");
        }
        else Interlocked.Increment(ref _notLogged);
        context.Response.StatusCode = problem.Status;
        await context.Response.WriteAsJsonAsync(new ClientProblem("about:blank", problem.Title, problem.Status, summary, problem.Errors),
            (JsonSerializerOptions?)null, "application/problem+json");
    }

    private static Problem? Explain(HttpContext context, Exception e)
    {
        var bad = e as BadHttpRequestException ?? e.InnerException as BadHttpRequestException;
        var json = e as JsonException ?? e.InnerException as JsonException ?? e.InnerException?.InnerException as JsonException;
        if (bad?.StatusCode == StatusCodes.Status413PayloadTooLarge) return TooLarge;
        if (bad?.StatusCode == StatusCodes.Status415UnsupportedMediaType) return UnsupportedMediaType(context);
        if (json is not null) return FromJson(json, context.GetEndpoint()?.Metadata.GetMetadata<Microsoft.AspNetCore.Http.Metadata.IAcceptsMetadata>()?.RequestType);
        if (bad is null) return null;
        var message = bad.Message;
        if (BindFailure().Match(message) is { Success: true } m)
            return new(400, "A parameter is not valid.", One(m.Groups["name"].Value, $"'{m.Groups["value"].Value}' is not {Friendly(m.Groups["type"].Value)}"), "wrong-type");
        if (message.Contains("no body was provided", StringComparison.Ordinal) || message.Contains("was not provided from body", StringComparison.Ordinal))
            return new(400, "A JSON body is required.", One("(body)", "is required: send a JSON object (see /openapi/v1.json for its fields)"), "missing-body");
        if (RequiredMissing().Match(message) is { Success: true } r)
            return new(400, "A parameter is missing.", One(r.Groups["name"].Value, "is required"), "missing-parameter");
        return new(bad.StatusCode, "The request could not be read.", One("(request)", "could not be read as HTTP; check the method, headers and body"), "unreadable");
    }

    /// <summary>System.Text.Json's refusals, in Fleet's words: the field by its JSON path, what was wrong, what is accepted.</summary>
    private static Problem FromJson(JsonException e, Type? body)
    {
        var field = (e.Path ?? "$") switch { "$" => "(body)", var p => p.StartsWith("$.", StringComparison.Ordinal) ? p[2..] : p[1..] };
        if (UnknownMember().Match(e.Message) is { Success: true } u)
        {
            var accepted = FieldsOf(FindType(u.Groups["type"].Value));
            return new(400, "The body has a field Fleet does not know.",
                One(field, "is not a field of this body" + (accepted.Length > 0 ? $"; accepted: {string.Join(", ", accepted)}" : "")), "unknown-field");
        }
        if (Conversion().Match(e.Message) is { Success: true } c)
            return new(400, "A field has a value of the wrong type.", One(field, $"expected {(TypeAt(body, field) is { } t ? Friendly(t) : Friendly(c.Groups["type"].Value))}"), "wrong-type");
        var where = e.LineNumber is { } line ? $" at line {line + 1}, position {(e.BytePositionInLine ?? 0) + 1}" : "";
        if (e.Message.Contains("maximum configured depth", StringComparison.Ordinal) || e.InnerException?.Message.Contains("maximum configured depth", StringComparison.Ordinal) == true)
            return new(400, "The body nests too deep.", One("(body)", $"nests deeper than {Fleet.Core.Documents.DocumentLimits.MaxDepth} levels{where}: a limit (depth)"), "too-deep");
        return new(400, "The body is not valid JSON.", One("(body)", $"is not valid JSON{where}" + (field == "(body)" ? "" : $" (in {field})")), "malformed-json");
    }

    /// <summary>The errors in one line: the problem document's <c>detail</c>.</summary>
    public static string Summary(Dictionary<string, string[]> errors) =>
        string.Join("; ", errors.Select(kv => $"{kv.Key}: {string.Join(" ", kv.Value)}"));

    /// <summary>The reason an answered client error is counted under in <c>fleet_http_client_errors_total</c>.</summary>
    internal static void Counted(HttpContext context, string reason) => context.Items[ReasonKey] = reason;

    /// <summary>Something the path names is not there: 404, the field (the path's parameter) named.</summary>
    public static ClientProblemResult NotFound(string field, string message) => new(404, "Not found.", One(field, message), "not-found");

    /// <summary>A guardrail refused the request: 409, naming the guardrail.</summary>
    public static ClientProblemResult Refused(string message, string guardrail) =>
        new(409, "Refused by a guardrail.", One("(guardrail)", message), "conflict") { Extensions = new Dictionary<string, object?> { ["guardrail"] = guardrail } };

    /// <summary>
    /// A document (policy, service spec) that parses but breaks its rules: 422, every problem by its path, and the
    /// problems list as it always was (path, message, line) beside them, with <paramref name="extra"/> members.
    /// </summary>
    public static ClientProblemResult Invalid(string title, IEnumerable<Fleet.Abstractions.Policy.PolicyProblem> problems, Dictionary<string, object?>? extra = null)
    {
        var list = problems.ToList();
        var errors = list.GroupBy(p => string.IsNullOrEmpty(p.Path) ? "(document)" : p.Path)
            .ToDictionary(g => g.Key, g => g.Select(p => p.Line is { } line ? $"{p.Message} (line {line})" : p.Message).ToArray());
        var extensions = extra ?? [];
        extensions["problems"] = list;
        return new(422, title, errors, "invalid-document") { Extensions = extensions };
    }

    /// <summary>
    /// Sets the answer's status and the problem document that will be written for it (by this middleware, logged and
    /// counted like every client error): for 401, 403 and 429, decided by the authentication and rate-limiting parts.
    /// </summary>
    public static void Answer(HttpContext context, int status, string title, string field, string message, string reason)
    {
        context.Response.StatusCode = status;
        context.Items[PresetKey] = new Problem(status, title, One(field, message), reason);
    }

    private const string PresetKey = "fleet.client-problem";

    private static Problem Unanswered(HttpContext context)
    {
        if (context.Items[PresetKey] is Problem preset && preset.Status == context.Response.StatusCode) return preset;
        var request = $"{context.Request.Method} {context.Request.Path}";
        return context.Response.StatusCode switch
        {
            405 => new(405, "The method is not accepted here.", One("(method)",
                $"{request} is not an endpoint; {context.Request.Path} accepts {(string.IsNullOrEmpty(context.Response.Headers.Allow) ? "other methods" : context.Response.Headers.Allow.ToString())}"), "method-not-allowed"),
            415 => UnsupportedMediaType(context),
            413 => TooLarge,
            404 => new(404, "Not found.", One("(path)", $"{request} is not an endpoint of Fleet; the API is under /api/v1 (see /openapi/v1.json)"), "not-found"),
            var status => new(status, "The request could not be read.", One("(request)", "could not be read; check the method, the headers and the body"), ReasonOf(status)),
        };
    }

    private static readonly Problem TooLarge = new(413, "The body is too large.",
        One("(body)", $"is larger than the {FleetSiloExtensions.MaxRequestBytes / (1024 * 1024)} MiB a request may carry; send batches of at most 10,000 reports"), "too-large");

    private static Problem UnsupportedMediaType(HttpContext context) => new(415, "The body's content type is not accepted.",
        One("Content-Type", $"'{context.Request.ContentType}' is not accepted here; send {MediaTypeNames.Application.Json}"), "unsupported-media-type");

    private static Dictionary<string, string[]> One(string field, string message) => new() { [field] = [message] };

    private static string Route(HttpContext context) =>
        (context.GetEndpoint() as RouteEndpoint)?.RoutePattern.RawText is { } pattern ? "/" + pattern.Trim('/') : "unmatched";

    private static string ReasonOf(int status) => status switch
    {
        400 => "invalid-value", 401 => "unauthenticated", 403 => "forbidden", 404 => "not-found", 405 => "method-not-allowed", 409 => "conflict", 413 => "too-large",
        415 => "unsupported-media-type", 422 => "invalid-document", 429 => "rate-limited", _ => status.ToString(),
    };

    /// <summary>The JSON names a body type accepts (camelCase, as the API writes them).</summary>
    private static string[] FieldsOf(Type? type) =>
        type is null ? [] : [.. type.GetProperties().Select(p => JsonNamingPolicy.CamelCase.ConvertName(p.Name))];

    /// <summary>A type named in a serializer message: the API's own request types, or a framework type.</summary>
    private static Type? FindType(string name) => typeof(BadRequests).Assembly.GetType(name) ?? Type.GetType(name);

    /// <summary>The type a field of the body takes, following its JSON path ("capacity.cpuCores", "[3].sequence").</summary>
    private static Type? TypeAt(Type? type, string field)
    {
        foreach (var segment in field.Replace("[", ".[").Split('.', StringSplitOptions.RemoveEmptyEntries))
        {
            if (type is null) return null;
            type = Nullable.GetUnderlyingType(type) ?? type;
            if (segment.StartsWith('['))
                type = type.IsArray ? type.GetElementType() : type.GetInterfaces().Append(type)
                    .FirstOrDefault(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IEnumerable<>))?.GetGenericArguments()[0];
            else type = type.GetProperty(segment, System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.IgnoreCase)?.PropertyType;
        }
        return type;
    }

    private static string Friendly(Type type)
    {
        type = Nullable.GetUnderlyingType(type) ?? type;
        return type.IsEnum ? $"one of: {string.Join(", ", Enum.GetNames(type))}"
            : type == typeof(string) ? "a string"
            : type.IsClass && !type.IsGenericType && !type.IsArray && !type.FullName!.StartsWith("System.", StringComparison.Ordinal) ? "an object"
            : Friendly(type.ToString());
    }

    /// <summary>
    /// A type as named in a framework message ("Nullable&lt;int&gt;", "System.Nullable`1[System.Double]",
    /// "System.Collections.Generic.List`1[...]"), said as the kind of value the field takes.
    /// </summary>
    private static string Friendly(string typeText)
    {
        bool Has(string what) => typeText.Contains(what, StringComparison.OrdinalIgnoreCase);
        return Has("Dictionary") ? "an object of names to values"
            : Has("List") || Has("[]") || Has("Array") ? "a list"
            : Has("Int") ? "a whole number"
            : Has("Double") || Has("Single") || Has("Decimal") || Has("float") ? "a number"
            : Has("Bool") ? "true or false"
            : Has("Date") ? "a time (ISO 8601, e.g. 2026-12-01T10:00:00Z)"
            : Has("String") ? "a string"
            : "an object";
    }

    [GeneratedRegex("""Failed to bind parameter "(?<type>\S+) (?<name>[^"]+)" from "(?<value>.*)"\.?""")]
    private static partial Regex BindFailure();

    [GeneratedRegex("""Required parameter "(?<type>\S+) (?<name>[^"]+)" was not provided""")]
    private static partial Regex RequiredMissing();

    [GeneratedRegex("""could not be mapped to any \.NET member contained in type '(?<type>[^']+)'""")]
    private static partial Regex UnknownMember();

    [GeneratedRegex("""could not be converted to (?<type>\S+?)\.( Path|$)""")]
    private static partial Regex Conversion();

    [LoggerMessage(Level = LogLevel.Information, Message = "Client error: {Method} {Path} answered {Status}: {Problem}{NotLogged}")]
    private static partial void LogClientError(ILogger logger, string method, string path, int status, string problem, string notLogged);

    public void Dispose() => _logBudget.Dispose();
}

/// <summary>An RFC 9457 problem document with the errors by field (what every client error of the API answers).</summary>
public sealed record ClientProblem(string Type, string Title, int Status, string Detail, Dictionary<string, string[]> Errors);

/// <summary>
/// A client error an endpoint answers itself — something not found, refused by a guardrail, a document that parses but
/// breaks a rule: the same RFC 9457 problem document the middleware writes (errors by field, in Fleet's words), with
/// members of its own beside them where a client reads more (a policy's <c>problems</c> list, the refusing
/// <c>guardrail</c>, a refused report's <c>outcome</c>).
/// </summary>
public sealed class ClientProblemResult(int status, string title, Dictionary<string, string[]> errors, string reason)
    : IResult, IStatusCodeHttpResult, IContentTypeHttpResult
{
    /// <summary>Members written after <c>errors</c>, by their JSON names.</summary>
    public IReadOnlyDictionary<string, object?> Extensions { get; init; } = new Dictionary<string, object?>();

    public int? StatusCode => status;
    public string ContentType => "application/problem+json";

    public Task ExecuteAsync(HttpContext context)
    {
        BadRequests.Counted(context, reason);
        context.Response.StatusCode = status;
        var body = new Dictionary<string, object?>
        {
            ["type"] = "about:blank", ["title"] = title, ["status"] = status, ["detail"] = BadRequests.Summary(errors), ["errors"] = errors,
        };
        foreach (var (name, value) in Extensions) body[name] = value;
        return context.Response.WriteAsJsonAsync(body, (JsonSerializerOptions?)null, ContentType);
    }
}
