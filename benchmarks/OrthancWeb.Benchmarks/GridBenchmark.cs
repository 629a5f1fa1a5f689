using System.Diagnostics;
using System.Globalization;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OrthancWeb.Dicom.Data;
using OrthancWeb.Explorer;
using OrthancWeb.Hosting;
using OrthancWeb.Index;

/// <summary>
/// The explorer's grids on a large index: rows generated straight into a fresh SQLite index (not through ingest) at
/// 1,000, 10,000 and 100,000 studies, then pages read through <see cref="ExplorerService"/>, the service the Blazor
/// pages call, with the index registered as the server registers it. Orthanc has no such grid: nothing to compare with.
/// </summary>
static class GridBenchmark
{
    /// <summary>The studies and patients grids' default page size (RowsPerPage in Studies.razor and Patients.razor).</summary>
    private const int PageSize = 25;
    private const int DeepPage = 1000;
    private const int WarmUp = 20, Runs = 100;

    public static async Task RunAsync(string? sizes)
    {
        var counts = (sizes ?? "1000,10000,100000").Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray();
        Console.WriteLine($"grid benchmark: page size {PageSize}; {WarmUp} warm-up runs per case, then {Runs} rounds that each run every case on every index once, median / p95 in ms (orthanc has no such grid: nothing to compare with)");
        var work = BenchServers.NewWorkFolder("orthancweb-grid-bench-");
        var indexes = new List<(int Studies, ServiceProvider Services)>();
        try
        {
            foreach (var studies in counts)
            {
                var paths = new DataPaths(Path.Combine(work, studies.ToString(CultureInfo.InvariantCulture)));
                paths.CreateAll();
                var services = new ServiceCollection().AddLogging(l => l.SetMinimumLevel(LogLevel.Warning)).AddSingleton(paths).AddSingleton(TimeProvider.System)
                    .AddIndex(new ConfigurationBuilder().Build(), paths).AddExplorer().BuildServiceProvider();
                indexes.Add((studies, services));
                await using (var db = await services.GetRequiredService<IDbContextFactory<IndexDbContext>>().CreateDbContextAsync())
                    await db.Database.MigrateAsync();
                SqliteConnection.ClearAllPools(); // the generator changes the journal mode, which needs the file to itself
                var clock = Stopwatch.StartNew();
                var generated = Generate(paths.IndexDatabaseFile, studies);
                Console.WriteLine($"{studies:N0} studies: generated {generated} in {clock.Elapsed.TotalSeconds:N0} s ({new FileInfo(paths.IndexDatabaseFile).Length / 1048576:N0} MB)");
                await using (var db = await services.GetRequiredService<IDbContextFactory<IndexDbContext>>().CreateDbContextAsync())
                    await db.Database.ExecuteSqlRawAsync("PRAGMA journal_mode=WAL;"); // as IndexStartup leaves it
            }
            Console.WriteLine($"load average before: {File.ReadAllText("/proc/loadavg").Trim()}");
            var cases = indexes.Select(i => (i.Studies, Cases: Cases(i.Services, i.Studies))).ToList();
            foreach (var (studies, list) in cases)
                foreach (var (name, run) in list)
                    for (var i = 0; i < WarmUp; i++)
                        if (await run() == 0) throw new InvalidOperationException($"{studies} studies, {name}: no rows");
            // Interleaved, so that the machine's noise falls on every index alike.
            var times = cases.ToDictionary(c => c.Studies, c => c.Cases.Select(_ => new double[Runs]).ToArray());
            for (var round = 0; round < Runs; round++)
                foreach (var (studies, list) in cases)
                    for (var k = 0; k < list.Length; k++)
                    {
                        var clock = Stopwatch.StartNew();
                        await list[k].Run();
                        times[studies][k][round] = clock.Elapsed.TotalMilliseconds;
                    }
            Console.WriteLine($"load average after: {File.ReadAllText("/proc/loadavg").Trim()}");

            Console.WriteLine();
            Console.WriteLine("| case | " + string.Join(" | ", counts.Select(n => $"{n:N0} studies")) + " | largest / smallest (medians) |");
            Console.WriteLine("| --- |" + string.Concat(counts.Select(_ => " --- |")) + " --- |");
            for (var k = 0; k < cases[0].Cases.Length; k++)
            {
                var stats = counts.Select(n => { var t = times[n][k].Order().ToArray(); return (Median: t[Runs / 2], P95: t[(int)Math.Ceiling(Runs * 0.95) - 1]); }).ToList();
                Console.WriteLine($"| {cases[0].Cases[k].Name} | " + string.Join(" | ", stats.Select(s => $"{s.Median:N1} / {s.P95:N1}")) + $" | {stats[^1].Median / stats[0].Median:N1}x |");
            }
            Console.WriteLine($"(page {DeepPage} needs {DeepPage * PageSize:N0} studies; a smaller index shows its last page, the deepest it has. Target: each under 50 ms, within 2x from the smallest index to the largest.)");
        }
        finally
        {
            foreach (var (_, services) in indexes) await services.DisposeAsync();
            SqliteConnection.ClearAllPools();
            Directory.Delete(work, true);
        }
    }

