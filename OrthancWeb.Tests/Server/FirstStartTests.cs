using System.Net;
using System.Text.RegularExpressions;

namespace OrthancWeb.Tests.Server;

/// <summary>What an admin sees on a fresh machine: data folder, certificate, administrator, login.</summary>
public sealed partial class FirstStartTests
{
    [GeneratedRegex("generated password: (\\S+)")]
    private static partial Regex GeneratedPassword();

    [GeneratedRegex("name=\"__RequestVerificationToken\" value=\"([^\"]+)\"")]
    private static partial Regex AntiforgeryToken();

    [Fact]
    public async Task Fresh_start_creates_data_certificate_and_admin_and_the_admin_can_log_in()
    {
        var folder = Directory.CreateTempSubdirectory("ow-first-").FullName;
        string password;
        string thumbprint;
        var generate = new Dictionary<string, string> { ["Security__AdminPassword"] = "" };
        await using (var server = await ServerProcess.StartAsync(folder, env: generate))
        {
            Assert.True(File.Exists(Path.Combine(server.DataDirectory, "certs", "server.pfx")));
            Assert.True(File.Exists(Path.Combine(server.DataDirectory, "db", "security.db")));
            Assert.True(Directory.Exists(Path.Combine(server.DataDirectory, "storage")));
            var match = GeneratedPassword().Match(server.Log);
            Assert.True(match.Success, "the generated password must be printed once:\n" + server.Log);
            password = match.Groups[1].Value;
            thumbprint = Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(Path.Combine(server.DataDirectory, "certs", "server.pfx"))));

            using var client = server.CreateClient();
            // Anonymous users are sent to the login page.
            var home = await client.GetAsync("/");
            Assert.Equal(HttpStatusCode.Redirect, home.StatusCode);
            Assert.Contains("/account/login", home.Headers.Location!.ToString());

            // A wrong password is refused, the right one opens the UI.
            Assert.Contains("error=invalid", (await PostLogin(client, "admin", "wrong-password")).Headers.Location!.ToString());
            var ok = await PostLogin(client, "admin", password);
            Assert.Equal("/", ok.Headers.Location!.ToString());
            var page = await client.GetStringAsync("/");
            Assert.Contains("mud-layout", page);
            Assert.Contains("admin", page);
        }

        // Second start: same certificate, no new password printed, the old one still works.
        await using (var again = await ServerProcess.StartAsync(folder, env: generate))
        {
            Assert.DoesNotMatch(GeneratedPassword(), again.Log);
            Assert.Equal(thumbprint, Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(Path.Combine(again.DataDirectory, "certs", "server.pfx")))));
            using var client = again.CreateClient();
            Assert.Equal("/", (await PostLogin(client, "admin", password)).Headers.Location!.ToString());
        }
        Directory.Delete(folder, true);
    }

    [Fact]
    public async Task Configured_admin_password_from_the_environment_is_used()
    {
        var folder = Directory.CreateTempSubdirectory("ow-env-").FullName;
        await using (var server = await ServerProcess.StartAsync(folder, env: new() { ["Security__AdminPassword"] = "Hospital-Pa55" }))
        {
            Assert.DoesNotMatch(GeneratedPassword(), server.Log);
            using var client = server.CreateClient();
            Assert.Equal("/", (await PostLogin(client, "admin", "Hospital-Pa55")).Headers.Location!.ToString());
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

    private static async Task<HttpResponseMessage> PostLogin(HttpClient client, string user, string password)
    {
        var form = await client.GetStringAsync("/account/login");
        var token = AntiforgeryToken().Match(form).Groups[1].Value;
        return await client.PostAsync("/account/login", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["userName"] = user, ["password"] = password, ["returnUrl"] = "/", ["__RequestVerificationToken"] = token,
        }));
    }
}
