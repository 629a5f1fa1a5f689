using System.Security.Claims;
using Microsoft.AspNetCore.Identity;
using Microsoft.AspNetCore.Mvc;

namespace OrthancWeb.Security;

/// <summary>Form posts for the static login page and for logout; Blazor pages cannot set cookies themselves.</summary>
public static class AccountEndpoints
{
    public static void MapAccountEndpoints(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/account");

        group.MapPost("/login", async (
            [FromForm] string userName, [FromForm] string password, [FromForm] string? returnUrl,
            SignInManager<IdentityUser> signIn) =>
        {
            var target = IsLocal(returnUrl) ? returnUrl! : "/";
            var result = await signIn.PasswordSignInAsync(userName ?? "", password ?? "", isPersistent: false, lockoutOnFailure: true);
            if (result.Succeeded)
                return Results.LocalRedirect(target);
            var reason = result.IsLockedOut ? "locked" : "invalid";
            return Results.LocalRedirect($"/account/login?error={reason}&returnUrl={Uri.EscapeDataString(target)}");
        }).AllowAnonymous();

        group.MapPost("/password", async ([FromForm] string current, [FromForm] string next, HttpContext http,
            UserManager<IdentityUser> users, SignInManager<IdentityUser> signIn, BasicCredentialCache cache) =>
        {
            var user = await users.GetUserAsync(http.User);
            if (user is null) return Results.LocalRedirect("/account/login");
            var result = await users.ChangePasswordAsync(user, current ?? "", next ?? "");
            if (!result.Succeeded)
                return Results.LocalRedirect("/account/password?error=" + Uri.EscapeDataString(string.Join(" ", result.Errors.Select(e => e.Description))));
            cache.Clear();
            await signIn.RefreshSignInAsync(user);
            return Results.LocalRedirect("/account/password?done=true");
        }).RequireAuthorization();

        group.MapPost("/logout", async (SignInManager<IdentityUser> signIn) =>
        {
            await signIn.SignOutAsync();
            return Results.LocalRedirect("/account/login");
        }).RequireAuthorization();
    }

    private static bool IsLocal(string? url) =>
        !string.IsNullOrEmpty(url) && url[0] == '/' && (url.Length == 1 || (url[1] != '/' && url[1] != '\\'));
}
