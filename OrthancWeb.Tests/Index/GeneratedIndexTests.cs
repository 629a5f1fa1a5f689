using System.Text;
using System.Text.Json.Nodes;
using OrthancWeb.Benchmarks;
using OrthancWeb.Index;
using OrthancWeb.Tests.Infrastructure;
using OrthancWeb.Tests.Server;

namespace OrthancWeb.Tests.Index;

/// <summary>
/// The scale benchmark's index generator (benchmarks/OrthancWeb.Benchmarks/IndexGenerator.cs, compiled into the tests
/// too) on both providers, with a server started on each generated index: what the server answers must be what was
/// generated, and the index must go on taking instances (its identity sequences and change numbers follow the rows).
/// </summary>
public sealed class GeneratedIndexFixture : IAsyncLifetime
{
    public const int Instances = 2_000;

    private string _sqliteFolder = "", _postgreSqlFolder = "";
    public string Database { get; private set; } = "";
    public (GeneratedIndex Made, ServerProcess Server, HttpClient Client) Sqlite { get; private set; }
    public (GeneratedIndex Made, ServerProcess Server, HttpClient Client) PostgreSql { get; private set; }

    // The generated instances have no files: the whole start-up check would remove every one of them.
    private const string Settings = """, "StartupCheckAllFiles": false""";

    public async Task InitializeAsync()
    {
        Database = await (await PostgresServer.Shared).CreateDatabaseAsync();
        (_sqliteFolder, _postgreSqlFolder) = (Directory.CreateTempSubdirectory("ow-gen-sqlite-").FullName, Directory.CreateTempSubdirectory("ow-gen-pg-").FullName);
        async Task<(GeneratedIndex, ServerProcess, HttpClient)> Start(string provider, string folder, string target, string settings)
        {
            var made = await new IndexGenerator(provider, target).GenerateAsync(Instances);
            var server = await ServerProcess.StartAsync(folder, settings);
            return (made, server, server.CreateRestClient());
        }
        var dbFolder = Path.Combine(_sqliteFolder, "data", "db");
        Directory.CreateDirectory(dbFolder);
        var sqlite = Start(IndexDatabase.Sqlite, _sqliteFolder, Path.Combine(dbFolder, "index.db"), Settings);
        var postgreSql = Start(IndexDatabase.PostgreSql, _postgreSqlFolder, Database,
            Settings + $$""", "IndexProvider": "PostgreSQL", "IndexConnectionString": "{{Database}}" """);
        (Sqlite, PostgreSql) = (await sqlite, await postgreSql);
    }

    public async Task DisposeAsync()
    {
        foreach (var (_, server, rest) in new[] { Sqlite, PostgreSql })
        {
            rest?.Dispose();
            if (server is not null) await server.DisposeAsync();
        }
        await (await PostgresServer.Shared).DropDatabaseAsync(Database);
        Directory.Delete(_sqliteFolder, true);
        Directory.Delete(_postgreSqlFolder, true);
    }
}

public sealed class GeneratedIndexTests(GeneratedIndexFixture fx) : IClassFixture<GeneratedIndexFixture>
{
    public static TheoryData<string> Providers => new() { IndexDatabase.Sqlite, IndexDatabase.PostgreSql };

    private (GeneratedIndex Made, ServerProcess Server, HttpClient Client) Of(string provider) => provider == IndexDatabase.Sqlite ? fx.Sqlite : fx.PostgreSql;

    private static async Task<JsonArray> FindAsync(HttpClient rest, string tag, string value)
    {
        var body = new JsonObject { ["Level"] = "Study", ["CaseSensitive"] = false, ["Query"] = new JsonObject { [tag] = value } };
        using var r = await rest.PostAsync("/tools/find", new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"));
        r.EnsureSuccessStatusCode();
        return JsonNode.Parse(await r.Content.ReadAsStringAsync())!.AsArray();
    }

    [Theory]
    [MemberData(nameof(Providers))]
    public async Task The_server_answers_what_was_generated_and_goes_on_taking_instances(string provider)
    {
        var (made, server, rest) = Of(provider);
        Assert.Equal(GeneratedIndexFixture.Instances, made.Instances);
        Assert.Contains("Start-up check: index and storage area agree", server.Log, StringComparison.Ordinal);

        var stats = JsonNode.Parse(await rest.GetStringAsync("/statistics"))!;
        Assert.Equal(made.Patients, (long)stats["CountPatients"]!);
        Assert.Equal(made.Studies, (long)stats["CountStudies"]!);
        Assert.Equal(made.Series, (long)stats["CountSeries"]!);
        Assert.Equal(made.Instances, (long)stats["CountInstances"]!);
        Assert.Equal(made.DiskSize.ToString(System.Globalization.CultureInfo.InvariantCulture), (string)stats["TotalDiskSize"]!);

        // Public IDs as the server computes them, and the main tags found through the index.
        var sample = made.Sample;
        Assert.Equal(sample.StudyPublicId, (string)(await FindAsync(rest, "PatientID", sample.PatientId)).First()!);
        Assert.Equal([sample.StudyPublicId], (await FindAsync(rest, "AccessionNumber", sample.AccessionNumber)).Select(n => (string)n!));
        Assert.Equal(sample.PatientPublicId, (string)JsonNode.Parse(await rest.GetStringAsync($"/studies/{sample.StudyPublicId}"))!["ParentPatient"]!);
        var (family, studies) = made.StudiesByFamilyName.MaxBy(f => f.Value);
        Assert.Equal(studies, (await FindAsync(rest, "PatientName", family.ToLowerInvariant() + "^*")).Count);

        // The change log: every change generated, numbered on.
        Assert.Equal(made.Changes, (long)JsonNode.Parse(await rest.GetStringAsync("/changes?last"))!["Last"]!);

        // A real instance after the generated ones: new rows and a change numbered after theirs.
        using var upload = await rest.PostAsync("/instances", new ByteArrayContent(await File.ReadAllBytesAsync(Path.Combine(Peers.PydicomDir("test_files"), "CT_small.dcm"))));
        Assert.True(upload.IsSuccessStatusCode, await upload.Content.ReadAsStringAsync());
        Assert.Equal(made.Instances + 1, (long)JsonNode.Parse(await rest.GetStringAsync("/statistics"))!["CountInstances"]!);
        var changes = JsonNode.Parse(await rest.GetStringAsync($"/changes?since={made.Changes}"))!["Changes"]!.AsArray();
        Assert.Contains(changes, c => (string)c!["ChangeType"]! == "NewInstance" && (long)c["Seq"]! > made.Changes);
    }
}
