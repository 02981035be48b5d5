using System.Security.Claims;
using System.Text;
using System.Text.Encodings.Web;
using System.Threading.RateLimiting;
using Fleet.Abstractions.Security;
using Fleet.Grains.Security;
using Fleet.Silo.Hosting;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Policy;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Tokens;

namespace Fleet.Silo.Api;

/// <summary>
/// Who may do what over HTTP (docs/security.md). A credential is a Fleet key (<c>Authorization: Bearer fk_…</c>, or as the
/// password of Basic authentication, which a browser asks for on /dashboard) or, when configured, a JWT from an identity
/// provider. Four roles: viewer ⊂ operator ⊂ admin, and agent (its own node only). Every endpoint names its policy; one
/// that names none needs a viewer (the fallback), so nothing is open by omission. Rate limits are per credential.
/// </summary>
public static class Access
{
    public const string Viewer = "viewer", Operator = "operator", Admin = "admin";

    /// <summary>Registering and reporting: an agent (for its own node) or an operator or admin (for any).</summary>
    public const string Reporter = "reporter";

    /// <summary>Pushing telemetry from a team's monitoring (remote-write, OTLP, Alertmanager): an ingest key, or an operator's or admin's.</summary>
    public const string Ingest = "ingest";

    /// <summary>Any valid credential, an agent's included (what a client needs to find the cluster).</summary>
    public const string AnyRole = "any";

    public const string Scheme = "Fleet", KeyScheme = "FleetKey", OpenScheme = "FleetOpen";
    public const string NodeClaim = "fleet_node", KeyIdClaim = "fleet_key", KeyFingerprintClaim = "fleet_key_fp";
    public const string PerCredential = "per-credential";

    public static WebApplicationBuilder AddFleetAccess(this WebApplicationBuilder builder, AuthOptions options)
    {
        var services = builder.Services;
        services.AddSingleton(new AccessSettings
        {
            Enabled = options.Enabled, GatewayRequestsPerSecond = options.GatewayRequestsPerSecond, GatewayBurst = options.GatewayBurst,
        });
        var auth = services.AddAuthentication(Scheme);
        if (!options.Enabled)
        {
            auth.AddScheme<AuthenticationSchemeOptions, OpenAccessHandler>(Scheme, null);
            Web.WebAccess.AddFleetCookie(auth); // unused, so the sign-in and sign-out pages work the same
        }
        else
        {
            auth.AddPolicyScheme(Scheme, "A Fleet key or a token", p => p.ForwardDefaultSelector = context =>
                // The web view's pages (and only they) take the sign-in cookie when no key or token is presented.
                Web.WebAccess.IsUi(context.Request) && PresentedKey(context.Request) is null ? Web.WebAccess.CookieScheme
                : options.Jwt.Enabled && Bearer(context.Request) is { } token && !token.StartsWith(ApiKeys.Prefix, StringComparison.Ordinal)
                    ? JwtBearerDefaults.AuthenticationScheme : KeyScheme);
            auth.AddScheme<AuthenticationSchemeOptions, KeyAuthenticationHandler>(KeyScheme, null);
            Web.WebAccess.AddFleetCookie(auth);
            if (options.Jwt.Enabled) auth.AddJwtBearer(j => ConfigureJwt(j, options.Jwt));
        }
        services.AddAuthorization(a =>
        {
            a.AddPolicy(Viewer, p => p.RequireRole(Viewer, Operator, Admin));
            a.AddPolicy(Operator, p => p.RequireRole(Operator, Admin));
            a.AddPolicy(Admin, p => p.RequireRole(Admin));
            a.AddPolicy(Reporter, p => p.RequireRole("agent", Operator, Admin));
            a.AddPolicy(Ingest, p => p.RequireRole(Ingest, Operator, Admin));
            a.AddPolicy(AnyRole, p => p.RequireRole("agent", Viewer, Operator, Admin));
            a.FallbackPolicy = a.GetPolicy(Viewer);
        });
        services.AddSingleton<IAuthorizationMiddlewareResultHandler, AccessDeniedWriter>();
        services.AddRateLimiter(r =>
        {
            r.AddPolicy(PerCredential, context => RateLimitPartition.GetTokenBucketLimiter(PartitionOf(context), _ => new TokenBucketRateLimiterOptions
            {
                TokenLimit = options.Burst, TokensPerPeriod = options.RequestsPerSecond, ReplenishmentPeriod = TimeSpan.FromSeconds(1),
                QueueLimit = 0, AutoReplenishment = true,
            }));
            r.OnRejected = (rejected, _) =>
            {
                var wait = rejected.Lease.TryGetMetadata(MetadataName.RetryAfter, out var after) ? Math.Max(1, (int)Math.Ceiling(after.TotalSeconds)) : 1;
                rejected.HttpContext.Response.Headers.RetryAfter = wait.ToString();
                BadRequests.Answer(rejected.HttpContext, StatusCodes.Status429TooManyRequests, "Too many requests.", "(credential)",
                    $"'{rejected.HttpContext.User.Identity?.Name ?? "anonymous"}' sent more than {options.RequestsPerSecond} requests a second " +
                    $"(bursts of {options.Burst}); retry after {wait} s", "rate-limited");
                return ValueTask.CompletedTask;
            };
        });
        return builder;
    }

