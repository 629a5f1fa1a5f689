using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Npgsql;
using OrthancWeb.Benchmarks;
using OrthancWeb.Dicom.Data;
using OrthancWeb.Dicom.Network.Services;
using OrthancWeb.Explorer;
using OrthancWeb.Hosting;
using OrthancWeb.Index;

/// <summary>
/// Issue 20's "a million instances": for each size and provider, an index generated straight into its tables
/// (<see cref="IndexGenerator"/>), our server started on it (the Release build, its start-up check limited to recent
/// files since the generated files do not exist), then the queries an archive's users make, warm, median of
/// <see cref="Runs"/>: REST finds at study level, C-FIND, the explorer's grids (through <see cref="ExplorerService"/>,
/// the service the Blazor pages call, on the same index), /statistics and /changes. Prints one table.
/// </summary>
static class ScaleBenchmark
{
    private const int WarmUp = 10, Runs = 31, PageSize = 25, DeepPage = 1000;

    /// <summary><c>generate-index Sqlite|PostgreSQL file-or-connection-string [instances]</c>.</summary>
    public static async Task GenerateAsync(string[] args)
    {
        if (args.Length < 2) throw new ArgumentException("usage: generate-index Sqlite|PostgreSQL <index file | connection string> [instances, default 1000000]");
        var count = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 1_000_000;
        var clock = Stopwatch.StartNew();
        var made = await new IndexGenerator(args[0], args[1]).GenerateAsync(count, p => Console.WriteLine($"  {clock.Elapsed.TotalSeconds,6:N1} s  {p}"));
        Console.WriteLine($"generated {made.Patients:N0} patients, {made.Studies:N0} studies, {made.Series:N0} series, {made.Instances:N0} instances " +
                          $"({made.DiskSize / 1e9:N1} GB of files that do not exist), {made.Changes:N0} changes in {clock.Elapsed.TotalSeconds:N1} s");
    }

