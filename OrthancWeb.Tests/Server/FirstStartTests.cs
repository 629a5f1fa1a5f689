using System.Net;

namespace OrthancWeb.Tests.Server;

/// <summary>What an admin sees on a fresh machine: data folder, certificate, administrator, login.</summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class FirstStartTests
{
    /// <summary>
    /// Issue 15.13: the generated password is never in the log (logs are collected and kept elsewhere): it is written
    /// once to a file only the server's account can read, whose path the log gives, and must be changed at the first
    /// login before anything else, in the browser (redirected) as in a script (a 403 that says so).
    /// </summary>
    [Fact]
    public async Task Fresh_start_creates_data_certificate_and_admin_whose_generated_password_is_in_a_private_file_and_must_be_changed()
    {
        var folder = Directory.CreateTempSubdirectory("ow-first-").FullName;
        string thumbprint;
        const string chosen = "Chosen-By-Admin-7";
        var generate = new Dictionary<string, string> { ["Security__AdminPassword"] = "" };
        await using (var server = await ServerProcess.StartAsync(folder, env: generate))
        {
            Assert.True(File.Exists(Path.Combine(server.DataDirectory, "certs", "server.pfx")));
            Assert.True(File.Exists(Path.Combine(server.DataDirectory, "db", "security.db")));
            Assert.True(Directory.Exists(Path.Combine(server.DataDirectory, "storage")));
            var file = Path.Combine(server.DataDirectory, "admin-password.txt");
            Assert.True(File.Exists(file), "the generated password must be written to a file:\n" + server.Log);
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
            var password = server.GeneratedAdminPassword;
            Assert.Equal(20, password.Length);
            Assert.DoesNotContain(password, server.Log, StringComparison.Ordinal);
            Assert.Contains(file, server.Log, StringComparison.Ordinal);
            thumbprint = Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(Path.Combine(server.DataDirectory, "certs", "server.pfx"))));

            using var client = server.CreateClient();
            // Anonymous users are sent to the login page.
            var home = await client.GetAsync("/");
            Assert.Equal(HttpStatusCode.Redirect, home.StatusCode);
            Assert.Contains("/account/login", home.Headers.Location!.ToString());

            // A wrong password is refused; the right one signs in, but every page leads to the change of password.
            Assert.Contains("error=invalid", (await ServerProcess.LoginAsync(client, "admin", "wrong-password")).Headers.Location!.ToString());
            Assert.Equal("/", (await ServerProcess.LoginAsync(client, "admin", password)).Headers.Location!.ToString());
            var forced = await client.GetAsync("/ui/studies");
            Assert.Equal(HttpStatusCode.Redirect, forced.StatusCode);
            Assert.Equal("/account/password?required=true", forced.Headers.Location!.ToString());
            Assert.Contains("password-change-required", await client.GetStringAsync("/account/password?required=true"));

            // A script with the generated password is told why it is refused.
            using (var script = server.CreateRestClient("admin", password))
            {
                var refused = await script.GetAsync("/system");
                Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
                Assert.Contains("must be changed", await refused.Content.ReadAsStringAsync());
            }

            // Once changed: the UI opens, the file is gone, scripts use the new password.
            var changed = await ServerProcess.ChangePasswordAsync(client, password, chosen);
            Assert.Equal("/account/password?done=true", changed.Headers.Location!.ToString());
            Assert.False(File.Exists(file));
            var page = await client.GetAsync("/");
            Assert.Equal(HttpStatusCode.OK, page.StatusCode);
            var html = await page.Content.ReadAsStringAsync();
            Assert.Contains("mud-layout", html);
            Assert.Contains("admin", html);
            using (var script = server.CreateRestClient("admin", chosen))
                Assert.Equal(HttpStatusCode.OK, (await script.GetAsync("/system")).StatusCode);
        }

        // Second start: same certificate, no new password, the chosen one still works and nothing is forced.
        await using (var again = await ServerProcess.StartAsync(folder, env: generate))
        {
            Assert.False(File.Exists(Path.Combine(again.DataDirectory, "admin-password.txt")));
            Assert.Equal(thumbprint, Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(Path.Combine(again.DataDirectory, "certs", "server.pfx")))));
            using var client = again.CreateClient();
            Assert.Equal("/", (await ServerProcess.LoginAsync(client, "admin", chosen)).Headers.Location!.ToString());
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/ui/studies")).StatusCode);
        }
        Directory.Delete(folder, true);
    }

    [Fact]
    public async Task Configured_admin_password_from_the_environment_is_used()
    {
        var folder = Directory.CreateTempSubdirectory("ow-env-").FullName;
        await using (var server = await ServerProcess.StartAsync(folder, env: new() { ["Security__AdminPassword"] = "Hospital-Pa55" }))
        {
            // The admin chose it: no file, no forced change.
            Assert.False(File.Exists(Path.Combine(server.DataDirectory, "admin-password.txt")));
            using var client = server.CreateClient();
            Assert.Equal("/", (await ServerProcess.LoginAsync(client, "admin", "Hospital-Pa55")).Headers.Location!.ToString());
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/ui/studies")).StatusCode);
        }
        Directory.Delete(folder, true);
    }

    /// <summary>
    /// Instances side by side, one misconfigured with the DICOM port of another: it stops at start-up saying why,
    /// and the first keeps every association to itself.
    /// </summary>
    [Fact]
    public async Task A_second_instance_on_a_busy_DICOM_port_refuses_to_start_and_says_why()
    {
        var (first, second) = (Directory.CreateTempSubdirectory("ow-side1-").FullName, Directory.CreateTempSubdirectory("ow-side2-").FullName);
        var dicomPort = ServerProcess.FreePort();
        await using (var server = await ServerProcess.StartAsync(first, $", \"DicomPort\": {dicomPort}"))
        {
            var error = await Assert.ThrowsAsync<InvalidOperationException>(() => ServerProcess.StartAsync(second, $", \"DicomPort\": {dicomPort}"));
            Assert.Contains("server exited at start-up", error.Message);
            Assert.Contains($"DicomPort {dicomPort} is already in use", error.Message);
            Assert.False(server.HasExited);
            Assert.Equal(HttpStatusCode.OK, (await server.CreateRestClient().GetAsync("/system")).StatusCode);
        }
        Directory.Delete(first, true);
        Directory.Delete(second, true);
    }
}
