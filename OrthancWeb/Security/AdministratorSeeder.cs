using System.Security.Claims;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using OrthancWeb.Hosting;

namespace OrthancWeb.Security;

/// <summary>
/// Brings the security database to the current schema, creates the roles, and creates the administrator account the
/// first time the server starts. A configured password is used as is (the admin chose it); otherwise one is generated
/// and written once to <c>&lt;DataDirectory&gt;/admin-password.txt</c>, readable by the server's account only (the log,
/// often collected elsewhere, holds only the file's path), and must be changed at the first login.
/// </summary>
public sealed partial class AdministratorSeeder(
    SecurityDbContext db,
    UserManager<IdentityUser> users,
    RoleManager<IdentityRole> roles,
    IOptions<SecurityOptions> options,
    DataPaths paths,
    ILogger<AdministratorSeeder> logger)
{
    public async Task SeedAsync(CancellationToken cancellationToken = default)
    {
        await db.Database.MigrateIfBehindAsync(cancellationToken);

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
        {
            Check(await users.AddClaimAsync(user, new Claim(PasswordChange.RequiredClaim, "true")), $"mark '{name}' to change its password");
            var file = GeneratedPasswordFile(paths);
            WritePrivate(file, password + "\n");
            LogCreatedWithGeneratedPassword(logger, name, file);
        }
        else
            LogCreatedWithConfiguredPassword(logger, name);
    }

    public static string GeneratedPasswordFile(DataPaths paths) => Path.Combine(paths.Root, PasswordChange.GeneratedPasswordFileName);

    /// <summary>Mode 0600 from its creation (not chmod after: the password is never readable by others, even briefly).</summary>
    private static void WritePrivate(string path, string text)
    {
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        using (var stream = new FileStream(path, options))
        using (var writer = new StreamWriter(stream))
            writer.Write(text);
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
    }

    [LoggerMessage(LogLevel.Warning, "Created administrator account '{User}' with a generated password, written to {File} (readable by this account only); it must be changed at the first login")]
    private static partial void LogCreatedWithGeneratedPassword(ILogger logger, string user, string file);

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
