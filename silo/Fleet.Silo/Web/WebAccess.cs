using System.Security.Claims;
using System.Text.Json;
using Fleet.Abstractions.Audit;
using Fleet.Abstractions.Security;
using Fleet.Client;
using Fleet.Grains.Security;
using Fleet.Silo.Api;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;

namespace Fleet.Silo.Web;

/// <summary>
/// The web view (docs/web.md): Razor Pages at <c>/</c> and under <c>/ui</c>, signed in with a Fleet key: the session is an
/// encrypted, HTTP-only, same-site cookie naming the key's id and a fingerprint of its stored hash (never its secret) that only those pages accept (the API
/// never takes the cookie, so a page from another site cannot use it), checked against the key ring on every request; roles as in the API; Razor Pages' antiforgery
/// token on every form that changes something; a live feed of the trail by server-sent events; assets served from the
/// assembly (no CDN).
/// </summary>
public static class WebAccess
{
    public const string CookieScheme = "FleetCookie";

    public static bool IsUi(HttpRequest request) => request.Path == "/" || request.Path.StartsWithSegments("/ui");


    /// <summary>The cookie the pages sign in with; the key inside is checked again on every request, so a revoked key is signed out.</summary>
    public static AuthenticationBuilder AddFleetCookie(this AuthenticationBuilder auth) =>
        auth.AddCookie(CookieScheme, c =>
        {
            c.Cookie.Name = ".fleet.session";
            c.Cookie.HttpOnly = true;
            c.Cookie.SameSite = SameSiteMode.Strict;
            c.Cookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
            c.LoginPath = "/ui/signin";
            c.ExpireTimeSpan = TimeSpan.FromHours(8);
            c.SlidingExpiration = true;
            c.Events.OnValidatePrincipal = async context =>
            {
                var keys = context.HttpContext.RequestServices.GetRequiredService<KeyRing>();
                if (await keys.ByIdAsync(context.Principal?.FindFirst(Access.KeyIdClaim)?.Value, context.Principal?.FindFirst(Access.KeyFingerprintClaim)?.Value) is not { } caller)
                {
                    context.RejectPrincipal();
                    await context.HttpContext.SignOutAsync(CookieScheme);
                    return;
                }
                context.ReplacePrincipal(Access.Principal(caller, CookieScheme));
            };
        });

    public static WebApplication MapFleetWeb(this WebApplication app)
    {
        foreach (var (file, type) in new[] { ("fleet.css", "text/css; charset=utf-8"), ("fleet.js", "text/javascript; charset=utf-8") })
        {
            var bytes = Asset(file);
            app.MapGet($"/ui/{file}", (HttpContext http) =>
            {
                http.Response.Headers.CacheControl = "public, max-age=300";
                return Results.Bytes(bytes, type);
            }).AllowAnonymous().ExcludeFromDescription();
        }
        app.MapRazorPages().RequireAuthorization(Access.Viewer);
        app.MapGet("/ui/events", StreamAsync).RequireAuthorization(Access.Viewer).ExcludeFromDescription();
        return app;
    }

    private static byte[] Asset(string name)
    {
        using var stream = typeof(WebAccess).Assembly.GetManifestResourceStream($"web.{name}") ?? throw new InvalidOperationException($"asset {name} is not embedded");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    /// <summary>
    /// New decision records as server-sent events, from the silo's one reader of the trail (<see cref="TrailFeed"/>) — the
    /// trail every silo writes to (the cluster's shared store), so the feed shows every silo's decisions, not only this one's.
    /// </summary>
    private static async Task StreamAsync(HttpContext http, TrailFeed feed, KeyRing keys, CancellationToken ct)
    {
        http.Response.Headers.ContentType = "text/event-stream";
        http.Response.Headers.CacheControl = "no-cache";
        http.Response.Headers["X-Accel-Buffering"] = "no";
        await http.Response.WriteAsync(": connected\n\n", ct);
        await http.Response.Body.FlushAsync(ct);
        var keyId = http.User.FindFirst(Access.KeyIdClaim)?.Value;
        var fingerprint = http.User.FindFirst(Access.KeyFingerprintClaim)?.Value;
        var (records, subscription) = feed.Listen();
        using var listening = subscription;
        using var tick = new PeriodicTimer(TimeSpan.FromSeconds(5));
        var pending = tick.WaitForNextTickAsync(ct).AsTask();
        Task<bool>? next = null;
        try
        {
            while (!ct.IsCancellationRequested)
            {
                next ??= records.WaitToReadAsync(ct).AsTask();
                if (await Task.WhenAny(next, pending) == pending)
                {
                    // A stream outlives no revocation: its key is checked again every few seconds (a JWT or open access has no key to check).
                    if (!await pending || keyId is not null && await keys.ByIdAsync(keyId, fingerprint) is null) return;
                    await http.Response.WriteAsync(": ping\n\n", ct); // keeps proxies from closing a quiet stream
                    await http.Response.Body.FlushAsync(ct);
                    pending = tick.WaitForNextTickAsync(ct).AsTask();
                    continue;
                }
                var more = await next;
                next = null;
                if (!more) return;
                while (records.TryRead(out var r))
                {
                    var data = JsonSerializer.Serialize(new { r.Id, r.Time, r.Subject, r.Kind, r.Action, r.Reason, r.IncidentId, Href = Links.Subject(r.Subject) }, Json);
                    await http.Response.WriteAsync($"data: {data}\n\n", ct);
                }
                await http.Response.Body.FlushAsync(ct);
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // The page was closed.
        }
    }

}
