using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.Options;
using OrthancWeb.Audit;

namespace OrthancWeb.Security;

/// <summary>
/// Identity's user manager with two changes. The account lockout runs on the server's <see cref="TimeProvider"/>:
/// Identity (ASP.NET Core 10) stamps and checks the end of a lockout with DateTimeOffset.UtcNow in the two methods
/// below, and takes no clock there (its TimeProvider reaches only the cookie and security-stamp checks). And the
/// changes to accounts demand the Administer policy of the <see cref="Caller"/>, whatever page asked for them, are
/// recorded in the audit trail, and end what the old account allowed: a role change renews the security stamp (as a
/// password change does), so signed-in browsers are checked again within the session validation interval, and every
/// update or deletion forgets the account's cached Basic credentials at once.
/// </summary>
public sealed class ServerUserManager(
    IUserStore<IdentityUser> store,
    IOptions<IdentityOptions> optionsAccessor,
    IPasswordHasher<IdentityUser> passwordHasher,
    IEnumerable<IUserValidator<IdentityUser>> userValidators,
    IEnumerable<IPasswordValidator<IdentityUser>> passwordValidators,
    ILookupNormalizer keyNormalizer,
    IdentityErrorDescriber errors,
    IServiceProvider services,
    ILogger<UserManager<IdentityUser>> logger,
    TimeProvider time,
    BasicCredentialCache credentials,
    IAuditTrail audit)
    : UserManager<IdentityUser>(store, optionsAccessor, passwordHasher, userValidators, passwordValidators, keyNormalizer, errors, services, logger)
{
    public override async Task<bool> IsLockedOutAsync(IdentityUser user) =>
        await GetLockoutEnabledAsync(user) && await GetLockoutEndDateAsync(user) is { } end && end >= time.GetUtcNow();

    /// <summary>Counts a failed attempt; the last one allowed locks the account for the lockout time and starts the count again.</summary>
    public override async Task<IdentityResult> AccessFailedAsync(IdentityUser user)
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(user);
        var lockouts = (IUserLockoutStore<IdentityUser>)Store;
        if (await lockouts.IncrementAccessFailedCountAsync(user, CancellationToken) >= Options.Lockout.MaxFailedAccessAttempts)
        {
            await lockouts.SetLockoutEndDateAsync(user, time.GetUtcNow() + Options.Lockout.DefaultLockoutTimeSpan, CancellationToken);
            await lockouts.ResetAccessFailedCountAsync(user, CancellationToken);
        }
        return await UpdateUserAsync(user);
    }

    /// <summary>Every change to a user goes through here (password, roles, lock, stamp): its cached Basic credentials go.</summary>
    protected override async Task<IdentityResult> UpdateUserAsync(IdentityUser user)
    {
        var result = await base.UpdateUserAsync(user);
        credentials.Invalidate(user.Id);
        return result;
    }

    public override async Task<IdentityResult> CreateAsync(IdentityUser user, string password)
    {
        Caller.Demand(Policies.Administer, "add users");
        return Audited(await base.CreateAsync(user, password), user, "created");
    }

    public override async Task<IdentityResult> DeleteAsync(IdentityUser user)
    {
        Caller.Demand(Policies.Administer, "delete users");
        var result = await base.DeleteAsync(user);
        credentials.Invalidate(user.Id);
        return Audited(result, user, "deleted");
    }

    public override async Task<IdentityResult> AddToRoleAsync(IdentityUser user, string role)
    {
        Caller.Demand(Policies.Administer, "change roles");
        var result = await base.AddToRoleAsync(user, role);
        if (result.Succeeded) result = await UpdateSecurityStampAsync(user);
        return Audited(result, user, $"role {role} given");
    }

    public override async Task<IdentityResult> RemoveFromRoleAsync(IdentityUser user, string role)
    {
        Caller.Demand(Policies.Administer, "change roles");
        var result = await base.RemoveFromRoleAsync(user, role);
        if (result.Succeeded) result = await UpdateSecurityStampAsync(user);
        return Audited(result, user, $"role {role} taken away");
    }

    public override async Task<IdentityResult> ChangePasswordAsync(IdentityUser user, string currentPassword, string newPassword) =>
        Audited(await base.ChangePasswordAsync(user, currentPassword, newPassword), user, "password changed");

    private IdentityResult Audited(IdentityResult result, IdentityUser user, string what)
    {
        audit.Record(new AuditEvent(AuditActions.AccountChanged, result.Succeeded ? AuditOutcome.Success : AuditOutcome.MinorFailure)
        {
            ResourceLevel = "User",
            ResourceId = user.UserName,
            Details = result.Succeeded ? $"user {user.UserName}: {what}"
                : $"user {user.UserName}: not {what}: {string.Join(" ", result.Errors.Select(e => e.Description))}",
        });
        return result;
    }
}
