using System.Security.Cryptography;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace OrthancWeb.Security;

/// <summary>
/// Brings the security database to the current schema, creates the roles, and creates the administrator account the
/// first time the server starts. A configured password is used as is; otherwise one is generated and printed once.
/// </summary>
public sealed partial class AdministratorSeeder(
    SecurityDbContext db,
    UserManager<IdentityUser> users,
    RoleManager<IdentityRole> roles,
    IOptions<SecurityOptions> options,
    ILogger<AdministratorSeeder> logger)
{
    public async Task SeedAsync(CancellationToken cancellationToken = default)
    {
        await db.Database.MigrateAsync(cancellationToken);

        foreach (var role in Roles.All)
        {
            if (!await roles.RoleExistsAsync(role))
                Check(await roles.CreateAsync(new IdentityRole(role)), $"create role {role}");
        }

        var name = options.Value.AdminUser;
        if (await users.FindByNameAsync(name) is not null)
            return;

        var configured = options.Value.AdminPassword;
        var password = string.IsNullOrEmpty(configured) ? GeneratePassword() : configured;
        var user = new IdentityUser(name) { EmailConfirmed = true };
        Check(await users.CreateAsync(user, password), $"create administrator '{name}'");
        Check(await users.AddToRoleAsync(user, Roles.Administrator), $"give '{name}' the {Roles.Administrator} role");

        if (string.IsNullOrEmpty(configured))
            LogCreatedWithGeneratedPassword(logger, name, password);
        else
            LogCreatedWithConfiguredPassword(logger, name);
    }

    [LoggerMessage(LogLevel.Warning, "Created administrator account '{User}' with generated password: {Password}  (shown once; change it after the first login)")]
    private static partial void LogCreatedWithGeneratedPassword(ILogger logger, string user, string password);

    [LoggerMessage(LogLevel.Information, "Created administrator account '{User}' with the password from configuration")]
    private static partial void LogCreatedWithConfiguredPassword(ILogger logger, string user);

    /// <summary>20 characters that satisfy Identity's default rules (upper, lower, digit, symbol).</summary>
    internal static string GeneratePassword()
    {
        const string upper = "ABCDEFGHJKLMNPQRSTUVWXYZ", lower = "abcdefghijkmnopqrstuvwxyz", digits = "23456789", symbols = "-_.!";
        const string all = upper + lower + digits + symbols;
        var chars = new char[20];
        for (var i = 0; i < chars.Length; i++)
            chars[i] = all[RandomNumberGenerator.GetInt32(all.Length)];
        chars[0] = upper[RandomNumberGenerator.GetInt32(upper.Length)];
        chars[1] = lower[RandomNumberGenerator.GetInt32(lower.Length)];
        chars[2] = digits[RandomNumberGenerator.GetInt32(digits.Length)];
        chars[3] = symbols[RandomNumberGenerator.GetInt32(symbols.Length)];
        RandomNumberGenerator.Shuffle(chars.AsSpan());
        return new string(chars);
    }

    private static void Check(IdentityResult result, string what)
    {
        if (!result.Succeeded)
            throw new InvalidOperationException($"Could not {what}: {string.Join("; ", result.Errors.Select(e => e.Description))}");
    }
}
