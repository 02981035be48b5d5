using System.Security.Claims;
using Fleet.Grains.Security;
using Fleet.Silo.Api;
using Fleet.Silo.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace Fleet.Silo.Pages;

/// <summary>Sign in with a Fleet key: checked against the key ring; the session cookie (encrypted, HTTP-only) names the key's id, checked again on each request, so a revoked key signs out.</summary>
[AllowAnonymous]
public sealed class SignInModel(KeyRing keys) : PageModel
{
    [BindProperty(SupportsGet = true)] public string? ReturnUrl { get; set; }
    public string? Error { get; private set; }

    public void OnGet() { }

    public async Task<IActionResult> OnPostAsync(string? key)
    {
        if (string.IsNullOrWhiteSpace(key) || await keys.AuthenticateAsync(key.Trim()) is not { } caller)
        {
            Error = "That key is unknown, malformed or revoked.";
            Response.StatusCode = StatusCodes.Status401Unauthorized;
            return Page();
        }
        var principal = Access.Principal(caller, WebAccess.CookieScheme);
        await HttpContext.SignInAsync(WebAccess.CookieScheme, principal);
        return LocalRedirect(Url.IsLocalUrl(ReturnUrl) ? ReturnUrl! : "/");
    }
}
