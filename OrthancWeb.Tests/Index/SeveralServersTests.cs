using System.Globalization;
using System.Text.Json.Nodes;
using OrthancWeb.Tests.Infrastructure;
using static OrthancWeb.Tests.Infrastructure.Poll;
using OrthancWeb.Tests.Server;
using Xunit.Abstractions;

namespace OrthancWeb.Tests.Index;

/// <summary>
/// Three server processes on one real PostgreSQL index and one storage folder (each its own data folder and ports),
/// started at once on an empty database: they must behave as one archive.
/// </summary>
public class SeveralServersFixture : IAsyncLifetime
{
    /// <summary>How many servers; on which PostgreSQL (a test that restarts it needs one of its own).</summary>
    protected virtual int Count => 3;
    protected virtual Task<PostgresServer> PostgresAsync() => PostgresServer.Shared;

    public const string Aet = "SHARED", ScuAet = "SHAREDSCU", DestAet = "SHAREDDEST";

    /// <summary>A storescp's port, not listened on until a test starts one there.</summary>
    public int DestPort { get; } = ServerProcess.FreePort();
    public string Root { get; } = Directory.CreateTempSubdirectory("ow-shared-").FullName;
    public string Storage => Path.Combine(Root, "storage");
    public string Database { get; private set; } = "";
    public List<ServerProcess> Servers { get; } = [];
    public List<int> DicomPorts { get; } = [];
    public List<HttpClient> Clients { get; } = [];

    public string Settings(int dicomPort) => Settings(dicomPort, Database);

    /// <summary>The connection string server <paramref name="i"/> reaches the index with (a test may route one through a proxy).</summary>
    protected virtual string ConnectionString(int i) => Database;

    private string Settings(int dicomPort, string connectionString) => $$"""
        , "DicomPort": {{dicomPort}}, "DicomAet": "{{Aet}}", "StableAge": 2, "StorageDirectory": "{{Storage}}", "OrphanSweepSeconds": 2,
        "IndexProvider": "PostgreSQL", "IndexConnectionString": "{{connectionString}}",
        "DicomModalities": { "scu": { "AET": "{{ScuAet}}", "Host": "127.0.0.1", "Port": 1 },
                             "dest": { "AET": "{{DestAet}}", "Host": "127.0.0.1", "Port": {{DestPort}} } }
        """;

    public string Folder(int i) => Path.Combine(Root, "server" + i.ToString(CultureInfo.InvariantCulture));

    public async Task InitializeAsync()
    {
        Database = await (await PostgresAsync()).CreateDatabaseAsync();
        for (var i = 0; i < Count; i++)
        {
            Directory.CreateDirectory(Folder(i));
            DicomPorts.Add(ServerProcess.FreePort());
        }
        // All three at once on the empty database: the migrations and the start-up checks race as they would in a hospital.
        var starts = Enumerable.Range(0, Count).Select(i => ServerProcess.StartAsync(Folder(i), Settings(DicomPorts[i], ConnectionString(i)))).ToList();
        try { await Task.WhenAll(starts); }
        catch
        {
            // One failed to start: the others are stopped here, not left running past the test run.
            foreach (var started in starts.Where(t => t.IsCompletedSuccessfully)) await started.Result.DisposeAsync();
            throw;
        }
        Servers.AddRange(starts.Select(t => t.Result));
        Clients.AddRange(Servers.Select(s => s.CreateRestClient()));
    }

    public async Task RestartAsync(int i)
    {
        Clients[i].Dispose();
        await Servers[i].DisposeAsync();
        Servers[i] = await ServerProcess.StartAsync(Folder(i), Settings(DicomPorts[i], ConnectionString(i)), keepPorts: true);
        Clients[i] = Servers[i].CreateRestClient();
    }

    /// <summary>The servers now answering that they lead.</summary>
    public async Task<List<int>> LeadersAsync()
    {
        var leaders = new List<int>();
        for (var i = 0; i < Servers.Count; i++)
        {
            if (Servers[i].HasExited) continue;
            if ((await Rest.GetJsonAsync(Clients[i], "/system"))["IndexLeader"]!.GetValue<bool>()) leaders.Add(i);
        }
        return leaders;
    }

    /// <summary>Whether server <paramref name="i"/> has written this to its log.</summary>
    public bool Logged(int i, string text) => Servers[i].Log.Contains(text, StringComparison.Ordinal);