    /// <summary>Authentication, authorization and rate limits, after routing (they read the endpoint's policy).</summary>
    public static WebApplication UseFleetAccess(this WebApplication app)
    {
        // A caller's traceparent header does not make the silo's grain calls part of the caller's trace (or exported).
        app.Use((context, next) =>
        {
            System.Diagnostics.Activity.Current = null;
            return next(context);
        });
        app.UseRouting();
        app.UseAuthentication();
        app.UseAuthorization();
        app.UseRateLimiter();
        return app;
    }

    /// <summary>Who asked, for the trail: the credential's name; with authentication off, what the caller said (or "operator").</summary>
    public static string Who(HttpContext context, string? claimed) =>
        context.RequestServices.GetRequiredService<AccessSettings>().Enabled
            ? context.User.Identity?.Name ?? "unknown"
            : string.IsNullOrWhiteSpace(claimed) ? "operator" : claimed;

    /// <summary>A key's caller as a principal: its name, role, key id, its hash's fingerprint and bound node (never its secret).</summary>
    public static ClaimsPrincipal Principal(FleetCaller caller, string scheme)
    {
        List<Claim> claims = [new(ClaimTypes.Name, caller.Name), new(ClaimTypes.Role, caller.Role.Name())];
        if (caller.KeyId is { } id) claims.Add(new Claim(KeyIdClaim, id));
        if (caller.Fingerprint is { } fingerprint) claims.Add(new Claim(KeyFingerprintClaim, fingerprint));
        if (caller.Node is { } node) claims.Add(new Claim(NodeClaim, node));
        return new ClaimsPrincipal(new ClaimsIdentity(claims, scheme));
    }

    /// <summary>The node an agent credential is bound to; null for every other role (they may act for any node).</summary>
    public static string? BoundNode(HttpContext context) =>
        context.User.IsInRole("agent") && !context.User.IsInRole(Operator) && !context.User.IsInRole(Admin)
            ? context.User.FindFirst(NodeClaim)?.Value ?? "" : null;

    /// <summary>An agent credential acting for another node than its own is refused (403, via the API's error filter).</summary>
    public static void EnsureOwnNode(HttpContext context, IEnumerable<string> nodes)
    {
        if (BoundNode(context) is not { } own || nodes.FirstOrDefault(n => n != own) is not { } other) return;
        throw new AccessDeniedException(
            $"the agent credential '{context.User.Identity?.Name}' is bound to node {(own.Length == 0 ? "(none)" : own)}; it cannot act for node {other}", unauthenticated: false);
    }

    /// <summary>The key a request presents: <c>Authorization: Bearer</c>, Basic's password (or user), or <c>X-Fleet-Key</c>.</summary>
    public static string? PresentedKey(HttpRequest request)
    {
        if (Bearer(request) is { } bearer) return bearer;
        var header = request.Headers.Authorization.ToString();
        if (header.StartsWith("Basic ", StringComparison.OrdinalIgnoreCase))
        {
            try
            {
                var pair = Encoding.UTF8.GetString(Convert.FromBase64String(header[6..].Trim()));
                var colon = pair.IndexOf(':');
                return colon < 0 ? pair : pair[(colon + 1)..] is { Length: > 0 } password ? password : pair[..colon];
            }
            catch (FormatException)
            {
                return "";
            }
        }
        return request.Headers["X-Fleet-Key"].FirstOrDefault();
    }

    private static string? Bearer(HttpRequest request)
    {
        var header = request.Headers.Authorization.ToString();
        return header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? header[7..].Trim() : null;
    }

    private static string PartitionOf(HttpContext context) =>
        context.User.FindFirst(KeyIdClaim)?.Value is { } id ? "key:" + id
        : context.User.Identity is { IsAuthenticated: true, Name: { } name } && name != "anonymous" ? "name:" + name
        : "ip:" + context.Connection.RemoteIpAddress;