    /// <summary><c>scale [sizes] [postgres-server-connection-string]</c>: sizes "10000,1000000"; PostgreSQL runs only with a server.</summary>
    public static async Task RunAsync(string[] args)
    {
        var sizes = (args.FirstOrDefault() ?? "10000,1000000").Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray();
        var pg = args.Length > 1 ? args[1] : null;
        var providers = Environment.GetEnvironmentVariable("BENCH_PROVIDERS")?.Split(',') ?? (pg is null ? [IndexDatabase.Sqlite] : [IndexDatabase.Sqlite, IndexDatabase.PostgreSql]);
        var work = BenchServers.NewWorkFolder("orthancweb-scale-bench-");
        var columns = new List<Column>();
        try
        {
            foreach (var provider in providers)
                foreach (var size in sizes)
                {
                    var label = $"{size:N0} {provider}";
                    var dir = Path.Combine(work, $"{provider}-{size}");
                    var paths = new DataPaths(Path.Combine(dir, "data"));
                    paths.CreateAll();
                    string target, settings = ", \"StartupCheckAllFiles\": false";
                    if (provider == IndexDatabase.PostgreSql)
                    {
                        var database = $"scale_{size}";
                        await ExecuteAsync(pg!, $"DROP DATABASE IF EXISTS {database} WITH (FORCE)");
                        await ExecuteAsync(pg!, $"CREATE DATABASE {database}");
                        target = new NpgsqlConnectionStringBuilder(pg) { Database = database }.ConnectionString;
                        settings += $", \"IndexProvider\": \"PostgreSQL\", \"IndexConnectionString\": \"{target}\"";
                    }
                    else target = paths.IndexDatabaseFile;
                    var clock = Stopwatch.StartNew();
                    var made = await new IndexGenerator(provider, target).GenerateAsync(size, p => Console.WriteLine($"  [{label}] {clock.Elapsed.TotalSeconds,6:N1} s  {p}"));
                    Console.WriteLine($"[{label}] generated {made.Patients:N0} patients, {made.Studies:N0} studies, {made.Series:N0} series, {made.Instances:N0} instances, {made.Changes:N0} changes in {clock.Elapsed.TotalSeconds:N1} s");
                    clock.Restart();
                    var server = await BenchServers.StartOursAsync(dir, settings);
                    Console.WriteLine($"[{label}] server up in {clock.Elapsed.TotalSeconds:N1} s; load {File.ReadAllText("/proc/loadavg").Trim()}");
                    columns.Add(await PrepareAsync(label, server, made, provider, target, paths));
                }
            // Every index stays up and the rounds go over all of them in turn, so that the machine's noise (other work on
            // its two cores) falls on each alike: the ratios between columns are then worth more than the figures.
            Console.WriteLine($"measuring; load {File.ReadAllText("/proc/loadavg").Trim()}");
            foreach (var column in columns)
                foreach (var c in column.Cases)
                    for (var i = 0; i < WarmUp; i++)
                    {
                        if (c.Setup is not null) await c.Setup();
                        c.Answers = await c.Run();
                    }
            for (var round = 0; round < Runs; round++)
                foreach (var column in columns)
                    foreach (var c in column.Cases)
                    {
                        if (c.Setup is not null) await c.Setup();
                        var clock = Stopwatch.StartNew();
                        await c.Run();
                        c.Times[round] = clock.Elapsed.TotalMilliseconds;
                    }
            Console.WriteLine($"done; load {File.ReadAllText("/proc/loadavg").Trim()}");
        }
        finally
        {
            foreach (var column in columns) await column.DisposeAsync();
            Directory.Delete(work, true);
        }
        Console.WriteLine();
        Console.WriteLine($"median ms of {Runs} warm rounds ({WarmUp} unmeasured first), answers in brackets");
        Console.WriteLine("| query | " + string.Join(" | ", columns.Select(c => c.Label)) + " |");
        Console.WriteLine("| --- |" + string.Concat(columns.Select(_ => " --- |")));
        for (var k = 0; k < columns[0].Cases.Count; k++)
            Console.WriteLine($"| {columns[0].Cases[k].Name} | " + string.Join(" | ", columns.Select(c => $"{BenchServers.Median(c.Cases[k].Times):N2} ({c.Cases[k].Answers})")) + " |");
    }

    /// <summary>A query, measured; <paramref name="setup"/> runs before each run, unmeasured.</summary>
    private sealed class Case(string name, Func<Task<int>> run, Func<Task>? setup = null)
    {
        public string Name { get; } = name;
        public Func<Task<int>> Run { get; } = run;
        public Func<Task>? Setup { get; } = setup;
        public int Answers { get; set; }
        public double[] Times { get; } = new double[Runs];
    }