    /// <summary>The attempts of a job a server has logged as failed ("Job {id} ({type}) failed on attempt {n}").</summary>
    public int FailedAttempts(int i, string job) =>
        Servers[i].Log.Split('\n').Count(l => l.Contains($"Job {job} (", StringComparison.Ordinal) && l.Contains("failed on attempt", StringComparison.Ordinal));

    public async Task<System.Net.HttpStatusCode> ReadyAsync(int i) => (await Clients[i].GetAsync("/health/ready")).StatusCode;

    public async Task<string> JobStateAsync(int i, string job) => (await Rest.GetJsonAsync(Clients[i], $"/jobs/{job}"))["State"]!.GetValue<string>();

    /// <summary>Who owns a job, as its row in the shared index says.</summary>
    public async Task<string?> JobOwnerAsync(string job)
    {
        await using var connection = new Npgsql.NpgsqlConnection(Database + ";Pooling=false");
        await connection.OpenAsync();
        await using var command = new Npgsql.NpgsqlCommand("SELECT \"Value\" FROM \"GlobalProperties\" WHERE \"Name\" = @name", connection);
        command.Parameters.AddWithValue("name", OrthancWeb.Jobs.SharedJobLeases.Prefix + job);
        return await command.ExecuteScalarAsync() is string value ? JsonNode.Parse(value)?["Owner"]?.GetValue<string>() : null;
    }

    /// <summary>Stored files in the shared folder (partial and temporary files apart) and their total size.</summary>
    public (int Files, long Bytes) StoredFiles()
    {
        var files = Directory.EnumerateFiles(Storage, "*", SearchOption.AllDirectories)
            .Where(f => !f.Contains("/.tmp", StringComparison.Ordinal) && Guid.TryParse(Path.GetFileName(f), out _)).ToList();
        return (files.Count, files.Sum(f => new FileInfo(f).Length));
    }

    public virtual async Task DisposeAsync()
    {
        foreach (var c in Clients) c.Dispose();
        foreach (var s in Servers) await s.DisposeAsync();
        await (await PostgresAsync()).DropDatabaseAsync(Database);
        Directory.Delete(Root, true);
    }
}

public sealed class SeveralServersTests(SeveralServersFixture fx, ITestOutputHelper output) : IClassFixture<SeveralServersFixture>
{
    private async Task<JsonNode> StatisticsAsync(int server) => await Rest.GetJsonAsync(fx.Clients[server], "/statistics");

    // Orthanc gives the disk sizes as strings, the counts as numbers.
    private static long Count(JsonNode statistics, string field) => long.Parse(statistics[field]!.ToString(), CultureInfo.InvariantCulture);

    private async Task<string> TagOfAsync(int server) =>
        new OrthancWeb.Hosting.ServerIdentity((await Rest.GetJsonAsync(fx.Clients[server], "/system"))["DatabaseServerIdentifier"]!.GetValue<string>()).Tag;

    /// <summary>The tags of the partial files (ab/cd/uuid.tag.part) in the shared folder: the servers' files made ahead of need.</summary>
    private HashSet<string> PartialTags() => Directory.EnumerateFiles(fx.Storage, "*.part", SearchOption.AllDirectories)
        .Select(f => Path.GetFileName(f).Split('.')).Where(p => p.Length == 3).Select(p => p[1]).ToHashSet();

    /// <summary>Every change of the shared log, from the first.</summary>
    private async Task<List<JsonNode>> ChangesAsync(int server)
    {
        var all = new List<JsonNode>();
        long since = 0;
        while (true)
        {
            var page = await Rest.GetJsonAsync(fx.Clients[server], $"/changes?since={since}&limit=1000");
            all.AddRange(page["Changes"]!.AsArray().Select(c => c!));
            since = page["Last"]!.GetValue<long>();
            if (page["Done"]!.GetValue<bool>()) return all;
        }
    }

