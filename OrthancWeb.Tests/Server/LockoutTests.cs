using System.Net;

namespace OrthancWeb.Tests.Server;

/// <summary>Repeated wrong passwords lock the account, for scripts (HTTP Basic) as for the login page.</summary>
public sealed class LockoutTests
{
    [Fact]
    public async Task Five_wrong_passwords_lock_the_account_even_against_the_right_one() =>
        Assert.Equal(HttpStatusCode.Unauthorized, await RightPasswordAfterWrongOnesAsync(5));

    [Fact]
    public async Task A_few_wrong_passwords_do_not_lock_the_account() =>
        Assert.Equal(HttpStatusCode.OK, await RightPasswordAfterWrongOnesAsync(3));

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