    /// <summary>
    /// What the Studies and Patients pages ask for: their first load (default sort), a column sort, a deep page, a typed
    /// name. Counts are kept until the index changes; the "recounted" cases use a fresh service each time, as the first
    /// page after an arrival does.
    /// </summary>
    private static (string Name, Func<Task<int>> Run)[] Cases(IServiceProvider services, int studies)
    {
        var explorer = services.GetRequiredService<ExplorerService>();
        var contexts = services.GetRequiredService<IDbContextFactory<IndexDbContext>>();
        ExplorerService Recounting() => new(new IndexQueries(contexts));
        var all = new StudySearch();
        var deep = (Math.Min(DeepPage, (studies + PageSize - 1) / PageSize) - 1) * PageSize;
        return
        [
            ("studies, first page, by date (default)", async () => (await explorer.SearchStudiesAsync(all, "StudyDate", true, 0, PageSize)).Rows.Count),
            ($"studies, page {DeepPage}, by date", async () => (await explorer.SearchStudiesAsync(all, "StudyDate", true, deep, PageSize)).Rows.Count),
            ("studies, first page, by patient name", async () => (await explorer.SearchStudiesAsync(all, "PatientName", false, 0, PageSize)).Rows.Count),
            ($"studies, page {DeepPage}, by patient name", async () => (await explorer.SearchStudiesAsync(all, "PatientName", false, deep, PageSize)).Rows.Count),
            ("studies, name typed (\"mar\"), first page, by date", async () => (await explorer.SearchStudiesAsync(all with { PatientName = "mar" }, "StudyDate", true, 0, PageSize)).Rows.Count),
            ("patients, first page, by name (default)", async () => (await explorer.SearchPatientsAsync("", "", "PatientName", false, 0, PageSize)).Rows.Count),
            ("studies, first page, by date, recounted", async () => (await Recounting().SearchStudiesAsync(all, "StudyDate", true, 0, PageSize)).Rows.Count),
            ("studies, first page, by patient name, recounted", async () => (await Recounting().SearchStudiesAsync(all, "PatientName", false, 0, PageSize)).Rows.Count),
            ("patients, first page, by name, recounted", async () => (await Recounting().SearchPatientsAsync("", "", "PatientName", false, 0, PageSize)).Rows.Count),
        ];
    }

