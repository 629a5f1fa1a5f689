using System.Globalization;
using System.Text.Json.Nodes;
using OrthancWeb.Tests.Compatibility;
using OrthancWeb.Tests.Infrastructure;
using OrthancWeb.Tests.Server;

namespace OrthancWeb.Tests.Index;

/// <summary>
/// Two of our servers, one on the embedded SQLite index and one on a real PostgreSQL, sent the same files over REST
/// and DICOM: every answer of the one must be the other's.
/// </summary>
public sealed class TwoProvidersFixture : IAsyncLifetime
{
    public const string Aet = "OWEB";
    public const string ScuAet = "FINDSCU";

    private string _sqliteFolder = "", _postgreSqlFolder = "";
    public string Database { get; private set; } = "";
    public ServerProcess Sqlite { get; private set; } = null!;
    public ServerProcess PostgreSql { get; private set; } = null!;
    public int SqliteDicomPort { get; } = ServerProcess.FreePort();
    public int PostgreSqlDicomPort { get; } = ServerProcess.FreePort();
    public HttpClient SqliteClient { get; private set; } = null!;
    public HttpClient PostgreSqlClient { get; private set; } = null!;

    /// <summary>pydicom's files the servers both took (some are malformed on purpose and refused by both).</summary>
    public List<string> Stored { get; } = [];

    private static string Dicom(int port) => $$"""
        , "DicomPort": {{port}}, "DicomAet": "{{Aet}}",
        "DicomModalities": { "scu": { "AET": "{{ScuAet}}", "Host": "127.0.0.1", "Port": 1 } }
        """;

    public string PostgreSqlSettings => Dicom(PostgreSqlDicomPort) + $$""", "IndexProvider": "PostgreSQL", "IndexConnectionString": "{{Database}}" """;

    public async Task InitializeAsync()
    {
        Database = await (await PostgresServer.Shared).CreateDatabaseAsync();
        (_sqliteFolder, _postgreSqlFolder) = (Directory.CreateTempSubdirectory("ow-sqlite-").FullName, Directory.CreateTempSubdirectory("ow-postgresql-").FullName);
        var sqlite = ServerProcess.StartAsync(_sqliteFolder, Dicom(SqliteDicomPort));
        var postgreSql = ServerProcess.StartAsync(_postgreSqlFolder, PostgreSqlSettings);
        (Sqlite, PostgreSql) = (await sqlite, await postgreSql);
        (SqliteClient, PostgreSqlClient) = (Sqlite.CreateRestClient(), PostgreSql.CreateRestClient());
        foreach (var file in Peers.PydicomFiles())
        {
            var bytes = await File.ReadAllBytesAsync(file);
            var (a, b) = (await SqliteClient.PostAsync("/instances", new ByteArrayContent(bytes)), await PostgreSqlClient.PostAsync("/instances", new ByteArrayContent(bytes)));
            Assert.True(a.StatusCode == b.StatusCode, $"{Path.GetFileName(file)}: {a.StatusCode} on SQLite, {b.StatusCode} on PostgreSQL");
            if (a.IsSuccessStatusCode) Stored.Add(file);
        }
    }

    /// <summary>Stops the PostgreSQL server and starts it again on the same database and data folder.</summary>
    public async Task RestartPostgreSqlAsync()
    {
        PostgreSqlClient.Dispose();
        await PostgreSql.DisposeAsync();
        PostgreSql = await ServerProcess.StartAsync(_postgreSqlFolder, PostgreSqlSettings, keepPorts: true);
        PostgreSqlClient = PostgreSql.CreateRestClient();
    }

    public async Task DisposeAsync()
    {
        SqliteClient.Dispose();
        PostgreSqlClient.Dispose();
        await Sqlite.DisposeAsync();
        await PostgreSql.DisposeAsync();
        await (await PostgresServer.Shared).DropDatabaseAsync(Database);
        Directory.Delete(_sqliteFolder, true);
        Directory.Delete(_postgreSqlFolder, true);
    }
}

public sealed class PostgreSqlServerTests(TwoProvidersFixture fx) : IClassFixture<TwoProvidersFixture>
{
    /// <summary>What differs between two servers by nature: when each wrote, the name each gave a file.</summary>
    private static readonly HashSet<string> Volatile = ["LastUpdate", "FileUuid", "Uuid", "Date", "IsStable"];

