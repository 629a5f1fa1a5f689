using System.Collections.Concurrent;
using System.Globalization;
using System.Net.Http.Headers;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.Options;
using OrthancWeb.Audit;

namespace OrthancWeb.Security;

/// <summary>
/// HTTP Basic for REST scripts (RFC 7617), checked against the same Identity users as the login page. Password hashing
/// is slow on purpose (~50 ms), so a verified credential is remembered for a short while; a wrong one never is. An
/// address that failed too often gets 429 with Retry-After (RFC 6585) until its wait is over, right password or not.
/// </summary>
public sealed class BasicAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory logger,
    UrlEncoder encoder,
    LoginService login,
    LoginThrottle throttle,
    SignInManager<IdentityUser> signIn,
    BasicCredentialCache cache) : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "Basic";
    private static readonly object s_retryAfterKey = new();

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        if (!AuthenticationHeaderValue.TryParse(Request.Headers.Authorization, out var header) ||
            !string.Equals(header.Scheme, SchemeName, StringComparison.OrdinalIgnoreCase) || header.Parameter is null)
            return AuthenticateResult.NoResult();
        string decoded;
        try { decoded = Encoding.UTF8.GetString(Convert.FromBase64String(header.Parameter)); }
        catch (FormatException) { return AuthenticateResult.Fail("Malformed Basic credentials"); }
        var colon = decoded.IndexOf(':', StringComparison.Ordinal);
        if (colon < 0) return AuthenticateResult.Fail("Malformed Basic credentials");

        var address = Context.Connection.RemoteIpAddress;
        var key = Convert.ToBase64String(SHA256.HashData(Encoding.UTF8.GetBytes(decoded)));
        if (throttle.RetryAfter(address) == TimeSpan.Zero && cache.TryGet(key, out var cached))
            return AuthenticateResult.Success(new AuthenticationTicket(cached, SchemeName));

        var result = await login.CheckAsync(decoded[..colon], decoded[(colon + 1)..], address, AuditSources.Rest, "HTTP Basic");
        switch (result.Status)
        {
            case LoginStatus.Succeeded:
                var principal = await signIn.CreateUserPrincipalAsync(result.User!);
                var identity = new ClaimsIdentity(principal.Claims, SchemeName, ClaimTypes.Name, ClaimTypes.Role);
                var user = new ClaimsPrincipal(identity);
                cache.Set(key, result.User!.Id, user);
                return AuthenticateResult.Success(new AuthenticationTicket(user, SchemeName));
            case LoginStatus.Throttled:
                Context.Items[s_retryAfterKey] = result.RetryAfter;
                return AuthenticateResult.Fail("Too many failed logins from this address");
            case LoginStatus.LockedOut:
                return AuthenticateResult.Fail("Account locked");
            default:
                return AuthenticateResult.Fail("Invalid user name or password");
        }
    }

    protected override Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        if (Context.Items.TryGetValue(s_retryAfterKey, out var value) && value is TimeSpan wait)
        {
            Response.Headers.RetryAfter = Math.Ceiling(wait.TotalSeconds).ToString(CultureInfo.InvariantCulture);
            return BrowserSecurity.WriteErrorAsync(Context, StatusCodes.Status429TooManyRequests,
                $"Too many failed logins from this address: try again in {Math.Ceiling(wait.TotalSeconds)} s");
        }
        Response.StatusCode = 401;
        Response.Headers.WWWAuthenticate = "Basic realm=\"OrthancWeb\", charset=\"UTF-8\"";
        return Task.CompletedTask;
    }
}

/// <summary>
/// Verified Basic credentials for two minutes, keyed by a hash of "user:password" (never the password itself). Any
/// change to the account (password, roles, lock, deletion: see <see cref="ServerUserManager"/>) forgets its entries at
/// once, so a credential never outlives what made it valid.
/// </summary>
public sealed class BasicCredentialCache(TimeProvider time)
{
    private static readonly TimeSpan Lifetime = TimeSpan.FromMinutes(2);
    private readonly ConcurrentDictionary<string, (ClaimsPrincipal Principal, string UserId, DateTimeOffset Expires)> _entries = new();

    public bool TryGet(string key, out ClaimsPrincipal principal)
    {
        principal = null!;
        if (!_entries.TryGetValue(key, out var e)) return false;
        if (e.Expires < time.GetUtcNow()) { _entries.TryRemove(key, out _); return false; }
        principal = e.Principal;
        return true;
    }

    public void Set(string key, string userId, ClaimsPrincipal principal)
    {
        if (_entries.Count > 1000) _entries.Clear();
        _entries[key] = (principal, userId, time.GetUtcNow() + Lifetime);
    }

    /// <summary>Forgets every credential of one account (its password, roles or lock changed, or it was deleted).</summary>
    public void Invalidate(string userId)
    {
        foreach (var (key, entry) in _entries)
        {
            if (entry.UserId == userId) _entries.TryRemove(key, out _);
        }
    }

    /// <summary>Forget everything.</summary>
    public void Clear() => _entries.Clear();
}