    private static void ConfigureJwt(JwtBearerOptions j, JwtOptions o)
    {
        j.MapInboundClaims = false;
        if (!string.IsNullOrWhiteSpace(o.Authority)) j.Authority = o.Authority;
        j.TokenValidationParameters = new TokenValidationParameters
        {
            ValidateAudience = true, ValidAudience = o.Audience,
            // Always checked: with an authority and no issuer named, the authority's metadata names it.
            ValidateIssuer = true, ValidIssuer = string.IsNullOrWhiteSpace(o.Issuer) ? null : o.Issuer,
            NameClaimType = "name", RoleClaimType = "role",
            IssuerSigningKey = string.IsNullOrWhiteSpace(o.SigningKey) ? null : new SymmetricSecurityKey(Encoding.UTF8.GetBytes(o.SigningKey)),
            ClockSkew = TimeSpan.FromSeconds(30),
        };
        j.Events = new JwtBearerEvents
        {
            // A token without a name is known by its subject.
            OnTokenValidated = context =>
            {
                if (context.Principal?.Identity is ClaimsIdentity { Name: null } identity && identity.FindFirst("sub") is { } sub)
                    identity.AddClaim(new Claim("name", sub.Value));
                return Task.CompletedTask;
            },
        };
    }
}

/// <summary>Checks a Fleet key against this silo's <see cref="KeyRing"/>.</summary>
internal sealed class KeyAuthenticationHandler(IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder, KeyRing keys)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        if (Access.PresentedKey(Request) is not { } key) return AuthenticateResult.NoResult();
        if (await keys.AuthenticateAsync(key) is not { } caller) return AuthenticateResult.Fail("The key is unknown, malformed or revoked.");
        return AuthenticateResult.Success(new AuthenticationTicket(Access.Principal(caller, Scheme.Name), Scheme.Name));
    }

    protected override Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        Response.StatusCode = StatusCodes.Status401Unauthorized;
        Response.Headers.WWWAuthenticate = "Bearer realm=\"fleet\", Basic realm=\"fleet\"";
        return Task.CompletedTask;
    }
}

/// <summary>Authentication turned off: everyone is an admin named "anonymous" (the silo warns at every start).</summary>
internal sealed class OpenAccessHandler(IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    protected override Task<AuthenticateResult> HandleAuthenticateAsync() =>
        Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(new ClaimsIdentity(
            [new Claim(ClaimTypes.Name, "anonymous"), new Claim(ClaimTypes.Role, Access.Admin)], Scheme.Name)), Scheme.Name)));
}

/// <summary>401 and 403 as problem documents that say what the endpoint needs and what the credential is.</summary>
internal sealed class AccessDeniedWriter : IAuthorizationMiddlewareResultHandler
{
    private readonly AuthorizationMiddlewareResultHandler _default = new();

    public async Task HandleAsync(RequestDelegate next, HttpContext context, AuthorizationPolicy policy, PolicyAuthorizationResult result)
    {
        if (result.Succeeded)
        {
            await _default.HandleAsync(next, context, policy, result);
            return;
        }
        if (Web.WebAccess.IsUi(context.Request))
        {
            // A page: to the sign-in page, or a plain 403 page.
            if (result.Challenged) context.Response.Redirect("/ui/signin?returnUrl=" + Uri.EscapeDataString(context.Request.Path + context.Request.QueryString));
            else
            {
                context.Response.StatusCode = StatusCodes.Status403Forbidden;
                context.Response.ContentType = "text/plain; charset=utf-8";
                await context.Response.WriteAsync($"'{context.User.Identity?.Name}' may not open {context.Request.Path}: it needs a higher role.");
            }
            return;
        }
        var needed = context.GetEndpoint()?.Metadata.GetOrderedMetadata<IAuthorizeData>().Select(a => a.Policy).LastOrDefault(p => p is not null) ?? Access.Viewer;
        var what = $"{context.Request.Method} {context.Request.Path}";
        var wants = needed == Access.Reporter ? "an agent key for the node (or an operator or admin key)"
            : needed == Access.AnyRole ? "any valid key"
            : needed == Access.Ingest ? "an ingest key (or an operator or admin key)" : $"{Article(needed)} {needed} key (or a higher role)";
        if (result.Challenged)
        {
            await context.ChallengeAsync();
            var presented = !string.IsNullOrEmpty(Access.PresentedKey(context.Request));
            BadRequests.Answer(context, StatusCodes.Status401Unauthorized, "A valid credential is required.", "Authorization", presented
                ? "the key or token is not valid: it is unknown, malformed, expired or revoked"
                : $"{what} needs {wants}: send the header Authorization: Bearer <key>", "unauthenticated");
        }
        else
        {
            var role = new[] { "agent", Access.Admin, Access.Operator, Access.Viewer, Access.Ingest }.FirstOrDefault(context.User.IsInRole) ?? "no known";
            BadRequests.Answer(context, StatusCodes.Status403Forbidden, "The credential's role is not enough.", "Authorization",
                $"{what} needs {wants}; '{context.User.Identity?.Name}' is {Article(role)} {role} credential", "forbidden");
        }
    }

