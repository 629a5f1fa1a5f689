using System.Diagnostics;
using System.Net;
using OrthancWeb.Tests.Server;

namespace OrthancWeb.Tests.Security;

/// <summary>
/// Issue 15.11: a browser signed in before its account changed is signed out within the session validation interval
/// (here 1 s, by configuration; 60 s by default, Identity's was 30 minutes). Open circuits: see SecurityBrowserTests.
/// </summary>
public sealed class SessionValidationTests
{
    [Fact]
    public async Task A_session_opened_before_a_password_change_ends_within_the_interval()
    {
        var folder = Directory.CreateTempSubdirectory("ow-session-").FullName;
        try
        {
            await using var server = await ServerProcess.StartAsync(folder, env: new() { ["Security__SessionValidationInterval"] = "1" });
            using var other = server.CreateClient();
            Assert.Equal("/", (await ServerProcess.LoginAsync(other, "admin", ServerProcess.AdminPassword)).Headers.Location!.ToString());
            Assert.Equal(HttpStatusCode.OK, (await other.GetAsync("/ui/studies")).StatusCode);

            using var changer = server.CreateClient();
            await ServerProcess.LoginAsync(changer, "admin", ServerProcess.AdminPassword);
            Assert.Equal("/account/password?done=true",
                (await ServerProcess.ChangePasswordAsync(changer, ServerProcess.AdminPassword, "Changed-Pa55")).Headers.Location!.ToString());

            var clock = Stopwatch.StartNew();
            HttpResponseMessage page;
            while ((page = await other.GetAsync("/ui/studies")).StatusCode == HttpStatusCode.OK)
            {
                Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), "the old session was still open 20 s after the password change");
                await Task.Delay(100);
            }
            Assert.Equal(HttpStatusCode.Redirect, page.StatusCode);
            Assert.Contains("/account/login", page.Headers.Location!.ToString());
            // The session that changed the password was renewed with it.
            Assert.Equal(HttpStatusCode.OK, (await changer.GetAsync("/ui/studies")).StatusCode);
        }
        finally
        {
            try { Directory.Delete(folder, true); } catch (IOException) { }
        }
    }
}
