using Fleet.Silo.Api;
using Fleet.Silo.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace Fleet.Silo.Pages;

[AllowAnonymous]
public sealed class SignOutModel : PageModel
{
    public IActionResult OnGet() => LocalRedirect("/ui/signin");

    public async Task<IActionResult> OnPostAsync()
    {
        await HttpContext.SignOutAsync(WebAccess.CookieScheme);
        return LocalRedirect("/ui/signin");
    }
}
