using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.Options;

namespace OrthancWeb.Security;

/// <summary>
/// Identity's user manager with two changes. The account lockout runs on the server's <see cref="TimeProvider"/>:
/// Identity (ASP.NET Core 10) stamps and checks the end of a lockout with DateTimeOffset.UtcNow in the two methods
/// below, and takes no clock there (its TimeProvider reaches only the cookie and security-stamp checks). And the
/// changes to accounts demand the Administer policy of the <see cref="Caller"/>, whatever page asked for them.
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
    TimeProvider time)
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

    public override Task<IdentityResult> CreateAsync(IdentityUser user, string password)
    {
        Caller.Demand(Policies.Administer, "add users");
        return base.CreateAsync(user, password);
    }

    public override Task<IdentityResult> DeleteAsync(IdentityUser user)
    {
        Caller.Demand(Policies.Administer, "delete users");
        return base.DeleteAsync(user);
    }

    public override Task<IdentityResult> AddToRoleAsync(IdentityUser user, string role)
    {
        Caller.Demand(Policies.Administer, "change roles");
        return base.AddToRoleAsync(user, role);
    }

    public override Task<IdentityResult> RemoveFromRoleAsync(IdentityUser user, string role)
    {
        Caller.Demand(Policies.Administer, "change roles");
        return base.RemoveFromRoleAsync(user, role);
    }
}