    [Fact]
    public async Task Overlapping_sends_to_three_servers_store_each_instance_once_and_the_archive_counts_exactly()
    {
        var folder = Path.Combine(fx.Root, "overlap");
        // Three studies, each sent to two servers at once (A to 0 and 2, B to 0 and 1, C to 1 and 2).
        var generated = new[] { "9001", "9002", "9003" }.Select(n => GeneratedInstances.Series("SHARED-" + n, "1.2.826.0.1.3680043.10." + n, 40, pixelBytes: 8192)).ToList();
        var (a, b, c) = (GeneratedInstances.WriteFiles(Path.Combine(folder, "a"), generated[0]), GeneratedInstances.WriteFiles(Path.Combine(folder, "b"), generated[1]), GeneratedInstances.WriteFiles(Path.Combine(folder, "c"), generated[2]));
        var before = await StatisticsAsync(0);
        var (filesBefore, bytesBefore) = fx.StoredFiles();
        var sends = await Task.WhenAll(
            StorescuSender.SendAsync(SeveralServersFixture.ScuAet, SeveralServersFixture.Aet, fx.DicomPorts[0], [.. a, .. b]),
            StorescuSender.SendAsync(SeveralServersFixture.ScuAet, SeveralServersFixture.Aet, fx.DicomPorts[1], [.. b, .. c]),
            StorescuSender.SendAsync(SeveralServersFixture.ScuAet, SeveralServersFixture.Aet, fx.DicomPorts[2], [.. c, .. a]));
        foreach (var s in sends) Assert.True(s.Acknowledged.Count == 80, $"{s.Acknowledged.Count} of 80 acknowledged:\n{s.Output}");

        // One archive: every server counts three more patients, studies and series and 120 more instances, and the
        // disk size it reports grew by the size of the new files in the shared folder, one file per instance.
        var (files, bytes) = fx.StoredFiles();
        Assert.Equal(120, files - filesBefore);
        string[] fields = ["CountPatients", "CountStudies", "CountSeries", "CountInstances", "TotalDiskSize"];
        for (var i = 0; i < 3; i++)
        {
            var stats = await StatisticsAsync(i);
            Assert.Equal([3L, 3L, 3L, 120L, bytes - bytesBefore], fields.Select(f => Count(stats, f) - Count(before, f)));
            Assert.Equal(Count(stats, "CountInstances"), (await Rest.GetJsonAsync(fx.Clients[i], "/instances")).AsArray().Count);
        }

        // A modality added on one server is known to the others within seconds (run-time settings live in the index).
        var added = await fx.Clients[0].PutAsync("/modalities/added", System.Net.Http.Json.JsonContent.Create(new { AET = "ADDED", Host = "127.0.0.1", Port = 1104 }));
        Assert.True(added.IsSuccessStatusCode, await added.Content.ReadAsStringAsync());
        await Until(async () => Rest.Ids(await Rest.GetJsonAsync(fx.Clients[2], "/modalities")).Contains("added"), "the modality on another server", seconds: 10);

        // One leader; it marks each resource stable once for the archive, whatever server received its instances.
        Assert.Single(await fx.LeadersAsync());
        var studies = generated.Select(g => g[0].StudyId).ToList();
        await Until(async () =>
        {
            foreach (var study in studies)
                if (!(await Rest.GetJsonAsync(fx.Clients[1], $"/studies/{study}"))["IsStable"]!.GetValue<bool>()) return false;
            return true;
        }, "every study stable");
        var ours = generated.SelectMany(g => g).Select(i => i.Id).Concat(studies).ToHashSet();
        foreach (var study in studies)
        {
            var s = await Rest.GetJsonAsync(fx.Clients[0], $"/studies/{study}");
            ours.Add(s["ParentPatient"]!.GetValue<string>());
            ours.UnionWith(Rest.Ids(s["Series"]!));
        }
        var changes = (await ChangesAsync(2)).Where(ch => ours.Contains(ch["ID"]!.GetValue<string>())).ToList();
        Assert.Equal(120, changes.Count(ch => ch["ChangeType"]!.GetValue<string>() == "NewInstance"));
        foreach (var type in new[] { "StableSeries", "StableStudy", "StablePatient" })
            Assert.Equal(3, changes.Count(ch => ch["ChangeType"]!.GetValue<string>() == type));
    }

