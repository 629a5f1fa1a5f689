using System.Formats.Tar;
using System.IO.Compression;
using System.Reflection;
using System.Security.Cryptography;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore.Migrations;
using OrthancWeb.Index;
using OrthancWeb.Tests.Server;
using static OrthancWeb.Tests.Server.Rest;

namespace OrthancWeb.Tests.Backup;

/// <summary>
/// Issue 21, "Kept": a data folder made by the previous release (Fixtures/DataFolder-0ffaac6, see its README) opens with
/// this build, nothing lost; one whose index a newer release migrated further is refused, saying so.
/// </summary>
public sealed class UpgradeTests
{
    /// <summary>The fixture's instances and the MD5 of their files, as the release that stored them served them.</summary>
    private static readonly Dictionary<string, string> Kept = new()
    {
        ["f689ddd2-662f8fe1-8b18180d-ec2a2cee-937917af"] = "7eb43579dfb481fdd8d9db8b59b72232",
        ["2f859814-2cf8fe4f-c7963e7d-d32c018d-66fc8cfa"] = "33c4281b1777da05a9e86ca70ae34262",
        ["ff4ab066-ea24d22c-6206dcd5-9d5328b7-32783890"] = "c9d662ec5e8cd53ba585d184c9594b51",
        ["2c10196c-9ff8df3f-9513776e-258e8f85-ed1fd3ba"] = "553be76a7ca1348fce783b2a5d9d7bec",
        ["bac127ea-4488db0e-293f7785-d4614281-7379578f"] = "bd09e7a257121fce46792495e902a8c0",
    };

    /// <summary>The fixture unpacked as data/ in a new temporary folder (the committed archive stays untouched).</summary>
    private static string Unpack()
    {
        var folder = Directory.CreateTempSubdirectory("ow-upgrade-").FullName;
        var archive = Path.Combine(ServerCommand.SourceRoot(), "OrthancWeb.Tests", "Fixtures", "DataFolder-0ffaac6", "data.tar.gz");
        using (var gzip = new GZipStream(File.OpenRead(archive), CompressionMode.Decompress))
            TarFile.ExtractToDirectory(gzip, folder, overwriteFiles: false);
        return folder;
    }

    private static List<string> AppliedMigrations(string index)
    {
        using var db = new SqliteConnection($"Data Source={index};Pooling=False");
        db.Open();
        using var command = db.CreateCommand();
        command.CommandText = "SELECT MigrationId FROM __EFMigrationsHistory ORDER BY MigrationId";
        using var reader = command.ExecuteReader();
        var ids = new List<string>();
        while (reader.Read()) ids.Add(reader.GetString(0));
        return ids;
    }

    [Fact]
    public async Task The_previous_releases_data_folder_opens_migrated_with_nothing_lost()
    {
        var folder = Unpack();
        try
        {
            await using (var server = await ServerProcess.StartAsync(folder))
            {
                using var client = server.CreateRestClient();
                var stats = await GetJsonAsync(client, "/statistics");
                Assert.Equal(5, stats["CountInstances"]!.GetValue<long>());
                Assert.Equal(5, stats["CountStudies"]!.GetValue<long>());
                Assert.Equal(Kept.Keys.Order(), Ids(await GetJsonAsync(client, "/instances")).Order());
                foreach (var (id, md5) in Kept)
                    Assert.Equal(md5, Convert.ToHexStringLower(MD5.HashData(await client.GetByteArrayAsync($"/instances/{id}/file"))));
                Assert.DoesNotContain("Start-up check: removed", server.Log, StringComparison.Ordinal); // the start-up check found nothing to repair
            }
            // Every migration this build knows is applied (the history of the previous release's, and any newer).
            var known = typeof(IndexDbContext).Assembly.GetTypes()
                .Where(t => t.Namespace == "OrthancWeb.Index.Migrations.Sqlite")
                .Select(t => t.GetCustomAttribute<MigrationAttribute>()?.Id).OfType<string>().Order().ToList();
            var index = Path.Combine(folder, "data", "db", "index.db");
            Assert.Equal(known, AppliedMigrations(index));
            // The label the previous release stored is still on its study.
            using var db = new SqliteConnection($"Data Source={index};Pooling=False");
            db.Open();
            using var labels = db.CreateCommand();
            labels.CommandText = "SELECT COUNT(*) FROM Labels WHERE Label = 'KEPT'";
            Assert.Equal(1L, (long)labels.ExecuteScalar()!);
        }
        finally { Directory.Delete(folder, true); }
    }

    [Fact]
    public async Task A_data_folder_a_newer_release_migrated_is_refused_with_the_migration_named()
    {
        var folder = Unpack();
        try
        {
            var index = Path.Combine(folder, "data", "db", "index.db");
            const string future = "29991231000000_FromANewerRelease";
            using (var db = new SqliteConnection($"Data Source={index};Pooling=False"))
            {
                db.Open();
                using var insert = db.CreateCommand();
                insert.CommandText = $"INSERT INTO __EFMigrationsHistory (MigrationId, ProductVersion) VALUES ('{future}', '99.0.0')";
                insert.ExecuteNonQuery();
            }
            var config = Path.Combine(folder, "appsettings.json");
            await File.WriteAllTextAsync(config, $$"""
                { "OrthancWeb": { "HttpsPort": {{ServerProcess.FreePort()}}, "HttpPort": {{ServerProcess.FreePort()}}, "DicomPort": {{ServerProcess.FreePort()}}, "DataDirectory": "data", "RemoteAccessAllowed": false } }
                """);
            var start = await ServerCommand.RunAsync("--config", config);
            Assert.NotEqual(0, start.ExitCode);
            Assert.Contains($"migration(s) applied that this release does not know: {future}", start.Output, StringComparison.Ordinal);
            Assert.Contains("A newer release of OrthancWeb made this data folder", start.Output, StringComparison.Ordinal);
            Assert.Contains(future, AppliedMigrations(index)); // left as it was
        }
        finally { Directory.Delete(folder, true); }
    }
}