    private async Task<JsonNode?> AssertSameAsync(HttpMethod method, string path, string? body = null)
    {
        async Task<(int, string)> Send(HttpClient client)
        {
            using var request = new HttpRequestMessage(method, path);
            if (body is not null) request.Content = new StringContent(body);
            using var response = await client.SendAsync(request);
            // DICOMweb answers carry their server's own address (RetrieveURL): the ports differ, nothing else may.
            return ((int)response.StatusCode, (await response.Content.ReadAsStringAsync()).Replace(client.BaseAddress!.GetLeftPart(UriPartial.Authority), "https://server", StringComparison.Ordinal));
        }
        var ((sqliteStatus, sqliteBody), (postgreSqlStatus, postgreSqlBody)) = (await Send(fx.SqliteClient), await Send(fx.PostgreSqlClient));
        Assert.True(sqliteStatus == postgreSqlStatus, $"{method} {path} {body}: {sqliteStatus} on SQLite, {postgreSqlStatus} on PostgreSQL: {postgreSqlBody}");
        if (sqliteBody.Length == 0 || sqliteStatus / 100 != 2) return null;
        var (expected, actual) = (JsonNode.Parse(sqliteBody), JsonNode.Parse(postgreSqlBody));
        var differences = JsonDifference.Between(expected, actual, Volatile);
        Assert.True(differences.Count == 0, $"{method} {path} {body}:\n" + string.Join("\n", differences.Take(20)));
        return actual;
    }

    [Fact]
    public async Task Lists_finds_and_statistics_are_the_same_on_both_providers()
    {
        Assert.True(fx.Stored.Count > 50, $"only {fx.Stored.Count} of pydicom's files were stored");
        foreach (var level in new[] { "patients", "studies", "series", "instances" })
        {
            await AssertSameAsync(HttpMethod.Get, $"/{level}?expand");
            // Pages: the same resources in the same order, so both must sort alike.
            var all = (await AssertSameAsync(HttpMethod.Get, $"/{level}"))!.AsArray().Select(n => n!.GetValue<string>()).ToList();
            var page = (await AssertSameAsync(HttpMethod.Get, $"/{level}?limit=4&since=3"))!.AsArray().Select(n => n!.GetValue<string>()).ToList();
            Assert.Equal(all.Skip(3).Take(4), page);
        }
        var finds = new[]
        {
            """{"Level": "Patient", "Query": {"PatientName": "*"}, "Expand": true}""",
            // Case-insensitive by default, as in Orthanc; exact with CaseSensitive.
            """{"Level": "Patient", "Query": {"PatientName": "co*"}}""",
            """{"Level": "Patient", "Query": {"PatientName": "co*"}, "CaseSensitive": true}""",
            """{"Level": "Study", "Query": {"StudyDate": "20000101-20101231"}, "Expand": true}""",
            """{"Level": "Study", "Query": {"StudyDate": "-19990101"}}""",
            """{"Level": "Study", "Query": {"StudyDate": "20040826-"}}""",
            """{"Level": "Study", "Query": {"AccessionNumber": "*"}}""",
            """{"Level": "Study", "Query": {"PatientID": "?*"}, "Limit": 3, "Since": 2, "Expand": true}""",
            """{"Level": "Series", "Query": {"Modality": "MR\\CT"}}""",
            """{"Level": "Instance", "Query": {"PatientName": "*^*", "Modality": "CT"}, "Expand": true}""",
            """{"Level": "Study", "Query": {"StudyDescription": "*e*"}, "Expand": true, "RequestedTags": ["PatientName"]}""",
        };
        foreach (var find in finds) await AssertSameAsync(HttpMethod.Post, "/tools/find", find);
        var statistics = (await AssertSameAsync(HttpMethod.Get, "/statistics"))!;
        // The index is PostgreSQL's: its rows are there, and no SQLite index was made beside the data.
        await using (var connection = new Npgsql.NpgsqlConnection(fx.Database))
        {
            await connection.OpenAsync();
            await using var count = new Npgsql.NpgsqlCommand("SELECT count(*) FROM \"Resources\"", connection);
            var expected = new[] { "CountPatients", "CountStudies", "CountSeries", "CountInstances" }.Sum(k => statistics[k]!.GetValue<long>());
            Assert.Equal(expected, (long)(await count.ExecuteScalarAsync())!);
        }
        Assert.Empty(Directory.GetFiles(fx.PostgreSql.DataDirectory, "index.db*", SearchOption.AllDirectories));
        await AssertSameAsync(HttpMethod.Get, "/changes?limit=1000");
        await AssertSameAsync(HttpMethod.Get, "/changes?since=10&limit=7");
        var study = (await AssertSameAsync(HttpMethod.Get, "/studies"))!.AsArray()[0]!.GetValue<string>();
        await AssertSameAsync(HttpMethod.Get, $"/studies/{study}/statistics");
        await AssertSameAsync(HttpMethod.Get, $"/studies/{study}/instances?expand");
        await AssertSameAsync(HttpMethod.Get, "/dicom-web/studies?PatientName=*&includefield=all");
        await AssertSameAsync(HttpMethod.Get, "/dicom-web/studies?StudyDate=19000101-20101231");
        await AssertSameAsync(HttpMethod.Get, "/dicom-web/series?Modality=CT");
    }

