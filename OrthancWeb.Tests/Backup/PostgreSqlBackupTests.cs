using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Npgsql;
using OrthancWeb.Backup;
using OrthancWeb.Tests.Infrastructure;
using OrthancWeb.Tests.Server;
using Xunit.Abstractions;
using static OrthancWeb.Tests.Server.Rest;

namespace OrthancWeb.Tests.Backup;

/// <summary>
/// A server on a real PostgreSQL index whose stored files are in a storage folder outside its data folder (the
/// StorageDirectory that servers sharing an index share), and its DICOM port.
/// </summary>
public sealed class PostgreSqlBackupFixture : IAsyncLifetime
{
    public string Folder { get; private set; } = "";
    public string Storage => Path.Combine(Folder, "shared-storage");
    public string Database { get; private set; } = "";
    public ServerProcess Server { get; private set; } = null!;
    public int DicomPort { get; } = ServerProcess.FreePort();

    public static string OnPostgreSql(string connectionString) =>
        $", \"IndexProvider\": \"PostgreSQL\", \"IndexConnectionString\": \"{connectionString}\"";

    public async Task InitializeAsync()
    {
        Folder = Directory.CreateTempSubdirectory("ow-pgbackup-").FullName;
        Database = await (await PostgresServer.Shared).CreateDatabaseAsync();
        Server = await ServerProcess.StartAsync(Folder, $", \"DicomPort\": {DicomPort}, \"StorageDirectory\": \"{Storage}\"" + OnPostgreSql(Database));
    }

    public async Task DisposeAsync()
    {
        await Server.DisposeAsync();
        await (await PostgresServer.Shared).DropDatabaseAsync(Database);
        try { Directory.Delete(Folder, true); } catch (IOException) { }
    }
}

/// <summary>Issue 21, "Kept", for an index on PostgreSQL: pg_dump in an exported snapshot, the files that snapshot names, pg_restore.</summary>
public sealed class PostgreSqlBackupTests(PostgreSqlBackupFixture fx, ITestOutputHelper output) : IClassFixture<PostgreSqlBackupFixture>
{
    private const int Count = 600;

