namespace Fleet.Core.Text;

/// <summary>
/// URLs as Fleet writes them anywhere a person or a store reads (the trail, logs, answers): no credential in them. A URL's
/// user information, its query and every path segment after the first are replaced by <c>***</c>, since tokens ride in all
/// three (<c>https://user:pass@…</c>, <c>?token=…</c>, a chat webhook's <c>/services/T0/B0/SECRET</c>); the scheme, host,
/// port and first segment stay, which is enough to tell which endpoint it was.
/// </summary>
public static class Redact
{
    public static string Url(string? url)
    {
        if (string.IsNullOrEmpty(url) || !Uri.TryCreate(url, UriKind.Absolute, out var u) || u.IsFile) return url ?? "";
        var user = u.UserInfo.Length > 0 ? "***@" : "";
        var port = u.IsDefaultPort ? "" : $":{u.Port}";
        var segments = u.AbsolutePath.Split('/', StringSplitOptions.RemoveEmptyEntries);
        var path = segments.Length switch { 0 => "/", 1 => "/" + segments[0], _ => $"/{segments[0]}/***" };
        var query = u.Query.Length > 1 ? "?***" : "";
        return $"{u.Scheme}://{user}{u.Host}{port}{path}{query}";
    }

    public static string Url(Uri url) => Url(url.OriginalString);
}