    [Fact]
    public void Study_level_cfind_answers_the_same_on_both_providers()
    {
        List<string> Find(int port, params string[] keys)
        {
            string[] args = ["-S", "-aet", TwoProvidersFixture.ScuAet, "-aec", TwoProvidersFixture.Aet, "-k", "QueryRetrieveLevel=STUDY",
                "-k", "StudyInstanceUID", "-k", "PatientName", "-k", "StudyDate", "-k", "AccessionNumber", .. keys.SelectMany(k => new[] { "-k", k }),
                "127.0.0.1", port.ToString(CultureInfo.InvariantCulture)];
            var r = Peers.Run("findscu", ["-v", .. args]);
            Assert.True(r.ExitCode == 0, r.Stderr);
            // Each answer's dump, as one line of its sorted elements: answers come in no promised order.
            return (r.Stderr + r.Stdout).Split("Find Response:").Skip(1)
                .Select(a => string.Join("|", a.Split('\n').Where(l => l.TrimStart().StartsWith('(')).Select(l => l.Trim()).Order(StringComparer.Ordinal)))
                .Order(StringComparer.Ordinal).ToList();
        }
        foreach (var keys in new[] { Array.Empty<string>(), ["PatientName=C*"], ["StudyDate=20000101-20101231"], ["ModalitiesInStudy=MR"] })
        {
            var (sqlite, postgreSql) = (Find(fx.SqliteDicomPort, keys), Find(fx.PostgreSqlDicomPort, keys));
            Assert.True(sqlite.Count > (keys.Length == 0 ? 10 : 0), $"{string.Join(' ', keys)}: {sqlite.Count} answers");
            Assert.Equal(sqlite, postgreSql);
        }
    }

    [Fact]
    public async Task A_deletion_counts_alike_and_the_index_survives_a_restart()
    {
        var patients = (await AssertSameAsync(HttpMethod.Get, "/patients"))!.AsArray().Select(n => n!.GetValue<string>()).Order(StringComparer.Ordinal).ToList();
        await AssertSameAsync(HttpMethod.Delete, $"/patients/{patients[^1]}");
        var before = await AssertSameAsync(HttpMethod.Get, "/statistics");

        // A second server of the same name on the same database refuses to start while the first runs (servers sharing
        // an index need names of their own: see SeveralServersTests for servers that do).
        var name = (await Rest.GetJsonAsync(fx.PostgreSqlClient, "/system"))["DatabaseServerIdentifier"]!.GetValue<string>();
        var folder = Directory.CreateTempSubdirectory("ow-second-").FullName;
        try
        {
            var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => ServerProcess.StartAsync(folder, fx.PostgreSqlSettings.Replace(
                $"\"DicomPort\": {fx.PostgreSqlDicomPort}", $"\"DicomPort\": {ServerProcess.FreePort()}", StringComparison.Ordinal)
                + $", \"DatabaseServerIdentifier\": \"{name}\""));
            Assert.Contains($"Another OrthancWeb server named '{name}' already runs on the index database", refused.Message);
        }
        finally { Directory.Delete(folder, true); }

        await fx.RestartPostgreSqlAsync();
        var after = await Rest.GetJsonAsync(fx.PostgreSqlClient, "/statistics");
        Assert.Empty(JsonDifference.Between(before, after, new HashSet<string>()));
        await AssertSameAsync(HttpMethod.Get, "/instances?expand");
        // A file read back through the index after the restart is the file sent.
        var instance = (await Rest.PostJsonAsync(fx.PostgreSqlClient, "/tools/find", new { Level = "Instance", Query = new { }, Limit = 1 })).AsArray()[0]!.GetValue<string>();
        var stored = await fx.PostgreSqlClient.GetByteArrayAsync($"/instances/{instance}/file");
        Assert.Contains(fx.Stored, f => File.ReadAllBytes(f).AsSpan().SequenceEqual(stored));
    }
}