    private static readonly string[] FamilyNames =
    [
        "Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy", "Moreau", "Müller", "Schmidt",
        "Schneider", "Fischer", "Weber", "Meyer", "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Marquez", "Rossi",
        "Russo", "Ferrari", "Nguyen", "Tran", "Kim", "Lee", "Park", "Sato", "Suzuki", "O'Brien", "Murphy", "Kelly", "Novak", "Horvat",
    ];
    private static readonly string[] GivenNames = ["Anne", "Bob", "Chloé", "David", "Eve", "François", "Greta", "Hugo", "Inès", "Jan", "Karin", "Luc", "Marie", "Noah", "Zoë"];
    private static readonly (string Modality, string Body, string[] Descriptions)[] Kinds =
    [
        ("CT", "CHEST", ["CT THORAX", "CT Thorax with contrast", "CT CHEST LOW DOSE"]),
        ("CT", "HEAD", ["CT HEAD", "CT Brain w/o"]),
        ("MR", "BRAIN", ["MR BRAIN", "MRI head with gadolinium"]),
        ("MR", "KNEE", ["MR KNEE LEFT", "MR knee right"]),
        ("CR", "CHEST", ["CHEST PA", "Chest PA and lateral"]),
        ("US", "ABDOMEN", ["US ABDOMEN", "Abdominal ultrasound"]),
        ("MG", "BREAST", ["MAMMO SCREENING", "Mammography bilateral"]),
    ];

    /// <summary>
    /// Patients (1 to 3 studies each), studies (1 to 4 series), series (1 to 12 instances, a DICOM file each) with the
    /// main tags the server indexes, written in one transaction. One study in twenty has no description (type 3).
    /// </summary>
    private static string Generate(string indexFile, int studies)
    {
        var random = new Random(studies);
        using var db = new SqliteConnection($"Data Source={indexFile};Pooling=False");
        db.Open();
        // A fixture, not an index in service: no journal, and the random-order index inserts kept in memory.
        using (var pragmas = db.CreateCommand())
        {
            pragmas.CommandText = "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA cache_size=-1048576;";
            pragmas.ExecuteNonQuery();
        }
        using var tx = db.BeginTransaction();
        SqliteCommand Prepare(string sql, params string[] names)
        {
            var c = db.CreateCommand();
            c.Transaction = tx;
            c.CommandText = sql;
            foreach (var n in names) c.Parameters.Add(new SqliteParameter(n, null));
            c.Prepare();
            return c;
        }
        using var resource = Prepare("""INSERT INTO "Resources" ("Id", "Level", "PublicId", "ParentId", "LastUpdate", "IsStable", "IsProtected") VALUES ($id, $level, $publicId, $parent, $time, 1, $protected)""",
            "$id", "$level", "$publicId", "$parent", "$time", "$protected");
        using var tag = Prepare("""INSERT INTO "MainDicomTags" ("ResourceId", "Tag", "Value", "ValueUpper") VALUES ($id, $tag, $value, $upper)""", "$id", "$tag", "$value", "$upper");
        using var metadata = Prepare("""INSERT INTO "Metadata" ("ResourceId", "Name", "Value") VALUES ($id, 'IndexInSeries', $value)""", "$id", "$value");
        using var attachment = Prepare("""
            INSERT INTO "Attachments" ("ResourceId", "ContentType", "Uuid", "UncompressedSize", "CompressedSize", "Checksum", "UncompressedMd5", "CompressedMd5", "CompressionType")
            VALUES ($id, 1, $uuid, $size, $size, $checksum, '', '', 0)
            """, "$id", "$uuid", "$size", "$checksum");
        var time = DateTime.UtcNow.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);
        long next = 0;
        long Resource(ResourceLevel level, long? parent, bool isProtected = false)
        {
            var id = ++next;
            resource.Parameters[0].Value = id;
            resource.Parameters[1].Value = (int)level;
            resource.Parameters[2].Value = $"{level}-{id:D10}-generated-for-the-grid-bench"[..44];
            resource.Parameters[3].Value = (object?)parent ?? DBNull.Value;
            resource.Parameters[4].Value = time;
            resource.Parameters[5].Value = isProtected;
            resource.ExecuteNonQuery();
            return id;
        }
        void Tag(long id, DicomTag t, string value)
        {
            tag.Parameters[0].Value = id;
            tag.Parameters[1].Value = (int)t.Value;
            tag.Parameters[2].Value = value;
            tag.Parameters[3].Value = value.ToUpperInvariant();
            tag.ExecuteNonQuery();
        }
        string Uid() => $"2.25.{random.NextInt64(1, long.MaxValue)}{random.Next(100000, 999999)}";
        string Date(int fromYear, int toYear) => new DateOnly(fromYear, 1, 1).AddDays(random.Next((toYear - fromYear) * 365)).ToString("yyyyMMdd", CultureInfo.InvariantCulture);