    [Fact]
    public async Task A_backup_taken_while_storescu_stores_restores_into_an_empty_database_with_every_instance_acknowledged_before_it()
    {
        var work = Directory.CreateTempSubdirectory("ow-pgbackup-run-").FullName;
        var postgres = await PostgresServer.Shared;
        var target = await postgres.CreateDatabaseAsync();
        try
        {
            var uid = "1.2.826.0.1.3680043.10.1121." + Environment.ProcessId.ToString(CultureInfo.InvariantCulture);
            using var admin = fx.Server.CreateRestClient();
            var send = await IngestUnderWay.StartAsync(admin, "PGBACKUPSCU", fx.DicomPort, GeneratedInstances.Series("PGBACKUP-1", uid, Count), work);
            // Acknowledged (committed, answered) before the backup started: every one of these must come back.
            var before = Ids(await GetJsonAsync(admin, "/instances"));
            var backup = Path.Combine(work, "backup");
            var timer = Stopwatch.StartNew();
            var answer = await admin.PostAsync("/tools/backup", new StringContent(new JsonObject { ["Path"] = backup }.ToJsonString(),
                System.Text.Encoding.UTF8, "application/json"));
            timer.Stop();
            var manifest = JsonNode.Parse(await answer.Content.ReadAsStringAsync())!;
            Assert.True(answer.StatusCode == HttpStatusCode.OK, manifest.ToJsonString());
            var sendRunning = !send.IsCompleted;
            var sender = await send;
            Assert.True(sender.ExitCode == 0, sender.Output);
            Assert.Equal(Count, sender.Acknowledged.Count);

            var inBackup = manifest["CountInstances"]!.GetValue<long>();
            var bytes = manifest["FileBytes"]!.GetValue<long>() + manifest["DatabaseBytes"]!.GetValue<long>();
            output.WriteLine($"PostgreSQL backup of {inBackup} instances ({before.Length} acknowledged before it) while storescu stored: " +
                             $"{timer.Elapsed.TotalSeconds:F2} s, {bytes / 1024} KB (dump {new FileInfo(Path.Combine(backup, "index.pgdump")).Length / 1024} KB); " +
                             $"storescu still running after it: {sendRunning}");
            Assert.Equal("PostgreSQL", manifest["IndexProvider"]!.GetValue<string>());
            Assert.Equal(BackupManifest.PostgreSqlFormat, manifest["Format"]!.GetValue<int>());
            Assert.InRange(inBackup, before.Length, Count - 1); // ingest went on during the backup: it has some, not all
            Assert.Equal(inBackup, manifest["FileCount"]!.GetValue<long>()); // the dump and the file list are one snapshot
            Assert.Empty(manifest["MissingFiles"]!.AsArray());
            Assert.Empty(manifest["DamagedFiles"]!.AsArray());

            // Restore with the command line into a new empty database and an empty data folder.
            var second = Directory.CreateTempSubdirectory("ow-pgbackup-restored-").FullName;
            try
            {
                var data = Path.Combine(second, "data");
                timer.Restart();
                var restore = await ServerCommand.RunAsync("restore", "--from", backup, "--data", data, "--index-connection", target);
                timer.Stop();
                Assert.True(restore.ExitCode == 0, restore.Output);
                output.WriteLine($"restore (command, pg_restore and files): {timer.Elapsed.TotalSeconds:F2} s: {restore.Output.Trim()}");

                // Refused into a database that now holds an index, before anything is written in the (empty) data folder.
                var elsewhere = Path.Combine(second, "elsewhere");
                var again = await ServerCommand.RunAsync("restore", "--from", backup, "--data", elsewhere, "--index-connection", target);
                Assert.Equal(1, again.ExitCode);
                var database = new NpgsqlConnectionStringBuilder(target).Database;
                Assert.Contains($"The database '{database}' on 127.0.0.1 is not empty", again.Output, StringComparison.Ordinal);
                Assert.Contains("restore only into an empty database", again.Output, StringComparison.Ordinal);
                Assert.False(Directory.Exists(elsewhere));

                await using var restored = await ServerProcess.StartAsync(second, PostgreSqlBackupFixture.OnPostgreSql(target));
                using var client = restored.CreateRestClient();
                var present = Ids(await GetJsonAsync(client, "/instances")).ToHashSet();
                Assert.Equal(inBackup, present.Count);
                foreach (var id in before)
                {
                    Assert.Contains(id, present);
                    // The file as the first server stored it, byte for byte.
                    Assert.Equal(Convert.ToHexStringLower(MD5.HashData(await admin.GetByteArrayAsync($"/instances/{id}/file"))),
                        Convert.ToHexStringLower(MD5.HashData(await client.GetByteArrayAsync($"/instances/{id}/file"))));
                }
                // /statistics agrees with the files present in the restored storage area.
                var stats = await GetJsonAsync(client, "/statistics");
                var stored = Directory.EnumerateFiles(Path.Combine(data, "storage"), "*", SearchOption.AllDirectories)
                    .Where(f => Guid.TryParse(Path.GetFileName(f), out _)).Select(f => new FileInfo(f).Length).ToList();
                Assert.Equal(inBackup, stats["CountInstances"]!.GetValue<long>());
                Assert.Equal(stats["CountInstances"]!.GetValue<long>(), stored.Count);
                Assert.Equal(stored.Sum().ToString(CultureInfo.InvariantCulture), stats["TotalDiskSize"]!.GetValue<string>());
                Assert.DoesNotContain("Start-up check: removed", restored.Log, StringComparison.Ordinal);
                Assert.Contains("Start-up check: index and storage area agree", restored.Log, StringComparison.Ordinal);
            }
            finally { Directory.Delete(second, true); }
        }
        finally
        {
            await postgres.DropDatabaseAsync(target);
            Directory.Delete(work, true);
        }
    }

    [Fact]
    public void The_password_goes_to_pg_dump_through_its_environment_never_on_its_command_line()
    {
        var (conninfo, environment) = PostgresTools.Connection("Host=db.example;Port=5433;Username=orthanc;Password=s3cr'et;Database=index;SSL Mode=Require");
        Assert.Equal("host='db.example' port='5433' user='orthanc' dbname='index' connect_timeout='15' sslmode='require' application_name='OrthancWeb backup'", conninfo);
        Assert.DoesNotContain("s3cr", conninfo, StringComparison.Ordinal);
        Assert.Equal("s3cr'et", environment["PGPASSWORD"]);
    }
}
