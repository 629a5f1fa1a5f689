using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using OrthancWeb.Hosting;
using OrthancWeb.Security;

namespace OrthancWeb.Tests.Security;

/// <summary>
/// Issue 15.13: the generated administrator password goes to a file only its owner can read. Seeded in this process,
/// not through a server (the server narrows its umask at start, which would hide a seeder that forgot the mode), over a
/// stale file left world-readable (a data folder copied with loose modes): creating anew would keep that file's mode.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class GeneratedPasswordFileTests
{
    [Fact]
    public async Task The_generated_password_is_written_for_its_owner_only_and_signs_the_administrator_in()
    {
        var folder = Directory.CreateTempSubdirectory("ow-password-file-").FullName;
        try
        {
            var paths = new DataPaths(Path.Combine(folder, "data"));
            paths.CreateAll();
            var file = AdministratorSeeder.GeneratedPasswordFile(paths);
            await File.WriteAllTextAsync(file, "stale\n");
            File.SetUnixFileMode(file, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);

            var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["Security:AdminPassword"] = "" }).Build();
            var services = new ServiceCollection().AddLogging().AddSingleton(TimeProvider.System)
                .AddSingleton<OrthancWeb.Audit.IAuditTrail, OrthancWeb.Audit.LogAuditTrail>().AddSecurity(configuration, paths);
            await using (var provider = services.BuildServiceProvider())
            await using (var scope = provider.CreateAsyncScope())
            {
                await scope.ServiceProvider.GetRequiredService<AdministratorSeeder>().SeedAsync();
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
                var password = (await File.ReadAllTextAsync(file)).Trim();
                Assert.NotEqual("stale", password);
                var users = scope.ServiceProvider.GetRequiredService<UserManager<IdentityUser>>();
                var admin = await users.FindByNameAsync("admin");
                Assert.NotNull(admin);
                Assert.True(await users.CheckPasswordAsync(admin, password));
            }
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(folder, true);
        }
    }
}
