using System.Globalization;
using Microsoft.AspNetCore.Identity;
using Microsoft.AspNetCore.Mvc;
using OrthancWeb.Audit;
using OrthancWeb.Hosting;

namespace OrthancWeb.Security;

/// <summary>Form posts for the static login page and for logout; Blazor pages cannot set cookies themselves.</summary>
public static class AccountEndpoints
{
    public static void MapAccountEndpoints(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/account");

        group.MapPost("/login", async (
            [FromForm] string userName, [FromForm] string password, [FromForm] string? returnUrl,
            HttpContext http, LoginService login, SignInManager<IdentityUser> signIn) =>
        {
            var target = IsLocal(returnUrl) ? returnUrl! : "/";
            var result = await login.CheckAsync(userName ?? "", password ?? "", http.Connection.RemoteIpAddress, AuditSources.Ui, "login page");
            if (result.Status == LoginStatus.Succeeded)
            {
                await signIn.SignInAsync(result.User!, isPersistent: false);
                return Results.LocalRedirect(target);
            }
            var reason = result.Status switch
            {
                LoginStatus.LockedOut => "locked",
                LoginStatus.Throttled => "throttled&wait=" + Math.Ceiling(result.RetryAfter.TotalSeconds).ToString(CultureInfo.InvariantCulture),
                _ => "invalid",
            };
            return Results.LocalRedirect($"/account/login?error={reason}&returnUrl={Uri.EscapeDataString(target)}");
        }).AllowAnonymous();

        group.MapPost("/password", async ([FromForm] string current, [FromForm] string next, HttpContext http,
            UserManager<IdentityUser> users, SignInManager<IdentityUser> signIn, DataPaths paths) =>
        {
            var user = await users.GetUserAsync(http.User);
            if (user is null) return Results.LocalRedirect("/account/login");
            if (string.Equals(current, next, StringComparison.Ordinal))
                return Results.LocalRedirect("/account/password?error=" + Uri.EscapeDataString("The new password must differ from the current one."));
            var result = await users.ChangePasswordAsync(user, current ?? "", next ?? "");
            if (!result.Succeeded)
                return Results.LocalRedirect("/account/password?error=" + Uri.EscapeDataString(string.Join(" ", result.Errors.Select(e => e.Description))));
            // A generated password, once replaced, is no longer required to change, and its file is of no more use.
            var required = (await users.GetClaimsAsync(user)).Where(c => c.Type == PasswordChange.RequiredClaim).ToList();
            if (required.Count > 0)
            {
                await users.RemoveClaimsAsync(user, required);
                File.Delete(AdministratorSeeder.GeneratedPasswordFile(paths));
            }
            await signIn.RefreshSignInAsync(user);
            return Results.LocalRedirect("/account/password?done=true");
        }).RequireAuthorization();

        group.MapPost("/logout", async (SignInManager<IdentityUser> signIn, IAuditTrail audit) =>
        {
            await signIn.SignOutAsync();
            audit.Record(new AuditEvent(AuditActions.Logout, AuditOutcome.Success) { Source = AuditSources.Ui });
            return Results.LocalRedirect("/account/login");
        }).RequireAuthorization();
    }

    private static bool IsLocal(string? url) =>
        !string.IsNullOrEmpty(url) && url[0] == '/' && (url.Length == 1 || (url[1] != '/' && url[1] != '\\'));
}
