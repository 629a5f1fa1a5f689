using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Data.Sqlite;

/// <summary>
/// REST ingest of the 2000-instance set into OrthancWeb and into Debian's orthanc, one after the other, then
/// /tools/find latency at study level on both, then the same finds on OrthancWeb after 100,000 more index rows.
/// </summary>
static class StoreBenchmark
{
    private static readonly int Workers = int.TryParse(Environment.GetEnvironmentVariable("BENCH_CLIENTS"), out var n) ? n : 4;

    public static async Task RunAsync(string? folder)
    {
        folder ??= HeaderParse.Generate("orthancweb-bench-2000", "20", "2", "2", "25");
        var files = Directory.GetFiles(folder, "*.dcm").Order().ToArray();
        var warmUp = WarmUpSet.For(files);
        var totalMb = files.Sum(f => new FileInfo(f).Length) / (1024.0 * 1024);
        Console.WriteLine($"store benchmark: {files.Length} files, {totalMb:N0} MB, {Workers} concurrent REST clients, loopback");

        var work = BenchServers.NewWorkFolder("orthancweb-store-bench-");
        try
        {
            if (await BenchServers.AlternatingRoundsAsync(
                    () => RunServer(work, files, warmUp, BenchServers.StartOursAsync),
                    () => RunServer(work, files, warmUp, BenchServers.StartOrthancAsync)) is not var (ours, theirs))
                return;
            BenchServers.PrintRates("ingest", ours.Select(r => r.Rate).ToList(), theirs.Select(r => r.Rate).ToList(), target: 1);
            foreach (var (name, _) in ours[0].Finds)
            {
                var (ms, o) = (BenchServers.Median(ours.Select(r => r.Finds.First(f => f.Name == name).Ms)),
                    BenchServers.Median(theirs.Select(r => r.Finds.First(f => f.Name == name).Ms)));
                Console.WriteLine($"find {name}: OrthancWeb {ms:N2} ms, orthanc {o:N2} ms (median of rounds), ratio {o / ms:N2}x");
            }
            if (ours[0].FindsAfterLoad is { } after)
                foreach (var (name, ms) in after)
                    Console.WriteLine($"find {name} after +100,000 index rows: OrthancWeb {ms:N2} ms (was {ours[0].Finds.First(f => f.Name == name).Ms:N2} ms)");
        }
        finally
        {
            Directory.Delete(work, true);
        }
    }

    private sealed record Result(double Rate, List<(string Name, double Ms)> Finds, List<(string Name, double Ms)>? FindsAfterLoad);

    private static async Task<Result> RunServer(string work, string[] files, string[] warmUp, Func<string, Task<BenchServer>> start)
    {
        await using var s = await start(Path.Combine(work, Guid.NewGuid().ToString("N")));
        var name = s.Name;
        {
            if (warmUp.Length > 0)
            {
                Console.WriteLine($"[{name}] warm-up: {warmUp.Length} uploads of another patient (kept)");
                await UploadAsync(s, warmUp);
            }
            Console.WriteLine($"[{name}] uploading...");
            var cpu = s.Cpu();
            var clock = Stopwatch.StartNew();
            var failures = await UploadAsync(s, files);
            clock.Stop();
            var rate = files.Length / clock.Elapsed.TotalSeconds;
            Console.WriteLine($"[{name}] {files.Length} instances in {clock.Elapsed.TotalSeconds:N1} s = {rate:N0} instances/s ({failures} failures); {s.CpuPerInstance(cpu, files.Length)}");
            var finds = await MeasureFinds(name, s.Http);
            List<(string, double)>? after = null;
            if (name == "OrthancWeb")
            {
                GenerateLoad(Path.Combine(s.DataDir, "db", "index.db"), 100_000);
                after = await MeasureFinds(name + " +100k rows", s.Http);
            }
            return new Result(rate, finds, after);
        }
    }

    internal static async Task<int> UploadAsync(BenchServer s, string[] files)
    {
        var next = -1;
        var failures = 0;
        await Task.WhenAll(Enumerable.Range(0, Workers).Select(async _ =>
        {
            while (Interlocked.Increment(ref next) is var i && i < files.Length)
            {
                using var content = new ByteArrayContent(await File.ReadAllBytesAsync(files[i]));
                using var r = await s.Http.PostAsync("/instances", content);
                if (!r.IsSuccessStatusCode) Interlocked.Increment(ref failures);
            }
        }));
        return failures;
    }

    private static readonly (string Name, string Body)[] Queries =
    [
        ("study by PatientName wildcard", """{"Level":"Study","Query":{"PatientName":"DOE^JOHN1*"}}"""),
        ("study by PatientID", """{"Level":"Study","Query":{"PatientID":"PAT00007"}}"""),
        ("study by StudyDate range", """{"Level":"Study","Query":{"StudyDate":"20240101-20240131"}}"""),
        ("study by AccessionNumber, expanded", """{"Level":"Study","Query":{"AccessionNumber":"ACC000501"},"Expand":true}"""),
    ];

