using System.Net;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using OrthancWeb.Hosting;
using OrthancWeb.Security;

namespace OrthancWeb.Tests.Server;

/// <summary>Repeated wrong passwords lock the account, for scripts (HTTP Basic) as for the login page, for a time on the server's clock.</summary>
public sealed class LockoutTests
{
    [Fact]
    public async Task Five_wrong_passwords_lock_the_account_even_against_the_right_one() =>
        Assert.Equal(HttpStatusCode.Unauthorized, await RightPasswordAfterWrongOnesAsync(5));

    [Fact]
    public async Task A_few_wrong_passwords_do_not_lock_the_account() =>
        Assert.Equal(HttpStatusCode.OK, await RightPasswordAfterWrongOnesAsync(3));

        /// <summary>
    /// The lockout runs on the server's clock (Identity alone would read the system's): locked for 15 minutes to the
    /// second, then open again, found by moving a fake clock instead of waiting.
    /// </summary>
    [Fact]
    public async Task A_locked_account_opens_again_once_the_lockout_time_has_passed_on_the_server_clock()
    {
        var folder = Directory.CreateTempSubdirectory("ow-lockout-clock-").FullName;
        try
        {
            var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
            var paths = new DataPaths(folder);
            paths.CreateAll();
            var configuration = new ConfigurationBuilder()
                .AddInMemoryCollection(new Dictionary<string, string?> { ["Security:AdminPassword"] = ServerProcess.AdminPassword }).Build();
            var services = new ServiceCollection().AddLogging().AddSingleton<TimeProvider>(clock).AddSecurity(configuration, paths);
            await using var provider = services.BuildServiceProvider();
            await using var scope = provider.CreateAsyncScope();
            await scope.ServiceProvider.GetRequiredService<AdministratorSeeder>().SeedAsync();
            var signIn = scope.ServiceProvider.GetRequiredService<SignInManager<IdentityUser>>();
            var admin = (await scope.ServiceProvider.GetRequiredService<UserManager<IdentityUser>>().FindByNameAsync("admin"))!;
            Task<SignInResult> RightPasswordAsync() => signIn.CheckPasswordSignInAsync(admin, ServerProcess.AdminPassword, lockoutOnFailure: true);

            for (var i = 0; i < 5; i++)
                Assert.False((await signIn.CheckPasswordSignInAsync(admin, "not-the-password", lockoutOnFailure: true)).Succeeded);
            Assert.Equal(clock.GetUtcNow() + TimeSpan.FromMinutes(15), admin.LockoutEnd);
            clock.Advance(TimeSpan.FromMinutes(15) - TimeSpan.FromSeconds(1));
            Assert.True((await RightPasswordAsync()).IsLockedOut);
            clock.Advance(TimeSpan.FromSeconds(2));
            Assert.True((await RightPasswordAsync()).Succeeded);
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(folder, true);
        }
    }

    /// <summary>On a fresh server: <paramref name="wrong"/> refused attempts as admin, then the status the right password gets.</summary>
    private static async Task<HttpStatusCode> RightPasswordAfterWrongOnesAsync(int wrong)
    {
        var folder = Directory.CreateTempSubdirectory("ow-lockout-").FullName;
        try
        {
            await using var server = await ServerProcess.StartAsync(folder);
            using var wrongClient = server.CreateRestClient("admin", "not-the-password");
            for (var i = 0; i < wrong; i++)
                Assert.Equal(HttpStatusCode.Unauthorized, (await wrongClient.GetAsync("/system")).StatusCode);
            using var right = server.CreateRestClient();
            return (await right.GetAsync("/system")).StatusCode;
        }
        finally
        {
            try { Directory.Delete(folder, true); } catch (IOException) { }
        }
    }
}
