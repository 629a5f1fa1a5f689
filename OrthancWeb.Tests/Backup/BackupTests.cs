using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using OrthancWeb.Hosting;
using OrthancWeb.Security;
using OrthancWeb.Tests.Infrastructure;
using OrthancWeb.Tests.Server;
using Xunit.Abstractions;
using static OrthancWeb.Tests.Server.Rest;

namespace OrthancWeb.Tests.Backup;

/// <summary>A running server with a viewer account ("val") besides the administrator, and its DICOM port.</summary>
public sealed class BackupServerFixture : IAsyncLifetime
{
    public const string Password = "Backup-Pa55word";
    public string Folder { get; private set; } = "";
    public ServerProcess Server { get; private set; } = null!;
    public int DicomPort { get; } = ServerProcess.FreePort();

    public async Task InitializeAsync()
    {
        Folder = Directory.CreateTempSubdirectory("ow-backup-").FullName;
        await Accounts.CreateAsync(Path.Combine(Folder, "data"), Password, ("val", Roles.Viewer));
        Server = await ServerProcess.StartAsync(Folder, $", \"DicomPort\": {DicomPort}");
    }

    public async Task DisposeAsync()
    {
        await Server.DisposeAsync();
        try { Directory.Delete(Folder, true); } catch (IOException) { }
    }
}

/// <summary>Issue 21, "Kept": online backup while storescu stores, restore into an empty folder only, administrators only.</summary>
public sealed class BackupTests(BackupServerFixture fx, ITestOutputHelper output) : IClassFixture<BackupServerFixture>
{
    private const int Count = 600;