    [Fact]
    public async Task Killing_the_leader_mid_ingest_loses_no_acknowledged_instance_and_another_server_takes_the_lead_and_its_jobs()
    {
        var leader = Assert.Single(await fx.LeadersAsync());
        var other = (leader + 1) % 3;
        var (leaderTag, otherTag) = (await TagOfAsync(leader), await TagOfAsync(other));

        // A job of the leader's waiting to retry: its destination does not listen yet.
        var small = GeneratedInstances.WriteFiles(Path.Combine(fx.Root, "job"), GeneratedInstances.Series("SHARED-JOB", "1.2.826.0.1.3680043.10.9006", 3));
        Assert.Equal(3, (await StorescuSender.SendAsync(SeveralServersFixture.ScuAet, SeveralServersFixture.Aet, fx.DicomPorts[leader], small)).Acknowledged.Count);
        var smallStudy = GeneratedInstances.Series("SHARED-JOB", "1.2.826.0.1.3680043.10.9006", 1)[0].StudyId;
        var job = (await Rest.PostJsonAsync(fx.Clients[leader], "/modalities/dest/store",
            new { Resources = new[] { smallStudy }, Asynchronous = true, Retries = 100, RetryDelay = 1 }))["ID"]!.GetValue<string>();
        await Until(async () => (await Rest.GetJsonAsync(fx.Clients[leader], $"/jobs/{job}"))["State"]!.GetValue<string>() == "Retry", "the job waiting to retry");
        var instances = GeneratedInstances.Series("SHARED-KILL", "1.2.826.0.1.3680043.10.9004", 300, pixelBytes: 32 * 1024);
        var files = GeneratedInstances.WriteFiles(Path.Combine(fx.Root, "kill"), instances);
        var byFile = files.Zip(instances).ToDictionary(p => p.First, p => p.Second);
        var before = Count(await StatisticsAsync(other), "CountInstances");

        // The leader takes the first 200, the other server the last 150 (50 sent to both); the leader is killed once a
        // few dozen of its own have been stored.
        var toLeader = StorescuSender.SendAsync(SeveralServersFixture.ScuAet, SeveralServersFixture.Aet, fx.DicomPorts[leader], files[..200]);
        var toOther = StorescuSender.SendAsync(SeveralServersFixture.ScuAet, SeveralServersFixture.Aet, fx.DicomPorts[other], files[150..]);
        await Until(async () => Count(await StatisticsAsync(other), "CountInstances") >= before + 40, "40 instances in");
        fx.Servers[leader].Kill();
        var (killed, kept) = (await toLeader, await toOther);
        output.WriteLine($"the leader acknowledged {killed.Acknowledged.Count} of 200 before it was killed");
        Assert.True(killed.Acknowledged.Count < 200, "the leader was killed after it had stored everything: the kill came too late to test anything");
        Assert.Equal(150, kept.Acknowledged.Count);

        // Within seconds another server leads (PostgreSQL dropped the dead session's lock), and every instance either
        // server acknowledged is there with an intact file.
        await Until(async () => (await fx.LeadersAsync()).Count == 1, "a new leader", seconds: 30);
        foreach (var file in killed.Acknowledged.Concat(kept.Acknowledged).Distinct())
        {
            var id = byFile[file].Id;
            var verify = await fx.Clients[other].PostAsync($"/instances/{id}/attachments/dicom/verify-md5", null);
            Assert.True(verify.IsSuccessStatusCode, $"{Path.GetFileName(file)} acknowledged, then {verify.StatusCode}");
        }
        // The new leader takes the dead server's job over: once its destination listens, the job succeeds there.
        var received = Path.Combine(fx.Root, "dest");
        await using (var dest = new StorescpPeers())
        {
            await dest.StartAsync(SeveralServersFixture.DestAet, fx.DestPort, received);
            var adopter = Assert.Single(await fx.LeadersAsync());
            await Until(async () =>
            {
                var answer = await fx.Clients[adopter].GetAsync($"/jobs/{job}");
                return answer.IsSuccessStatusCode && (await Rest.GetJsonAsync(fx.Clients[adopter], $"/jobs/{job}"))["State"]!.GetValue<string>() == "Success";
            }, "the job taken over and done", seconds: 60);
        }
        Assert.Equal(3, Directory.EnumerateFiles(received, "*", SearchOption.AllDirectories).Count());

        // The new leader goes on with the duties: the interrupted study turns stable.
        var study = instances[0].StudyId;
        await Until(async () => (await Rest.GetJsonAsync(fx.Clients[other], $"/studies/{study}"))["IsStable"]!.GetValue<bool>(), "the study stable");

        // The killed server restarts beside the others: its start-up check clears its own leftovers (its partial files)
        // and nothing of theirs (the files the other server made ahead of need are still there, and it goes on
        // storing into them). Every row has its file; the files the killed server had renamed but not yet committed
        // stay until a start-up check finds them an hour old, since a running server's would look the same.
        // Whether the kill left a partial file of the leader's, and whether the other's files made ahead of need are on
        // disk at this instant, is timing (a CI run found neither): one of each is planted, as a store would leave it.
        string Plant(string tag)
        {
            var uuid = Guid.NewGuid().ToString();
            var folder = Directory.CreateDirectory(Path.Combine(fx.Storage, uuid[..2], uuid[2..4])).FullName;
            var path = Path.Combine(folder, $"{uuid}.{tag}.part");
            File.WriteAllBytes(path, new byte[128]);
            return path;
        }
        var (leaderPartial, otherPartial) = (Plant(leaderTag), Plant(otherTag));
        var saved = Path.Combine(fx.Folder(leader), "data", "jobs", job + ".json");
        Assert.True(File.Exists(saved), "the killed server had no saved file of its job");
        await fx.RestartAsync(leader);
        // It forgot the job taken over while it was down instead of running it again, and answers for it from the row
        // its adopter keeps in the index.
        await Until(() => Task.FromResult(fx.Servers[leader].Log.Contains($"Job {job} was taken over", StringComparison.Ordinal)), "the job forgotten", seconds: 10);
        Assert.False(File.Exists(saved), "the job taken over is still saved on the restarted server, which would run it at its next start");
        Assert.Equal("Success", (await Rest.GetJsonAsync(fx.Clients[leader], $"/jobs/{job}"))["State"]!.GetValue<string>());
        Assert.DoesNotContain(leaderTag, PartialTags());
        Assert.False(File.Exists(leaderPartial), "the killed server's partial file was left");
        Assert.True(File.Exists(otherPartial), "a running server's partial file was deleted");
        File.Delete(otherPartial);
        var stats = await StatisticsAsync(leader);
        var (count, bytes) = fx.StoredFiles();
        Assert.InRange(count - Count(stats, "CountInstances"), 0, 4);
        Assert.InRange(bytes - Count(stats, "TotalDiskSize"), 0, 4 * 80_000);
        var again = GeneratedInstances.WriteFiles(Path.Combine(fx.Root, "again"), GeneratedInstances.Series("SHARED-AGAIN", "1.2.826.0.1.3680043.10.9005", 5));
        Assert.Equal(5, (await StorescuSender.SendAsync(SeveralServersFixture.ScuAet, SeveralServersFixture.Aet, fx.DicomPorts[other], again)).Acknowledged.Count);
        Assert.Single(await fx.LeadersAsync());
    }