    private sealed record Column(string Label, BenchServer Server, ServiceProvider Services, List<Case> Cases) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await Services.DisposeAsync();
            await Server.DisposeAsync();
        }
    }

    private static async Task ExecuteAsync(string connectionString, string sql)
    {
        await using var db = new NpgsqlConnection(connectionString);
        await db.OpenAsync();
        await using var c = new NpgsqlCommand(sql, db);
        await c.ExecuteNonQueryAsync();
    }

    private static async Task<Column> PrepareAsync(string label, BenchServer server, GeneratedIndex made, string provider, string target, DataPaths paths)
    {
        var http = server.Http;
        // Checks first: exact counts, and the sample study found by its accession number.
        var stats = JsonNode.Parse(await http.GetStringAsync("/statistics"))!;
        if ((long)stats["CountInstances"]! != made.Instances || (long)stats["CountStudies"]! != made.Studies || (long)stats["CountPatients"]! != made.Patients)
            throw new InvalidOperationException($"[{label}] /statistics does not match what was generated: {stats.ToJsonString()}");
        // Values to look for, from a study in the middle of the index (its patient's name, ID, date and accession).
        var middle = JsonNode.Parse(await http.GetStringAsync($"/studies?since={made.Studies / 2}&limit=1&expand"))!.AsArray()[0]!;
        var name = (string)middle["PatientMainDicomTags"]!["PatientName"]!;
        var patientId = (string)middle["PatientMainDicomTags"]!["PatientID"]!;
        var accession = (string)middle["MainDicomTags"]!["AccessionNumber"]!;
        var date = DateOnly.ParseExact((string)middle["MainDicomTags"]!["StudyDate"]!, "yyyyMMdd", CultureInfo.InvariantCulture);
        var wildcard = name[..(name.IndexOf('^', StringComparison.Ordinal) + 3)] + "*";
        var range = $"{date:yyyyMMdd}-{date.AddDays(6):yyyyMMdd}";
        var lastSeq = (long)JsonNode.Parse(await http.GetStringAsync("/changes?last"))!["Last"]!;

        var cases = new List<Case>();
        void Find(string title, string tag, string value) => cases.Add(new(title, async () =>
        {
            using var r = await http.PostAsync("/tools/find", new StringContent(new JsonObject { ["Level"] = "Study", ["Query"] = new JsonObject { [tag] = value } }.ToJsonString(), Encoding.UTF8, "application/json"));
            r.EnsureSuccessStatusCode();
            return JsonNode.Parse(await r.Content.ReadAsStringAsync())!.AsArray().Count;
        }));
        Find("/tools/find study, PatientName wildcard (Family^Gi*)", "PatientName", wildcard);
        Find("/tools/find study, PatientName exact", "PatientName", name);
        Find("/tools/find study, PatientID", "PatientID", patientId);
        Find("/tools/find study, StudyDate range (7 days)", "StudyDate", range);
        Find("/tools/find study, AccessionNumber", "AccessionNumber", accession);
        cases.Add(new("C-FIND study, PatientName wildcard (association + find)", async () =>
        {
            var identifier = new DicomDataset().Add(DicomTags.QueryRetrieveLevel, "STUDY").Add(DicomTags.PatientName, wildcard)
                .Add(DicomTags.StudyInstanceUID, "").Add(DicomTags.StudyDate, "").Add(DicomTags.PatientID, "").Add(DicomTags.AccessionNumber, "");
            await using var client = await DicomClient.ConnectAsync("127.0.0.1", server.DicomPort, BenchServers.ScuAet, server.Aet, [(SopClasses.StudyRootFind, SopClasses.Uncompressed)]);
            var n = 0;
            await foreach (var _ in client.FindAsync(SopClasses.StudyRootFind, identifier)) n++;
            return n;
        }));
        cases.Add(new("C-FIND study, AccessionNumber (association + find)", async () =>
        {
            var identifier = new DicomDataset().Add(DicomTags.QueryRetrieveLevel, "STUDY").Add(DicomTags.AccessionNumber, accession)
                .Add(DicomTags.StudyInstanceUID, "").Add(DicomTags.PatientName, "");
            await using var client = await DicomClient.ConnectAsync("127.0.0.1", server.DicomPort, BenchServers.ScuAet, server.Aet, [(SopClasses.StudyRootFind, SopClasses.Uncompressed)]);
            var n = 0;
            await foreach (var _ in client.FindAsync(SopClasses.StudyRootFind, identifier)) n++;
            return n;
        }));
        cases.Add(new("/statistics", async () => (int)(long)JsonNode.Parse(await http.GetStringAsync("/statistics"))!["CountInstances"]!));
        cases.Add(new("/changes?since= (middle of the log, 100)", async () => JsonNode.Parse(await http.GetStringAsync($"/changes?since={lastSeq / 2}&limit=100"))!["Changes"]!.AsArray().Count));
        cases.Add(new("/changes?since= (last 100)", async () => JsonNode.Parse(await http.GetStringAsync($"/changes?since={lastSeq - 100}&limit=100"))!["Changes"]!.AsArray().Count));

        // The grids, through the explorer's service on the same index, registered as the server registers it.
        var config = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["OrthancWeb:IndexProvider"] = provider,
            ["OrthancWeb:IndexConnectionString"] = provider == IndexDatabase.PostgreSql ? target : "",
        }).Build();
        var services = new ServiceCollection().AddLogging(l => l.SetMinimumLevel(LogLevel.Warning)).AddSingleton(paths).AddSingleton(TimeProvider.System)
            .AddIndex(config, paths).AddExplorer().BuildServiceProvider();
        var explorer = services.GetRequiredService<ExplorerService>();
        var all = new StudySearch();
        // Page 1000, or on a smaller index its last full page: a page of 25 rows like the first one, since a page's cost
        // is mostly its rows' summaries (the last page of the 10k index has 17 studies and 18 patients).
        var deep = (Math.Min(DeepPage, (int)(made.Studies / PageSize)) - 1) * PageSize;
        var deepPatients = (Math.Min(DeepPage, (int)(made.Patients / PageSize)) - 1) * PageSize;
        // A deep page is read two ways: jumped to (the pages' remembered keys forgotten first, so OFFSET walks to it, as
        // a first jump does; the counts stay) and reached from the page before it (a seek from that page's last key).
        var queries = services.GetRequiredService<IndexQueries>();
        Task Forget() { queries.ForgetPagePositions(); return Task.CompletedTask; }
        Func<Task> After(Func<Task> previous) => async () => { await Forget(); await previous(); };
        cases.Add(new("studies grid, first page, by date", async () => (await explorer.SearchStudiesAsync(all, "StudyDate", true, 0, PageSize)).Rows.Count));
        cases.Add(new($"studies grid, page {DeepPage} (or last full), by date, jumped to", async () => (await explorer.SearchStudiesAsync(all, "StudyDate", true, deep, PageSize)).Rows.Count, Forget));
        cases.Add(new($"studies grid, page {DeepPage} (or last full), by date, from the page before", async () => (await explorer.SearchStudiesAsync(all, "StudyDate", true, deep, PageSize)).Rows.Count,
            After(() => explorer.SearchStudiesAsync(all, "StudyDate", true, deep - PageSize, PageSize))));
        // The dearest jump: the middle of the list, as far from either end as a page can be.
        var middlePage = (int)(made.Studies / PageSize / 2) * PageSize;
        cases.Add(new("studies grid, middle page, by date, jumped to", async () => (await explorer.SearchStudiesAsync(all, "StudyDate", true, middlePage, PageSize)).Rows.Count, Forget));
        cases.Add(new("studies grid, first page, by patient name", async () => (await explorer.SearchStudiesAsync(all, "PatientName", false, 0, PageSize)).Rows.Count));
        cases.Add(new($"studies grid, page {DeepPage} (or last full), by patient name, jumped to", async () => (await explorer.SearchStudiesAsync(all, "PatientName", false, deep, PageSize)).Rows.Count, Forget));
        cases.Add(new($"studies grid, page {DeepPage} (or last full), by patient name, from the page before", async () => (await explorer.SearchStudiesAsync(all, "PatientName", false, deep, PageSize)).Rows.Count,
            After(() => explorer.SearchStudiesAsync(all, "PatientName", false, deep - PageSize, PageSize))));
        cases.Add(new("patients grid, first page, by name", async () => (await explorer.SearchPatientsAsync("", "", "PatientName", false, 0, PageSize)).Rows.Count));
        cases.Add(new($"patients grid, page {DeepPage} (or last full), by name, jumped to", async () => (await explorer.SearchPatientsAsync("", "", "PatientName", false, deepPatients, PageSize)).Rows.Count, Forget));
        cases.Add(new($"patients grid, page {DeepPage} (or last full), by name, from the page before", async () => (await explorer.SearchPatientsAsync("", "", "PatientName", false, deepPatients, PageSize)).Rows.Count,
            After(() => explorer.SearchPatientsAsync("", "", "PatientName", false, deepPatients - PageSize, PageSize))));

        return new Column(label, server, services, cases);
    }
}
