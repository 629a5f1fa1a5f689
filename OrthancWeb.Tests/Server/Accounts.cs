using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using OrthancWeb.Hosting;
using OrthancWeb.Security;

namespace OrthancWeb.Tests.Server;

/// <summary>Accounts written to the security database a server will open, before it starts, as the Users page would.</summary>
internal static class Accounts
{
    public static async Task CreateAsync(string dataFolder, string password, params (string Name, string Role)[] accounts)
    {
        var paths = new DataPaths(dataFolder);
        paths.CreateAll();
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { ["Security:AdminPassword"] = ServerProcess.AdminPassword }).Build();
        // Accounts made before the server starts are not the trail's business: a trail that only logs.
        var services = new ServiceCollection().AddLogging().AddSingleton(TimeProvider.System)
            .AddSingleton<OrthancWeb.Audit.IAuditTrail, OrthancWeb.Audit.LogAuditTrail>().AddSecurity(configuration, paths);
        await using (var provider = services.BuildServiceProvider())
        await using (var scope = provider.CreateAsyncScope())
        {
            await scope.ServiceProvider.GetRequiredService<AdministratorSeeder>().SeedAsync();
            var users = scope.ServiceProvider.GetRequiredService<UserManager<IdentityUser>>();
            foreach (var (name, role) in accounts)
            {
                var user = new IdentityUser(name) { EmailConfirmed = true };
                Assert.True((await users.CreateAsync(user, password)).Succeeded);
                Assert.True((await users.AddToRoleAsync(user, role)).Succeeded);
            }
        }
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
    }
}
