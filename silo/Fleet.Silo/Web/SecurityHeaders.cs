namespace Fleet.Silo.Web;

/// <summary>
/// Headers on every answer that make a page inert to what it shows: a strict Content-Security-Policy (scripts, styles and
/// everything else from the silo itself only — no inline script, no inline style, no plugin, no other site's frame around
/// it, forms post back to the silo only), <c>X-Content-Type-Options: nosniff</c>, <c>Referrer-Policy: no-referrer</c> and
/// <c>X-Frame-Options: DENY</c>. The Orleans Dashboard (not Fleet's page) keeps the same rules but may use inline styles,
/// which its page does.
/// </summary>
public static class SecurityHeaders
{
    public const string Policy =
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; " +
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

    public const string DashboardPolicy =
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; font-src 'self' data:; " +
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

    public static WebApplication UseSecurityHeaders(this WebApplication app)
    {
        app.Use((context, next) =>
        {
            var headers = context.Response.Headers;
            headers.ContentSecurityPolicy = context.Request.Path.StartsWithSegments("/dashboard") ? DashboardPolicy : Policy;
            headers.XContentTypeOptions = "nosniff";
            headers.XFrameOptions = "DENY";
            headers["Referrer-Policy"] = "no-referrer";
            return next(context);
        });
        return app;
    }
}
