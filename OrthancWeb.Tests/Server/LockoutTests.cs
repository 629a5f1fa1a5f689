using System.Net;

namespace OrthancWeb.Tests.Server;

/// <summary>Repeated wrong passwords lock the account, for scripts (HTTP Basic) as for the login page.</summary>
public sealed class LockoutTests
{
    [Fact]
    public async Task Five_wrong_passwords_lock_the_account_even_against_the_right_one()
    {
        var folder = Directory.CreateTempSubdirectory("ow-lockout-").FullName;
        await using (var server = await ServerProcess.StartAsync(folder))
        {
            using var wrong = server.CreateRestClient("admin", "not-the-password");
            for (var i = 0; i < 5; i++)
                Assert.Equal(HttpStatusCode.Unauthorized, (await wrong.GetAsync("/system")).StatusCode);
            using var right = server.CreateRestClient();
            Assert.Equal(HttpStatusCode.Unauthorized, (await right.GetAsync("/system")).StatusCode);
        }
        Directory.Delete(folder, true);
    }

    [Fact]
    public async Task A_few_wrong_passwords_do_not_lock_the_account()
    {
        var folder = Directory.CreateTempSubdirectory("ow-lockout-").FullName;
        await using (var server = await ServerProcess.StartAsync(folder))
        {
            using var wrong = server.CreateRestClient("admin", "not-the-password");
            for (var i = 0; i < 3; i++)
                Assert.Equal(HttpStatusCode.Unauthorized, (await wrong.GetAsync("/system")).StatusCode);
            using var right = server.CreateRestClient();
            Assert.Equal(HttpStatusCode.OK, (await right.GetAsync("/system")).StatusCode);
        }
        Directory.Delete(folder, true);
    }
}