    private static string Article(string word) => word is [var c, ..] && "aeiou".Contains(c) ? "an" : "a";
}

/// <summary>
/// The first start's admin key: made when the key store holds no live admin key, shown once on the console, and written to
/// <see cref="AuthOptions.KeyFile"/> readable by the owner only; only its hash is kept. With authentication off, a warning
/// at every start instead.
/// </summary>
public sealed partial class KeyBootstrap(IGrainFactory grains, IOptions<FleetOptions> options, ILogger<KeyBootstrap> log) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var o = options.Value;
        if (!o.Auth.Enabled)
        {
            LogAuthOff(log, o.GatewayPort);
            return;
        }
        var store = grains.GetGrain<IKeyStoreGrain>(Fleet.Abstractions.Supervision.FleetNames.Default);
        if (o.Auth.AdminKey is { } given && ApiKeys.TryParse(given, out var id, out var secret))
        {
            if (await store.ImportAdminAsync(id, ApiKeys.Hash(secret), "admin")) LogImported(log, id);
            return;
        }
        var created = await store.BootstrapAsync("admin");
        if (created is null) return;
        var file = string.IsNullOrWhiteSpace(o.Auth.KeyFile) ? AuthOptions.DefaultKeyFile : o.Auth.KeyFile;
        var written = true;
        try
        {
            KeyFiles.Write(file, created.Secret);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            LogKeyFileFailed(log, file, e.Message);
            written = false;
        }
        // The key itself goes only to a person at a terminal: journald, `docker logs` and CI logs keep what a redirected
        // console prints, so there the console names the file, never the key.
        if (!Console.IsOutputRedirected)
        {
            Console.Out.WriteLine(written
                ? $"Fleet: made the first admin key '{created.Key.Name}' and wrote it to {file} (readable by you only); the CLI on this machine uses it. It is shown this once:"
                : $"Fleet: made the first admin key '{created.Key.Name}'; it could not be written to {file}. Keep it now, it is shown this once:");
            Console.Out.WriteLine($"  {created.Secret}");
        }
        else if (written)
            Console.Out.WriteLine($"Fleet: made the first admin key '{created.Key.Name}' and wrote it to {file} (readable by its owner only); the CLI on this machine uses it. It is not printed here: this console is not a terminal.");
        else
            Console.Out.WriteLine($"Fleet: made the first admin key '{created.Key.Name}', but could not write it to {file} and will not print it to a console that is not a terminal: " +
                "revoke it and give the silos an admin key by configuration (Fleet:Auth:AdminKey; docs/security.md).");
        Console.Out.Flush();
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(LogLevel.Warning, "Authentication is OFF (Fleet:Auth:Enabled=false): anyone who reaches the HTTP port or the gateway port {GatewayPort} can drain every node, apply any policy and freeze the fleet")]
    private static partial void LogAuthOff(ILogger logger, int gatewayPort);

    [LoggerMessage(LogLevel.Information, "Recorded the admin key given by Fleet:Auth:AdminKey (id {Id})")]
    private static partial void LogImported(ILogger logger, string id);

    [LoggerMessage(LogLevel.Warning, "Could not write the first admin key to {File}: {Error}")]
    private static partial void LogKeyFileFailed(ILogger logger, string file, string error);
}

/// <summary>Key files: one line, the key; the folder and the file readable by the owner only (as a kubeconfig is).</summary>
public static class KeyFiles
{
    public static void Write(string path, string key)
    {
        var folder = Path.GetDirectoryName(Path.GetFullPath(path))!;
        if (!Directory.Exists(folder))
        {
            if (OperatingSystem.IsWindows()) Directory.CreateDirectory(folder);
            else Directory.CreateDirectory(folder, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
        // An existing file is made owner-only before the key goes in, never after.
        if (!OperatingSystem.IsWindows() && File.Exists(path)) File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        var fileOptions = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows()) fileOptions.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        using (var stream = new FileStream(path, fileOptions))
        using (var writer = new StreamWriter(stream))
            writer.WriteLine(key);
        // An existing file keeps its old mode on Create: tighten it.
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
    }
}