        int made = 0, patients = 0, series = 0, instances = 0;
        while (made < studies)
        {
            var patient = Resource(ResourceLevel.Patient, null, random.Next(50) == 0);
            patients++;
            var name = $"{FamilyNames[random.Next(FamilyNames.Length)]}^{GivenNames[random.Next(GivenNames.Length)]}";
            Tag(patient, DicomTags.PatientName, random.Next(4) == 0 ? name.ToUpperInvariant() : name);
            Tag(patient, DicomTags.PatientID, $"PID{random.Next(10_000_000):D7}-{patients}");
            Tag(patient, DicomTags.PatientBirthDate, Date(1930, 2020));
            Tag(patient, DicomTags.PatientSex, random.Next(2) == 0 ? "F" : "M");
            for (var s = random.Next(1, 4); s > 0 && made < studies; s--, made++)
            {
                var study = Resource(ResourceLevel.Study, patient);
                var kind = Kinds[random.Next(Kinds.Length)];
                Tag(study, DicomTags.StudyDate, Date(2010, 2026));
                Tag(study, DicomTags.StudyTime, $"{random.Next(7, 20):D2}{random.Next(60):D2}{random.Next(60):D2}");
                Tag(study, DicomTags.StudyID, random.Next(1, 9999).ToString(CultureInfo.InvariantCulture));
                Tag(study, DicomTags.AccessionNumber, $"ACC{made:D9}");
                Tag(study, DicomTags.StudyInstanceUID, Uid());
                Tag(study, DicomTags.InstitutionName, "General Hospital");
                Tag(study, DicomTags.ReferringPhysicianName, $"{FamilyNames[random.Next(FamilyNames.Length)]}^Dr");
                if (random.Next(20) != 0) Tag(study, DicomTags.StudyDescription, kind.Descriptions[random.Next(kind.Descriptions.Length)]);
                var seriesCount = random.Next(1, 5);
                for (var r = 1; r <= seriesCount; r++)
                {
                    var se = Resource(ResourceLevel.Series, study);
                    series++;
                    Tag(se, DicomTags.Modality, r == 4 ? "SR" : kind.Modality);
                    Tag(se, DicomTags.SeriesNumber, r.ToString(CultureInfo.InvariantCulture));
                    Tag(se, DicomTags.SeriesInstanceUID, Uid());
                    Tag(se, DicomTags.SeriesDescription, $"{kind.Body} series {r}");
                    Tag(se, DicomTags.BodyPartExamined, kind.Body);
                    var count = random.Next(1, 13);
                    for (var i = 1; i <= count; i++)
                    {
                        var instance = Resource(ResourceLevel.Instance, se);
                        instances++;
                        Tag(instance, DicomTags.SOPInstanceUID, Uid());
                        Tag(instance, DicomTags.InstanceNumber, i.ToString(CultureInfo.InvariantCulture));
                        metadata.Parameters[0].Value = instance;
                        metadata.Parameters[1].Value = i.ToString(CultureInfo.InvariantCulture);
                        metadata.ExecuteNonQuery();
                        attachment.Parameters[0].Value = instance;
                        attachment.Parameters[1].Value = Guid.NewGuid().ToString();
                        attachment.Parameters[2].Value = 524_288 + random.Next(4096);
                        attachment.Parameters[3].Value = Convert.ToHexStringLower(Guid.NewGuid().ToByteArray());
                        attachment.ExecuteNonQuery();
                    }
                }
            }
        }
        tx.Commit();
        return $"{patients:N0} patients, {series:N0} series, {instances:N0} instances";
    }
}