    [Fact]
    public async Task A_backup_taken_while_storescu_stores_restores_every_instance_acknowledged_before_it_with_its_bytes()
    {
        var work = Directory.CreateTempSubdirectory("ow-backup-run-").FullName;
        try
        {
            var uid = "1.2.826.0.1.3680043.10.1021." + Environment.ProcessId.ToString(CultureInfo.InvariantCulture);
            var instances = GeneratedInstances.Series("BACKUP-1", uid, Count);
            using var admin = fx.Server.CreateRestClient();
            // Ingest under way: some instances are in, more are coming.
            var deadline = Stopwatch.StartNew();
            var send = await IngestUnderWay.StartAsync(admin, "BACKUPSCU", fx.DicomPort, instances, work);
            // Acknowledged (committed, answered) before the backup started: every one of these must come back.
            var before = Ids(await GetJsonAsync(admin, "/instances"));
            var backup = Path.Combine(work, "backup");
            var timer = Stopwatch.StartNew();
            var answer = await BackUpAsync(admin, backup);
            timer.Stop();
            var manifest = JsonNodeOf(await answer.Content.ReadAsStringAsync());
            Assert.True(answer.StatusCode == HttpStatusCode.OK, manifest.ToJsonString());
            var sendRunning = !send.IsCompleted;
            var sender = await send;
            Assert.True(sender.ExitCode == 0, sender.Output);
            Assert.Equal(Count, sender.Acknowledged.Count);

            var inBackup = manifest["CountInstances"]!.GetValue<long>();
            var bytes = manifest["FileBytes"]!.GetValue<long>() + manifest["DatabaseBytes"]!.GetValue<long>();
            output.WriteLine($"backup of {inBackup} instances ({before.Length} acknowledged before it) while storescu stored: " +
                             $"{timer.Elapsed.TotalSeconds:F2} s, {bytes / 1024} KB; storescu still running after it: {sendRunning}");
            Assert.InRange(inBackup, before.Length, Count - 1); // ingest went on during the backup: it has some, not all
            Assert.Empty(manifest["MissingFiles"]!.AsArray());
            Assert.Empty(manifest["DamagedFiles"]!.AsArray());
            Assert.True(File.Exists(Path.Combine(backup, "manifest.json")));
            // Audited: who backed up, where to (the trail is written from a queue: polled, briefly).
            while (!(await GetJsonAsync(admin, "/audit?action=Backup")).AsArray()
                       .Any(e => e!["User"]?.GetValue<string>() == "admin" && e["ResourceID"]?.GetValue<string>() == backup && e["Outcome"]!.GetValue<string>() == "Success"))
            {
                Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(120), "the backup is not in the audit trail");
                await Task.Delay(50);
            }

            // Restore with the command line into an empty folder, then start a second server on it.
            var second = Directory.CreateTempSubdirectory("ow-backup-restored-").FullName;
            try
            {
                var data = Path.Combine(second, "data");
                var restore = await ServerCommand.RunAsync("restore", "--from", backup, "--data", data);
                Assert.True(restore.ExitCode == 0, restore.Output);
                // Refused into a folder that now holds something, and nothing in it changed.
                var index = Path.Combine(data, "db", "index.db");
                var written = File.GetLastWriteTimeUtc(index);
                var again = await ServerCommand.RunAsync("restore", "--from", backup, "--data", data);
                Assert.Equal(1, again.ExitCode);
                Assert.Contains($"The data folder {data} is not empty", again.Output, StringComparison.Ordinal);
                Assert.Equal(written, File.GetLastWriteTimeUtc(index));

                await using var restored = await ServerProcess.StartAsync(second);
                using var client = restored.CreateRestClient();
                var present = Ids(await GetJsonAsync(client, "/instances")).ToHashSet();
                Assert.Equal(inBackup, present.Count);
                foreach (var id in before)
                {
                    Assert.Contains(id, present);
                    // The file as the first server stored it (C-STORE: its own file meta information), byte for byte.
                    Assert.Equal(Convert.ToHexStringLower(MD5.HashData(await admin.GetByteArrayAsync($"/instances/{id}/file"))),
                        Convert.ToHexStringLower(MD5.HashData(await client.GetByteArrayAsync($"/instances/{id}/file"))));
                }
                // /statistics agrees with the files present in the restored storage area.
                var stats = await GetJsonAsync(client, "/statistics");
                var stored = Directory.EnumerateFiles(Path.Combine(data, "storage"), "*", SearchOption.AllDirectories)
                    .Where(f => !f.Contains(Path.DirectorySeparatorChar + ".tmp", StringComparison.Ordinal) && !f.EndsWith(".part", StringComparison.Ordinal))
                    .Select(f => new FileInfo(f).Length).ToList();
                Assert.Equal(stats["CountInstances"]!.GetValue<long>(), stored.Count);
                Assert.Equal(stored.Sum().ToString(CultureInfo.InvariantCulture), stats["TotalDiskSize"]!.GetValue<string>());
                Assert.DoesNotContain("Start-up check: removed", restored.Log, StringComparison.Ordinal); // the start-up check found index and files agreeing
                // The accounts came back too: the viewer signs in on the restored server.
                using var viewer = restored.CreateRestClient("val", BackupServerFixture.Password);
                Assert.Equal(HttpStatusCode.OK, (await viewer.GetAsync("/statistics")).StatusCode);
            }
            finally { Directory.Delete(second, true); }
        }
        finally { Directory.Delete(work, true); }
    }

    [Fact]
    public async Task Only_administrators_may_back_up_and_never_into_the_data_folder()
    {
        var target = Path.Combine(fx.Folder, "viewer-backup");
        using var viewer = fx.Server.CreateRestClient("val", BackupServerFixture.Password);
        Assert.Equal(HttpStatusCode.Forbidden, (await BackUpAsync(viewer, target)).StatusCode);
        Assert.False(Directory.Exists(target));

        using var admin = fx.Server.CreateRestClient();
        var refused = Path.Combine(fx.Server.DataDirectory, "backup");
        var inside = await BackUpAsync(admin, refused);
        Assert.Equal(HttpStatusCode.BadRequest, inside.StatusCode);
        Assert.Contains("overlaps the server's data folder", await inside.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        // The refusal is in the audit trail (written from a queue: polled, briefly).
        var deadline = Stopwatch.StartNew();
        while (!(await GetJsonAsync(admin, "/audit?action=Backup")).AsArray()
                   .Any(e => e!["ResourceID"]?.GetValue<string>() == refused && e["Outcome"]!.GetValue<string>() == "MinorFailure"))
        {
            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(60), "the refused backup is not in the audit trail");
            await Task.Delay(50);
        }
    }

    [Fact]
    public async Task A_backup_whose_index_is_missing_damaged_or_not_its_own_is_refused_before_anything_is_restored()
    {
        var work = Directory.CreateTempSubdirectory("ow-backup-index-").FullName;
        try
        {
            using var admin = fx.Server.CreateRestClient();
            var uid = "1.2.826.0.1.3680043.10.1021.9." + Environment.ProcessId.ToString(CultureInfo.InvariantCulture);
            var instances = GeneratedInstances.Series("BACKUP-IDX", uid, 2);
            Assert.Equal(HttpStatusCode.OK, (await admin.PostAsync("/instances", new ByteArrayContent(instances[0].Bytes))).StatusCode);
            var backup = Path.Combine(work, "backup");
            var answer = await BackUpAsync(admin, backup);
            Assert.True(answer.StatusCode == HttpStatusCode.OK, await answer.Content.ReadAsStringAsync());
            var index = Path.Combine(backup, "db", "index.db");
            var kept = Path.Combine(work, "index.db");
            File.Move(index, kept);
            var data = Path.Combine(work, "restored");

            // Without it, a restored server would start on an empty index and delete every restored file as an orphan.
            var missing = await ServerCommand.RunAsync("restore", "--from", backup, "--data", data);
            Assert.Equal(1, missing.ExitCode);
            Assert.Contains("The backup lacks db/index.db", missing.Output, StringComparison.Ordinal);
            Assert.False(Directory.Exists(data));

            var bytes = await File.ReadAllBytesAsync(kept);
            bytes.AsSpan(100, 4000).Fill(0xA5); // the schema's page overwritten
            await File.WriteAllBytesAsync(index, bytes);
            var damaged = await ServerCommand.RunAsync("restore", "--from", backup, "--data", data);
            Assert.Equal(1, damaged.ExitCode);
            Assert.Contains("db/index.db", damaged.Output, StringComparison.Ordinal);
            Assert.Contains("damaged", damaged.Output, StringComparison.Ordinal);
            Assert.False(Directory.Exists(data));

            // A later backup's index under this manifest: one instance more than the manifest says.
            Assert.Equal(HttpStatusCode.OK, (await admin.PostAsync("/instances", new ByteArrayContent(instances[1].Bytes))).StatusCode);
            var later = Path.Combine(work, "later");
            var made = await BackUpAsync(admin, later);
            Assert.True(made.StatusCode == HttpStatusCode.OK, await made.Content.ReadAsStringAsync());
            File.Copy(Path.Combine(later, "db", "index.db"), index, overwrite: true);
            var foreign = await ServerCommand.RunAsync("restore", "--from", backup, "--data", data);
            Assert.Equal(1, foreign.ExitCode);
            Assert.Contains("it is not the index this manifest describes", foreign.Output, StringComparison.Ordinal);
            Assert.False(Directory.Exists(data));

            // Its own index back: restored.
            File.Copy(kept, index, overwrite: true);
            var restored = await ServerCommand.RunAsync("restore", "--from", backup, "--data", data);
            Assert.True(restored.ExitCode == 0, restored.Output);
        }
        finally { Directory.Delete(work, true); }
    }

    private static Task<HttpResponseMessage> BackUpAsync(HttpClient client, string path) =>
        client.PostAsync("/tools/backup", new StringContent(new System.Text.Json.Nodes.JsonObject { ["Path"] = path }.ToJsonString(),
            System.Text.Encoding.UTF8, "application/json"));

    private static System.Text.Json.Nodes.JsonNode JsonNodeOf(string text) => System.Text.Json.Nodes.JsonNode.Parse(text)!;
}