    /// <summary>
    /// A server killed between its rename and its commit leaves a file no row names, and if it never starts again no
    /// start-up check removes it: the leader sweeps such files while the servers run, once they are an hour old.
    /// Younger files may be a running server's between rename and commit, and a running server's partial files are its
    /// files made ahead of need: both stay, as does every indexed file.
    /// </summary>
    [Fact]
    public async Task The_leader_sweeps_old_orphans_while_servers_run_and_leaves_young_files_and_running_servers_partial_files()
    {
        var runningTag = await TagOfAsync(0);
        var (storedBefore, _) = fx.StoredFiles();
        string Plant(string suffix, TimeSpan age)
        {
            var uuid = Guid.NewGuid().ToString();
            var folder = Directory.CreateDirectory(Path.Combine(fx.Storage, uuid[..2], uuid[2..4])).FullName;
            var path = Path.Combine(folder, uuid + suffix);
            File.WriteAllBytes(path, new byte[128]);
            File.SetLastWriteTimeUtc(path, DateTime.UtcNow - age);
            return path;
        }
        var oldOrphan = Plant("", TimeSpan.FromHours(2));
        var deadServersPartial = Plant(".0badf00d.part", TimeSpan.FromHours(2));
        var youngOrphan = Plant("", TimeSpan.FromMinutes(50));
        var runningServersPartial = Plant($".{runningTag}.part", TimeSpan.FromHours(2));

        // OrphanSweepSeconds is 2 here: the leader's next sweep removes the old ones.
        await Until(() => Task.FromResult(!File.Exists(oldOrphan) && !File.Exists(deadServersPartial)), "the old orphans swept", 30);
        Assert.True(File.Exists(youngOrphan), "a file younger than an hour was swept");
        Assert.True(File.Exists(runningServersPartial), "a running server's partial file was swept");
        Assert.Equal(storedBefore + 1, fx.StoredFiles().Files);
        File.Delete(youngOrphan);
        File.Delete(runningServersPartial);
        // As many files as instances (give or take files of stores killed earlier in this class, under an hour old):
        // the archive's own files were never candidates.
        var stats = await StatisticsAsync(0);
        Assert.InRange(fx.StoredFiles().Files - Count(stats, "CountInstances"), 0, 4);
    }
}
