using System.Globalization;
using System.Net;
using OrthancWeb.Tests.Infrastructure;
using OrthancWeb.Tests.Server;

namespace OrthancWeb.Tests.Index;

/// <summary>
/// Two servers on one PostgreSQL index and one storage folder with a patient limit (Orthanc's MaximumPatientCount):
/// patients arriving on both at once make room for themselves by recycling the least recently updated ones, once for
/// the archive. Checked by breaking each guard in turn: without the recycling lock two servers recycled for one arrival
/// (13 Deleted changes for 12 arrivals) or failed a store with a 500; counting from what each server stored itself
/// instead of the shared totals left 9 patients under a limit of 5.
/// </summary>
public sealed class SeveralServersRecyclingTests : IAsyncLifetime
{
    private const int Limit = 5, Arriving = 12;
    private readonly string _root = Directory.CreateTempSubdirectory("ow-shared-recycling-").FullName;
    private string _database = "";
    private readonly List<ServerProcess> _servers = [];
    private readonly List<HttpClient> _clients = [];

    public async Task InitializeAsync()
    {
        _database = await (await PostgresServer.Shared).CreateDatabaseAsync();
        var settings = $$"""
            , "StorageDirectory": "{{Path.Combine(_root, "storage")}}", "IndexProvider": "PostgreSQL",
            "IndexConnectionString": "{{_database}}", "MaximumPatientCount": {{Limit}}
            """;
        // One first, so that the two do not race to create the schema (SeveralServersTests covers that race).
        foreach (var name in new[] { "server0", "server1" })
            _servers.Add(await ServerProcess.StartAsync(Directory.CreateDirectory(Path.Combine(_root, name)).FullName, settings));
        _clients.AddRange(_servers.Select(s => s.CreateRestClient()));
    }

    public async Task DisposeAsync()
    {
        foreach (var c in _clients) c.Dispose();
        foreach (var s in _servers) await s.DisposeAsync();
        await (await PostgresServer.Shared).DropDatabaseAsync(_database);
        Directory.Delete(_root, true);
    }

    private static GeneratedInstance Patient(int n) =>
        GeneratedInstances.Series($"RECYCLE-{n:00}", $"1.2.826.0.1.3680043.10.77{n:00}", 1, pixelBytes: 4096)[0];

    private async Task StoreAsync(int server, GeneratedInstance instance)
    {
        using var response = await _clients[server].PostAsync("/instances", new ByteArrayContent(instance.Bytes));
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{instance.PatientId} on server {server}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
    }

    [Fact]
    public async Task Patients_arriving_on_two_servers_at_once_recycle_the_oldest_once_and_the_archive_keeps_exactly_the_limit()
    {
        // Five patients, oldest first, fill the archive, stored on either server in turn: neither has seen them all.
        var old = Enumerable.Range(0, Limit).Select(Patient).ToList();
        for (var k = 0; k < old.Count; k++) await StoreAsync(k % 2, old[k]);

        // Twelve more at once: three streams on each server, each stream storing its patients one after another.
        var arriving = Enumerable.Range(Limit, Arriving).Select(Patient).ToList();
        await Task.WhenAll(Enumerable.Range(0, 6).Select(stream => Task.Run(async () =>
        {
            for (var k = stream; k < arriving.Count; k += 6) await StoreAsync(stream % 2, arriving[k]);
        })));

        // Exactly the limit, seen alike from both servers; the five old ones went first.
        var patientIds = (await Rest.GetJsonAsync(_clients[1], "/patients")).AsArray().Select(p => p!.GetValue<string>()).ToHashSet();
        Assert.Equal(Limit, patientIds.Count);
        Assert.Equal(patientIds, (await Rest.GetJsonAsync(_clients[0], "/patients")).AsArray().Select(p => p!.GetValue<string>()).ToHashSet());
        foreach (var p in old) Assert.DoesNotContain(PatientIdOf(p), patientIds);
        Assert.Equal(Limit, arriving.Count(p => patientIds.Contains(PatientIdOf(p))));

        // Every patient but the limit recycled, each once: the change log says so, and the counters and the shared
        // folder agree.
        var deleted = await DeletedPatientsAsync();
        Assert.Equal(Arriving, deleted.Count);
        Assert.Equal(Arriving, deleted.Distinct().Count());
        foreach (var client in _clients)
        {
            var statistics = await Rest.GetJsonAsync(client, "/statistics");
            Assert.Equal(Limit, statistics["CountPatients"]!.GetValue<int>());
            Assert.Equal(Limit, statistics["CountInstances"]!.GetValue<int>());
            var files = Directory.EnumerateFiles(Path.Combine(_root, "storage"), "*", SearchOption.AllDirectories)
                .Where(f => Guid.TryParse(Path.GetFileName(f), out _)).ToList();
            Assert.Equal(Limit, files.Count);
            Assert.Equal(files.Sum(f => new FileInfo(f).Length), long.Parse(statistics["TotalDiskSize"]!.ToString(), CultureInfo.InvariantCulture));
        }
    }

    private static string PatientIdOf(GeneratedInstance instance) => OrthancWeb.Index.PublicIds.Patient(instance.PatientId);

    private async Task<List<string>> DeletedPatientsAsync()
    {
        var changes = await Rest.GetJsonAsync(_clients[0], "/changes?limit=1000");
        return changes["Changes"]!.AsArray()
            .Where(c => c!["ChangeType"]!.GetValue<string>() == "Deleted" && c["ResourceType"]!.GetValue<string>() == "Patient")
            .Select(c => c!["ID"]!.GetValue<string>()).ToList();
    }
}
