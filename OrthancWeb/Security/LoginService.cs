using System.Net;
using Microsoft.AspNetCore.Identity;
using OrthancWeb.Audit;

namespace OrthancWeb.Security;

public enum LoginStatus { Succeeded, Invalid, Throttled, LockedOut }

public sealed record LoginResult(LoginStatus Status, IdentityUser? User = null, TimeSpan RetryAfter = default);

/// <summary>
/// The one check of a user name and password, for the login page and for HTTP Basic alike: the address's wait first
/// (<see cref="LoginThrottle"/>), then the password, hashed even for an unknown user so that the answer takes as long
/// whether the account exists or not, and every outcome in the audit trail.
/// </summary>
public sealed class LoginService(
    UserManager<IdentityUser> users,
    SignInManager<IdentityUser> signIn,
    IPasswordHasher<IdentityUser> hasher,
    LoginThrottle throttle,
    IAuditTrail audit)
{
    private static readonly IdentityUser s_nobody = new("nobody");
    private static string? s_dummyHash;

    /// <param name="source">Where the attempt came in (<see cref="AuditSources"/>).</param>
    /// <param name="method">How, for the audit trail: "login page", "HTTP Basic".</param>
    public async Task<LoginResult> CheckAsync(string userName, string password, IPAddress? address, string source, string method)
    {
        var where = address?.ToString();
        var wait = throttle.RetryAfter(address);
        if (wait > TimeSpan.Zero)
        {
            audit.Record(new AuditEvent(AuditActions.LoginFailed, AuditOutcome.MinorFailure)
            {
                User = userName, Address = where, Source = source,
                Details = $"{method}: refused unchecked, this address must wait {Math.Ceiling(wait.TotalSeconds)} s after repeated failures",
            });
            return new LoginResult(LoginStatus.Throttled, RetryAfter: wait);
        }

        var user = await users.FindByNameAsync(userName);
        SignInResult check;
        if (user is null)
        {
            // The same work as for a real account (PBKDF2 with Identity's parameters): no user enumeration by timing.
            s_dummyHash ??= hasher.HashPassword(s_nobody, Guid.NewGuid().ToString());
            hasher.VerifyHashedPassword(s_nobody, s_dummyHash, password);
            check = SignInResult.Failed;
        }
        else
        {
            // Failures never lock the account (the address waits instead); an account an administrator locked stays locked.
            check = await signIn.CheckPasswordSignInAsync(user, password, lockoutOnFailure: false);
        }

        if (check.Succeeded)
        {
            throttle.Succeeded(address);
            audit.Record(new AuditEvent(AuditActions.Login, AuditOutcome.Success) { User = user!.UserName, Address = where, Source = source, Details = method });
            return new LoginResult(LoginStatus.Succeeded, user);
        }
        if (check.IsLockedOut)
        {
            audit.Record(new AuditEvent(AuditActions.Lockout, AuditOutcome.MinorFailure)
            {
                User = userName, Address = where, Source = source, Details = $"{method}: the account is locked",
            });
            return new LoginResult(LoginStatus.LockedOut, user);
        }
        var (delay, failures) = throttle.Failed(address);
        audit.Record(new AuditEvent(AuditActions.LoginFailed, AuditOutcome.MinorFailure)
        {
            User = userName, Address = where, Source = source,
            Details = $"{method}: {(user is null ? "unknown user" : "wrong password")}",
        });
        if (delay > TimeSpan.Zero)
        {
            audit.Record(new AuditEvent(AuditActions.Lockout, AuditOutcome.SeriousFailure)
            {
                User = userName, Address = where, Source = source,
                Details = $"{failures} failed logins from this address: it must wait {delay.TotalSeconds:0} s before its next attempt",
            });
        }
        return new LoginResult(LoginStatus.Invalid, RetryAfter: delay);
    }
}
