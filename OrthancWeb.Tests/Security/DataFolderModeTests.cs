using System.Net;
using OrthancWeb.Tests.Server;

namespace OrthancWeb.Tests.Security;

/// <summary>
/// Issue 15.9: the data folder holds the HTTPS private key, password hashes, the index, the images and the job
/// archives: after a start, an ingest and an archive job, nothing under it is open to the group or to others, and a
/// data folder left loose by an older version is tightened at the next start.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class DataFolderModeTests
{
    private const UnixFileMode GroupAndOthers = UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute |
        UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;

    private static List<string> OpenEntries(string root) =>
        new DirectoryInfo(root).EnumerateFileSystemInfos("*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0 })
            .Append(new DirectoryInfo(root))
            .Where(e => (e.UnixFileMode & GroupAndOthers) != 0)
            .Select(e => $"{e.FullName} {Convert.ToString((int)e.UnixFileMode, 8)}").ToList();

    [Fact]
    public async Task Nothing_under_the_data_folder_is_readable_by_group_or_others_even_after_an_upgrade()
    {
        var folder = Directory.CreateTempSubdirectory("ow-modes-").FullName;
        try
        {
            string data;
            // A generated password too, so that its file is checked.
            var generate = new Dictionary<string, string> { ["Security__AdminPassword"] = "" };
            await using (var server = await ServerProcess.StartAsync(folder, env: generate))
            {
                data = server.DataDirectory;
                var password = server.GeneratedAdminPassword;
                using var browser = server.CreateClient();
                await ServerProcess.LoginAsync(browser, "admin", password);
                await ServerProcess.ChangePasswordAsync(browser, password, ServerProcess.AdminPassword);
                using var client = server.CreateRestClient();
                var instance = await Rest.UploadAsync(client, Rest.Sample("CT_small.dcm"));
                var study = instance["ParentStudy"]!.GetValue<string>();
                var job = await Rest.PostJsonAsync(client, "/tools/create-archive", new { Resources = new[] { study }, Asynchronous = true });
                var id = job["ID"]!.GetValue<string>();
                var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
                while ((await Rest.GetJsonAsync(client, $"/jobs/{id}"))["State"]!.GetValue<string>() != "Success")
                {
                    Assert.True(DateTime.UtcNow < deadline, "archive job did not finish");
                    await Task.Delay(100);
                }
                Assert.Equal(HttpStatusCode.OK, (await client.GetAsync($"/jobs/{id}/archive")).StatusCode);
                Assert.Contains(Directory.EnumerateFiles(data, "*", SearchOption.AllDirectories), f => f.Contains("storage", StringComparison.Ordinal));
                Assert.Contains(Directory.EnumerateFiles(data, "*", SearchOption.AllDirectories), f => f.Contains("jobs", StringComparison.Ordinal));
                Assert.Empty(OpenEntries(data));
            }

            // An older version's data folder: everything 0755 / 0644. The next start takes group and others' rights off.
            foreach (var entry in new DirectoryInfo(data).EnumerateFileSystemInfos("*", SearchOption.AllDirectories).Append(new DirectoryInfo(data)))
                entry.UnixFileMode = entry is DirectoryInfo ? (UnixFileMode)0b111_101_101 : (UnixFileMode)0b110_100_100;
            Assert.NotEmpty(OpenEntries(data));
            await using (var again = await ServerProcess.StartAsync(folder, keepPorts: true))
            {
                Assert.Empty(OpenEntries(data));
                using var client = again.CreateRestClient();
                Assert.Single((await Rest.GetJsonAsync(client, "/instances")).AsArray());
            }
        }
        finally
        {
            try { Directory.Delete(folder, true); } catch (IOException) { }
        }
    }
}