    private static async Task<List<(string, double)>> MeasureFinds(string server, HttpClient client)
    {
        var result = new List<(string, double)>();
        foreach (var (name, body) in Queries)
        {
            var times = new List<double>();
            var count = 0;
            // Both servers get the same 100 warm-up requests (a long-running server is JIT-compiled by then), then 100 measured.
            for (var i = 0; i < 200; i++)
            {
                var clock = Stopwatch.StartNew();
                using var r = await client.PostAsync("/tools/find", new StringContent(body, Encoding.UTF8, "application/json"));
                var text = await r.Content.ReadAsStringAsync();
                clock.Stop();
                if (i == 0) count = JsonNode.Parse(text)!.AsArray().Count;
                if (i < 100) continue;
                times.Add(clock.Elapsed.TotalMilliseconds);
            }
            times.Sort();
            var median = times[times.Count / 2];
            Console.WriteLine($"[{server}] find {name}: {count} result(s), median {median:N2} ms");
            result.Add((name, median));
        }
        return result;
    }

    /// <summary>
    /// Generated-load mode: 100,000 synthetic instance rows (with their patients, studies and series and main tags)
    /// written straight into the index while the server runs, to show finds stay flat as the index grows.
    /// </summary>
    private static void GenerateLoad(string indexDb, int instances)
    {
        var clock = Stopwatch.StartNew();
        using var db = new SqliteConnection($"Data Source={indexDb};Default Timeout=60");
        db.Open();
        using var tx = db.BeginTransaction();
        var insertResource = db.CreateCommand();
        insertResource.Transaction = tx;
        insertResource.CommandText = "INSERT INTO Resources (Level, PublicId, ParentId, LastUpdate, IsStable, IsProtected) VALUES ($l, $p, $parent, $t, 1, 0) RETURNING Id";
        var pl = insertResource.Parameters.Add("$l", SqliteType.Integer);
        var pp = insertResource.Parameters.Add("$p", SqliteType.Text);
        var ppar = insertResource.Parameters.Add("$parent", SqliteType.Integer);
        insertResource.Parameters.AddWithValue("$t", DateTime.UtcNow.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture));
        var insertTag = db.CreateCommand();
        insertTag.Transaction = tx;
        insertTag.CommandText = "INSERT INTO MainDicomTags (ResourceId, Tag, Value, ValueUpper) VALUES ($r, $tag, $v, $u)";
        var tr = insertTag.Parameters.Add("$r", SqliteType.Integer);
        var tt = insertTag.Parameters.Add("$tag", SqliteType.Integer);
        var tv = insertTag.Parameters.Add("$v", SqliteType.Text);
        var tu = insertTag.Parameters.Add("$u", SqliteType.Text);

        long Resource(int level, string id, long? parent)
        {
            pl.Value = level; pp.Value = id; ppar.Value = (object?)parent ?? DBNull.Value;
            return (long)insertResource.ExecuteScalar()!;
        }
        void Tag(long r, uint tag, string value)
        {
            tr.Value = r; tt.Value = (int)tag; tv.Value = value; tu.Value = value.ToUpperInvariant();
            insertTag.ExecuteNonQuery();
        }
        var n = 0;
        for (var p = 0; n < instances; p++)
        {
            var patient = Resource(0, $"load-p-{p}", null);
            Tag(patient, 0x00100010, $"LOAD^PATIENT{p:D5}");
            Tag(patient, 0x00100020, $"LOAD{p:D5}");
            for (var s = 0; s < 2 && n < instances; s++)
            {
                var study = Resource(1, $"load-st-{p}-{s}", patient);
                Tag(study, 0x00080020, $"2023{1 + (p % 12):D2}{1 + (s % 28):D2}");
                Tag(study, 0x00080050, $"LACC{p:D5}{s}");
                Tag(study, 0x0020000D, $"2.25.9{p}.{s}");
                for (var r = 0; r < 2 && n < instances; r++)
                {
                    var series = Resource(2, $"load-se-{p}-{s}-{r}", study);
                    Tag(series, 0x00080060, "CT");
                    for (var i = 0; i < 25 && n < instances; i++, n++)
                    {
                        var instance = Resource(3, $"load-i-{p}-{s}-{r}-{i}", series);
                        Tag(instance, 0x00080018, $"2.25.9{p}.{s}.{r}.{i}");
                        Tag(instance, 0x00200013, (i + 1).ToString(CultureInfo.InvariantCulture));
                    }
                }
            }
        }
        tx.Commit();
        Console.WriteLine($"[OrthancWeb] generated load: {instances:N0} instance rows (+ patients, studies, series, tags) in {clock.Elapsed.TotalSeconds:N1} s");
    }
}
