using System.Collections.Concurrent;
using System.Net.Http.Headers;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.Options;

namespace OrthancWeb.Security;

/// <summary>
/// HTTP Basic for REST scripts (RFC 7617), checked against the same Identity users as the login page. Password hashing
/// is slow on purpose (~50 ms), so a verified credential is remembered for a short while; a wrong one never is.
/// </summary>
public sealed class BasicAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory logger,
    UrlEncoder encoder,
    UserManager<IdentityUser> users,
    SignInManager<IdentityUser> signIn,
    BasicCredentialCache cache) : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "Basic";

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        if (!AuthenticationHeaderValue.TryParse(Request.Headers.Authorization, out var header) ||
            !string.Equals(header.Scheme, SchemeName, StringComparison.OrdinalIgnoreCase) || header.Parameter is null)
            return AuthenticateResult.NoResult();
        string decoded;
        try { decoded = Encoding.UTF8.GetString(Convert.FromBase64String(header.Parameter)); }
        catch (FormatException) { return AuthenticateResult.Fail("Malformed Basic credentials"); }
        var colon = decoded.IndexOf(':');
        if (colon < 0) return AuthenticateResult.Fail("Malformed Basic credentials");

        var key = Convert.ToBase64String(SHA256.HashData(Encoding.UTF8.GetBytes(decoded)));
        if (cache.TryGet(key, out var cached))
            return AuthenticateResult.Success(new AuthenticationTicket(cached, SchemeName));

        var user = await users.FindByNameAsync(decoded[..colon]);
        if (user is null) return AuthenticateResult.Fail("Invalid user name or password");
        var check = await signIn.CheckPasswordSignInAsync(user, decoded[(colon + 1)..], lockoutOnFailure: true);
        if (!check.Succeeded) return AuthenticateResult.Fail(check.IsLockedOut ? "Account locked" : "Invalid user name or password");
        var principal = await signIn.CreateUserPrincipalAsync(user);
        var identity = new ClaimsIdentity(principal.Claims, SchemeName, ClaimTypes.Name, ClaimTypes.Role);
        var result = new ClaimsPrincipal(identity);
        cache.Set(key, result);
        return AuthenticateResult.Success(new AuthenticationTicket(result, SchemeName));
    }

    protected override Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        Response.StatusCode = 401;
        Response.Headers.WWWAuthenticate = "Basic realm=\"OrthancWeb\", charset=\"UTF-8\"";
        return Task.CompletedTask;
    }
}

/// <summary>Verified Basic credentials for two minutes, keyed by a hash of "user:password" (never the password itself).</summary>
public sealed class BasicCredentialCache(TimeProvider time)
{
    private static readonly TimeSpan Lifetime = TimeSpan.FromMinutes(2);
    private readonly ConcurrentDictionary<string, (ClaimsPrincipal Principal, DateTimeOffset Expires)> _entries = new();

    public bool TryGet(string key, out ClaimsPrincipal principal)
    {
        principal = null!;
        if (!_entries.TryGetValue(key, out var e)) return false;
        if (e.Expires < time.GetUtcNow()) { _entries.TryRemove(key, out _); return false; }
        principal = e.Principal;
        return true;
    }

    public void Set(string key, ClaimsPrincipal principal)
    {
        if (_entries.Count > 1000) _entries.Clear();
        _entries[key] = (principal, time.GetUtcNow() + Lifetime);
    }

    /// <summary>Forget everything, e.g. after a password change or a role change.</summary>
    public void Clear() => _entries.Clear();
}
