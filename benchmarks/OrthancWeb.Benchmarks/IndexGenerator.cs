using System.Data.Common;
using System.Globalization;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Npgsql;
using NpgsqlTypes;
using OrthancWeb.Dicom.Data;
using OrthancWeb.Index;
using OrthancWeb.Storage;

namespace OrthancWeb.Benchmarks;

/// <summary>What <see cref="IndexGenerator"/> wrote, to check a server's answers against.</summary>
public sealed record GeneratedIndex(long Patients, long Studies, long Series, long Instances, long DiskSize, long Changes,
    IReadOnlyDictionary<string, int> StudiesByFamilyName, (string PatientId, string PatientPublicId, string StudyPublicId, string AccessionNumber) Sample);

/// <summary>
/// Fills an empty index (SQLite file or PostgreSQL database, the server's own EF Core migrations) with a synthetic
/// archive written straight into its tables, without files: patients with 1 to 4 studies over fifteen years, a
/// realistic mix of modalities (radiographs of 1-3 images up to CTs of a few hundred slices), plausible file sizes.
/// Every row the ingest path would write is written as it would write it: the main tags of each level
/// (<see cref="MainDicomTags"/>, upper-case copies included), Orthanc's public IDs (<see cref="PublicIds"/>), the
/// instance metadata, one DICOM attachment per instance (its UUID names no file), the New* changes of each resource
/// and the Stable* ones of its parents, all resources stable, and the durability watermark at the last change (so the
/// start-up check has nothing recent to verify). Deterministic: the same count and seed give the same index.
/// Fast: the secondary indexes are dropped, the rows bulk-inserted (SQLite: prepared commands in one transaction;
/// PostgreSQL: binary COPY), then the indexes are created again from their own definitions.
/// </summary>
public sealed class IndexGenerator(string provider, string target, int seed = 20)
{
    /// <summary>A SQLite file path, or a PostgreSQL connection string.</summary>
    private readonly string _target = target;

    private static readonly string[] Tables = ["Resources", "MainDicomTags", "Metadata", "Attachments", "Changes"];

    private static readonly string[] FamilyNames =
    [
        "Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy", "Moreau", "Müller", "Schmidt",
        "Schneider", "Fischer", "Weber", "Meyer", "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Marquez", "Rossi",
        "Russo", "Ferrari", "Nguyen", "Tran", "Kim", "Lee", "Park", "Sato", "Suzuki", "O'Brien", "Murphy", "Kelly", "Novak", "Horvat",
        "Jansen", "de Vries", "Andersson", "Nielsen", "Kowalski", "Popescu", "Silva", "Santos", "Cohen", "Levy", "Haddad", "Okafor",
    ];
    private static readonly string[] GivenNames =
        ["Anne", "Bob", "Chloé", "David", "Eve", "François", "Greta", "Hugo", "Inès", "Jan", "Karin", "Luc", "Marie", "Noah", "Zoë", "Omar", "Priya", "Quentin", "Rosa", "Sven"];

    /// <summary>A kind of study: its modality, body part, descriptions, series count, images per series and bytes per image.</summary>
    private sealed record Kind(int Weight, string Modality, string Body, string[] Descriptions, int MinSeries, int MaxSeries,
        int MinImages, int MaxImages, int MinBytes, int MaxBytes, string SopClass, string TransferSyntax);

    private static readonly Kind[] Kinds =
    [
        new(30, "CR", "CHEST", ["CHEST PA", "Chest PA and lateral", "THORAX 2 VIEWS"], 1, 2, 1, 2, 6_000_000, 18_000_000, "1.2.840.10008.5.1.4.1.1.1", "1.2.840.10008.1.2.1"),
        new(12, "DX", "HAND", ["HAND LEFT", "Hand right 3 views", "WRIST"], 1, 1, 1, 3, 4_000_000, 9_000_000, "1.2.840.10008.5.1.4.1.1.1.1", "1.2.840.10008.1.2.4.70"),
        new(14, "US", "ABDOMEN", ["US ABDOMEN", "Abdominal ultrasound", "US LIVER"], 1, 1, 5, 40, 300_000, 1_200_000, "1.2.840.10008.5.1.4.1.1.6.1", "1.2.840.10008.1.2.4.50"),
        new(8, "MG", "BREAST", ["MAMMO SCREENING", "Mammography bilateral"], 4, 4, 1, 1, 20_000_000, 50_000_000, "1.2.840.10008.5.1.4.1.1.1.2", "1.2.840.10008.1.2.4.90"),
        new(10, "CT", "CHEST", ["CT THORAX", "CT Thorax with contrast", "CT CHEST LOW DOSE"], 1, 3, 20, 160, 520_000, 530_000, "1.2.840.10008.5.1.4.1.1.2", "1.2.840.10008.1.2.1"),
        new(6, "CT", "HEAD", ["CT HEAD", "CT Brain w/o"], 1, 2, 20, 80, 520_000, 530_000, "1.2.840.10008.5.1.4.1.1.2", "1.2.840.10008.1.2.1"),
        new(6, "MR", "BRAIN", ["MR BRAIN", "MRI head with gadolinium"], 3, 5, 10, 30, 130_000, 140_000, "1.2.840.10008.5.1.4.1.1.4", "1.2.840.10008.1.2.1"),
        new(4, "MR", "KNEE", ["MR KNEE LEFT", "MR knee right"], 3, 4, 10, 25, 130_000, 140_000, "1.2.840.10008.5.1.4.1.1.4", "1.2.840.10008.1.2.1"),
    ];

    private static readonly string[] Institutions = ["General Hospital", "Clinique du Parc", "St. Mary's", "University Medical Center"];
    private static readonly string[] Modalities = ["CT01", "CT02", "MR01", "US03", "DX01", "MG01"];

    // Main tags written, by level (group in the high 16 bits).
    private static int T(DicomTag tag) => (int)tag.Value;

    private sealed class Batch
    {
        public readonly List<(long Id, int Level, string PublicId, long? ParentId, DateTime LastUpdate, bool IsProtected)> Resources = [];
        public readonly List<(long ResourceId, int Tag, string Value)> Tags = [];
        public readonly List<(long ResourceId, string Name, string Value)> Metadata = [];
        public readonly List<(long ResourceId, string Uuid, long Size, string Checksum)> Attachments = [];
        public readonly List<(long Seq, string Type, int Level, string PublicId, DateTime Date)> Changes = [];
        public int Instances;

        public void Clear()
        {
            Resources.Clear(); Tags.Clear(); Metadata.Clear(); Attachments.Clear(); Changes.Clear();
            Instances = 0;
        }
    }

    /// <summary>Creates the schema (the server's migrations) and writes <paramref name="instances"/> instances; the index must be empty.</summary>
    public async Task<GeneratedIndex> GenerateAsync(int instances, Action<string>? progress = null, CancellationToken ct = default)
    {
        var store = new StorageOptions { IndexProvider = provider, IndexConnectionString = provider == IndexDatabase.PostgreSql ? _target : "" };
        var options = new DbContextOptionsBuilder<IndexDbContext>();
        IndexDatabase.Configure(options, store, _target);
        await using (var db = new IndexDbContext(options.Options))
        {
            await db.Database.MigrateAsync(ct);
            if (await db.Resources.AnyAsync(ct)) throw new InvalidOperationException("the index is not empty: the generator fills only an empty one");
        }
        if (provider == IndexDatabase.Sqlite) SqliteConnection.ClearAllPools();

        await using var sink = provider == IndexDatabase.Sqlite ? (Sink)new SqliteSink(_target) : new PostgreSqlSink(_target);
        await sink.OpenAsync(ct);
        var indexes = await sink.DropSecondaryIndexesAsync(ct);

        var random = new Random(seed);
        var batch = new Batch();
        long nextId = 0, nextSeq = 0, patients = 0, studies = 0, series = 0, made = 0, disk = 0;
        var byFamily = new Dictionary<string, int>(StringComparer.Ordinal);
        (string, string, string, string) sample = default;
        var start = new DateTime(2011, 1, 1, 0, 0, 0, DateTimeKind.Utc);
        var days = (int)(new DateTime(2026, 11, 30, 0, 0, 0, DateTimeKind.Utc) - start).TotalDays;
        var totalWeight = Kinds.Sum(k => k.Weight);
        string Uid() => "2.25." + new UInt128((ulong)random.NextInt64(1, long.MaxValue), (ulong)random.NextInt64()).ToString(CultureInfo.InvariantCulture);
        Kind PickKind()
        {
            var w = random.Next(totalWeight);
            foreach (var k in Kinds) { if (w < k.Weight) return k; w -= k.Weight; }
            return Kinds[^1];
        }
        void Tag(long id, DicomTag tag, string value) => batch.Tags.Add((id, T(tag), value));
        void Change(string type, ResourceLevel level, string publicId, DateTime date) => batch.Changes.Add((++nextSeq, type, (int)level, publicId, date));

        while (made < instances)
        {
            ct.ThrowIfCancellationRequested();
            // A patient and its studies, the studies in the order they were taken (the log follows arrival).
            var patientNumber = ++patients;
            var family = FamilyNames[random.Next(FamilyNames.Length)];
            var name = $"{family}^{GivenNames[random.Next(GivenNames.Length)]}";
            if (random.Next(4) == 0) name = name.ToUpperInvariant();
            var patientId = $"PID{random.Next(10_000_000):D7}-{patientNumber}";
            var patientPublicId = PublicIds.Patient(patientId);
            var studyDays = Enumerable.Range(0, 1 + random.Next(4) / 2 + (random.Next(6) == 0 ? 1 : 0)).Select(_ => random.Next(days)).Order().ToArray();
            var firstArrival = start.AddDays(studyDays[0]).AddHours(7 + random.Next(12)).AddSeconds(random.Next(3600));
            var patient = ++nextId;
            var lastArrival = start.AddDays(studyDays[^1]).AddHours(20);
            batch.Resources.Add((patient, (int)ResourceLevel.Patient, patientPublicId, null, lastArrival, random.Next(50) == 0));
            Tag(patient, DicomTags.PatientName, name);
            Tag(patient, DicomTags.PatientID, patientId);
            Tag(patient, DicomTags.PatientBirthDate, new DateOnly(1930, 1, 1).AddDays(random.Next(90 * 365)).ToString("yyyyMMdd", CultureInfo.InvariantCulture));
            Tag(patient, DicomTags.PatientSex, random.Next(20) == 0 ? "O" : random.Next(2) == 0 ? "F" : "M");
            Change("NewPatient", ResourceLevel.Patient, patientPublicId, firstArrival);
            foreach (var day in studyDays)
            {
                if (made >= instances) break;
                var kind = PickKind();
                var studyNumber = ++studies;
                var taken = start.AddDays(day).AddHours(7 + random.Next(12)).AddMinutes(random.Next(60)).AddSeconds(random.Next(60));
                var studyUid = Uid();
                var studyPublicId = PublicIds.Study(patientId, studyUid);
                var study = ++nextId;
                var accession = $"A{taken:yy}{studyNumber:D8}";
                var studyEnd = taken.AddMinutes(20);
                batch.Resources.Add((study, (int)ResourceLevel.Study, studyPublicId, patient, studyEnd, false));
                var date = taken.ToString("yyyyMMdd", CultureInfo.InvariantCulture);
                Tag(study, DicomTags.StudyDate, date);
                Tag(study, DicomTags.StudyTime, taken.ToString("HHmmss", CultureInfo.InvariantCulture));
                Tag(study, DicomTags.StudyID, random.Next(1, 99999).ToString(CultureInfo.InvariantCulture));
                Tag(study, DicomTags.AccessionNumber, accession);
                Tag(study, DicomTags.StudyInstanceUID, studyUid);
                Tag(study, DicomTags.InstitutionName, Institutions[random.Next(Institutions.Length)]);
                Tag(study, DicomTags.ReferringPhysicianName, $"{FamilyNames[random.Next(FamilyNames.Length)]}^Dr");
                // Study Description is type 3: one study in twenty has none.
                if (random.Next(20) != 0) Tag(study, DicomTags.StudyDescription, kind.Descriptions[random.Next(kind.Descriptions.Length)]);
                Change("NewStudy", ResourceLevel.Study, studyPublicId, taken);
                if (sample == default) sample = (patientId, patientPublicId, studyPublicId, accession);
                byFamily[family.ToUpperInvariant()] = byFamily.GetValueOrDefault(family.ToUpperInvariant()) + 1;
                var seriesCount = random.Next(kind.MinSeries, kind.MaxSeries + 1);
                var station = Modalities[random.Next(Modalities.Length)];
                var seriesIds = new List<string>(seriesCount);
                for (var r = 1; r <= seriesCount && made < instances; r++)
                {
                    var seriesUid = Uid();
                    var seriesPublicId = PublicIds.Series(patientId, studyUid, seriesUid);
                    var se = ++nextId;
                    series++;
                    seriesIds.Add(seriesPublicId);
                    batch.Resources.Add((se, (int)ResourceLevel.Series, seriesPublicId, study, studyEnd, false));
                    Tag(se, DicomTags.SeriesDate, date);
                    Tag(se, DicomTags.SeriesTime, taken.AddMinutes(r).ToString("HHmmss", CultureInfo.InvariantCulture));
                    Tag(se, DicomTags.Modality, kind.Modality);
                    Tag(se, DicomTags.Manufacturer, kind.Modality is "CT" or "MR" ? "SIEMENS" : "GE MEDICAL SYSTEMS");
                    Tag(se, DicomTags.StationName, station);
                    Tag(se, DicomTags.SeriesDescription, $"{kind.Body} {r}");
                    Tag(se, DicomTags.BodyPartExamined, kind.Body);
                    Tag(se, DicomTags.SeriesNumber, r.ToString(CultureInfo.InvariantCulture));
                    Tag(se, DicomTags.SeriesInstanceUID, seriesUid);
                    batch.Metadata.Add((se, "RemoteAET", station));
                    Change("NewSeries", ResourceLevel.Series, seriesPublicId, taken.AddMinutes(r));
                    var images = random.Next(kind.MinImages, kind.MaxImages + 1);
                    var reception = OrthancTime.Format(taken.AddMinutes(r));
                    for (var i = 1; i <= images && made < instances; i++)
                    {
                        var sopUid = Uid();
                        var instancePublicId = PublicIds.Instance(patientId, studyUid, seriesUid, sopUid);
                        var instance = ++nextId;
                        made++;
                        batch.Instances++;
                        batch.Resources.Add((instance, (int)ResourceLevel.Instance, instancePublicId, se, taken.AddMinutes(r), false));
                        Tag(instance, DicomTags.SOPInstanceUID, sopUid);
                        Tag(instance, DicomTags.InstanceNumber, i.ToString(CultureInfo.InvariantCulture));
                        if (kind.Modality is "CT" or "MR")
                        {
                            Tag(instance, DicomTags.ImagePositionPatient, string.Create(CultureInfo.InvariantCulture, $"-250\\-250\\{-i * 2.5:0.0}"));
                            Tag(instance, DicomTags.ImageOrientationPatient, "1\\0\\0\\0\\1\\0");
                        }
                        batch.Metadata.Add((instance, "ReceptionDate", reception));
                        batch.Metadata.Add((instance, "Origin", "DicomProtocol"));
                        batch.Metadata.Add((instance, "RemoteAET", station));
                        batch.Metadata.Add((instance, "TransferSyntax", kind.TransferSyntax));
                        batch.Metadata.Add((instance, "SopClassUid", kind.SopClass));
                        batch.Metadata.Add((instance, "IndexInSeries", i.ToString(CultureInfo.InvariantCulture)));
                        long size = random.Next(kind.MinBytes, kind.MaxBytes + 1);
                        disk += size;
                        batch.Attachments.Add((instance, new Guid(random.NextInt64().ToString("x16", CultureInfo.InvariantCulture) + random.NextInt64().ToString("x16", CultureInfo.InvariantCulture)).ToString(),
                            size, random.NextInt64().ToString("x16", CultureInfo.InvariantCulture)));
                        Change("NewInstance", ResourceLevel.Instance, instancePublicId, taken.AddMinutes(r));
                    }
                }
                // StableAge after the last arrival, the study's series, then the study, became stable.
                var stable = studyEnd.AddMinutes(1);
                foreach (var s in seriesIds) Change("StableSeries", ResourceLevel.Series, s, stable);
                Change("StableStudy", ResourceLevel.Study, studyPublicId, stable);
            }
            Change("StablePatient", ResourceLevel.Patient, patientPublicId, lastArrival.AddMinutes(1));
            if (batch.Instances >= 20_000 || made >= instances)
            {
                await sink.WriteAsync(batch, ct);
                progress?.Invoke($"{made:N0} instances");
                batch.Clear();
            }
        }
        progress?.Invoke("creating the indexes again");
        await sink.FinishAsync(indexes, nextSeq, ct);
        return new GeneratedIndex(patients, studies, series, made, disk, nextSeq, byFamily, sample);
    }

    private abstract class Sink : IAsyncDisposable
    {
        public abstract Task OpenAsync(CancellationToken ct);
        public abstract Task<List<(string Name, string Sql)>> DropSecondaryIndexesAsync(CancellationToken ct);
        public abstract Task WriteAsync(Batch batch, CancellationToken ct);
        public abstract Task FinishAsync(List<(string Name, string Sql)> indexes, long lastSeq, CancellationToken ct);
        public abstract ValueTask DisposeAsync();

        protected static async Task<List<(string, string)>> ReadAsync(DbConnection connection, DbTransaction? tx, string sql, CancellationToken ct)
        {
            await using var c = connection.CreateCommand();
            c.Transaction = tx;
            c.CommandText = sql;
            var rows = new List<(string, string)>();
            await using var reader = await c.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct)) rows.Add((reader.GetString(0), reader.GetString(1)));
            return rows;
        }

        protected static async Task ExecuteAsync(DbConnection connection, DbTransaction? tx, string sql, CancellationToken ct)
        {
            await using var c = connection.CreateCommand();
            c.Transaction = tx;
            c.CommandText = sql;
            c.CommandTimeout = 0;
            await c.ExecuteNonQueryAsync(ct);
        }

        protected static string TableList => string.Join(", ", Tables.Select(t => $"'{t}'"));

        /// <summary>
        /// The triggers that keep <see cref="StudySortKey"/> (migration StudySortKeys) look up a patient's studies by an
        /// index dropped while filling: they are dropped with the indexes, created again with them, and the keys
        /// written at the end in one statement, as the migration fills an existing index.
        /// </summary>
        protected const string SortKeyTriggers = "StudySortKeys_";

        protected static readonly string FillSortKeys = $"""
            INSERT INTO "StudySortKeys" ("ResourceId", "Tag", "ValueUpper", "ParentId")
            SELECT s."Id", t."Tag", t."ValueUpper", t."ResourceId" FROM "MainDicomTags" t
            JOIN "Resources" s ON s."ParentId" = t."ResourceId" AND s."Level" = {(int)ResourceLevel.Study}
            WHERE t."Tag" IN ({string.Join(", ", StudySortKey.Tags.Select(t => (int)t.Value))})
            """;
    }

    /// <summary>One transaction, prepared commands; no journal while filling (a fresh file: a failure leaves it to delete).</summary>
    private sealed class SqliteSink(string file) : Sink
    {
        private SqliteConnection _db = null!;
        private SqliteTransaction _tx = null!;
        private SqliteCommand _resource = null!, _tag = null!, _metadata = null!, _attachment = null!, _change = null!;

        public override async Task OpenAsync(CancellationToken ct)
        {
            _db = new SqliteConnection($"Data Source={file};Pooling=False;Foreign Keys=True");
            await _db.OpenAsync(ct);
            await ExecuteAsync(_db, null, "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA cache_size=-1048576;", ct);
            _tx = _db.BeginTransaction();
            _resource = Prepare("""INSERT INTO "Resources" ("Id", "Level", "PublicId", "ParentId", "LastUpdate", "IsStable", "IsProtected") VALUES ($1, $2, $3, $4, $5, 1, $6)""", 6);
            _tag = Prepare("""INSERT INTO "MainDicomTags" ("ResourceId", "Tag", "Value", "ValueUpper") VALUES ($1, $2, $3, $4)""", 4);
            _metadata = Prepare("""INSERT INTO "Metadata" ("ResourceId", "Name", "Value") VALUES ($1, $2, $3)""", 3);
            _attachment = Prepare("""
                INSERT INTO "Attachments" ("ResourceId", "ContentType", "Uuid", "UncompressedSize", "CompressedSize", "Checksum", "UncompressedMd5", "CompressedMd5", "CompressionType")
                VALUES ($1, 1, $2, $3, $3, $4, '', '', 0)
                """, 4);
            _change = Prepare("""INSERT INTO "Changes" ("Seq", "ChangeType", "Level", "PublicId", "Date") VALUES ($1, $2, $3, $4, $5)""", 5);
        }

        private SqliteCommand Prepare(string sql, int parameters)
        {
            var c = _db.CreateCommand();
            c.Transaction = _tx;
            c.CommandText = sql;
            for (var i = 1; i <= parameters; i++) c.Parameters.Add(new SqliteParameter("$" + i, null));
            c.Prepare();
            return c;
        }

        public override async Task<List<(string Name, string Sql)>> DropSecondaryIndexesAsync(CancellationToken ct)
        {
            var indexes = await ReadAsync(_db, _tx, $"SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL AND tbl_name IN ({TableList})", ct);
            foreach (var (name, _) in indexes) await ExecuteAsync(_db, _tx, $"DROP INDEX \"{name}\"", ct);
            var triggers = await ReadAsync(_db, _tx, $"SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND name LIKE '{SortKeyTriggers}%'", ct);
            foreach (var (name, _) in triggers) await ExecuteAsync(_db, _tx, $"DROP TRIGGER \"{name}\"", ct);
            return [.. indexes, .. triggers];
        }

        private static void Run(SqliteCommand c, params object?[] values)
        {
            for (var i = 0; i < values.Length; i++) c.Parameters[i].Value = values[i] ?? DBNull.Value;
            c.ExecuteNonQuery();
        }

        public override Task WriteAsync(Batch b, CancellationToken ct)
        {
            foreach (var r in b.Resources) Run(_resource, r.Id, r.Level, r.PublicId, r.ParentId, r.LastUpdate, r.IsProtected);
            foreach (var t in b.Tags) Run(_tag, t.ResourceId, t.Tag, t.Value, t.Value.ToUpperInvariant());
            foreach (var m in b.Metadata) Run(_metadata, m.ResourceId, m.Name, m.Value);
            foreach (var a in b.Attachments) Run(_attachment, a.ResourceId, a.Uuid, a.Size, a.Checksum);
            foreach (var c in b.Changes) Run(_change, c.Seq, c.Type, c.Level, c.PublicId, c.Date);
            return Task.CompletedTask;
        }

        public override async Task FinishAsync(List<(string Name, string Sql)> indexes, long lastSeq, CancellationToken ct)
        {
            foreach (var (_, sql) in indexes) await ExecuteAsync(_db, _tx, sql, ct);
            await ExecuteAsync(_db, _tx, FillSortKeys, ct);
            await ExecuteAsync(_db, _tx, $"""INSERT INTO "GlobalProperties" ("Name", "Value") VALUES ('{DurabilityWatermark.PropertyName}', '{lastSeq}')""", ct);
            await _tx.CommitAsync(ct);
            // As IndexStartup leaves it.
            await ExecuteAsync(_db, null, "PRAGMA journal_mode=WAL;", ct);
        }

        public override async ValueTask DisposeAsync()
        {
            foreach (var c in new[] { _resource, _tag, _metadata, _attachment, _change }) c?.Dispose();
            _tx?.Dispose();
            if (_db is not null) await _db.DisposeAsync();
        }
    }

    /// <summary>Binary COPY per table and batch, all in one transaction (its foreign keys see its own rows).</summary>
    private sealed class PostgreSqlSink(string connectionString) : Sink
    {
        private NpgsqlConnection _db = null!;
        private NpgsqlTransaction _tx = null!;

        public override async Task OpenAsync(CancellationToken ct)
        {
            _db = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false, CommandTimeout = 0 }.ConnectionString);
            await _db.OpenAsync(ct);
            _tx = await _db.BeginTransactionAsync(ct);
            // One flush at the commit is enough for a generator; index builds get memory to sort in.
            await ExecuteAsync(_db, _tx, "SET LOCAL synchronous_commit = off; SET LOCAL maintenance_work_mem = '512MB'", ct);
        }

        public override async Task<List<(string Name, string Sql)>> DropSecondaryIndexesAsync(CancellationToken ct)
        {
            // Not the indexes behind a primary key or unique constraint: those are constraints, and stay.
            var indexes = await ReadAsync(_db, _tx, $"""
                SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() AND tablename IN ({TableList})
                AND indexname NOT IN (SELECT conname FROM pg_constraint)
                """, ct);
            foreach (var (name, _) in indexes) await ExecuteAsync(_db, _tx, $"DROP INDEX \"{name}\"", ct);
            var triggers = await ReadAsync(_db, _tx, $"""
                SELECT format('DROP TRIGGER %I ON %s', tgname, tgrelid::regclass), pg_get_triggerdef(oid) FROM pg_trigger WHERE tgname LIKE '{SortKeyTriggers}%'
                """, ct);
            foreach (var (drop, _) in triggers) await ExecuteAsync(_db, _tx, drop, ct);
            return [.. indexes, .. triggers];
        }

        public override async Task WriteAsync(Batch b, CancellationToken ct)
        {
            await using (var w = await _db.BeginBinaryImportAsync("""COPY "Resources" ("Id", "Level", "PublicId", "ParentId", "LastUpdate", "IsStable", "IsProtected") FROM STDIN (FORMAT BINARY)""", ct))
            {
                foreach (var r in b.Resources)
                {
                    await w.StartRowAsync(ct);
                    await w.WriteAsync(r.Id, NpgsqlDbType.Bigint, ct);
                    await w.WriteAsync(r.Level, NpgsqlDbType.Integer, ct);
                    await w.WriteAsync(r.PublicId, NpgsqlDbType.Varchar, ct);
                    if (r.ParentId is { } p) await w.WriteAsync(p, NpgsqlDbType.Bigint, ct); else await w.WriteNullAsync(ct);
                    await w.WriteAsync(r.LastUpdate, NpgsqlDbType.TimestampTz, ct);
                    await w.WriteAsync(true, NpgsqlDbType.Boolean, ct);
                    await w.WriteAsync(r.IsProtected, NpgsqlDbType.Boolean, ct);
                }
                await w.CompleteAsync(ct);
            }
            await using (var w = await _db.BeginBinaryImportAsync("""COPY "MainDicomTags" ("ResourceId", "Tag", "Value", "ValueUpper") FROM STDIN (FORMAT BINARY)""", ct))
            {
                foreach (var t in b.Tags)
                {
                    await w.StartRowAsync(ct);
                    await w.WriteAsync(t.ResourceId, NpgsqlDbType.Bigint, ct);
                    await w.WriteAsync(t.Tag, NpgsqlDbType.Integer, ct);
                    await w.WriteAsync(t.Value, NpgsqlDbType.Text, ct);
                    await w.WriteAsync(t.Value.ToUpperInvariant(), NpgsqlDbType.Text, ct);
                }
                await w.CompleteAsync(ct);
            }
            await using (var w = await _db.BeginBinaryImportAsync("""COPY "Metadata" ("ResourceId", "Name", "Value") FROM STDIN (FORMAT BINARY)""", ct))
            {
                foreach (var m in b.Metadata)
                {
                    await w.StartRowAsync(ct);
                    await w.WriteAsync(m.ResourceId, NpgsqlDbType.Bigint, ct);
                    await w.WriteAsync(m.Name, NpgsqlDbType.Text, ct);
                    await w.WriteAsync(m.Value, NpgsqlDbType.Text, ct);
                }
                await w.CompleteAsync(ct);
            }
            await using (var w = await _db.BeginBinaryImportAsync("""
                COPY "Attachments" ("ResourceId", "ContentType", "Uuid", "UncompressedSize", "CompressedSize", "Checksum", "UncompressedMd5", "CompressedMd5", "CompressionType") FROM STDIN (FORMAT BINARY)
                """, ct))
            {
                foreach (var a in b.Attachments)
                {
                    await w.StartRowAsync(ct);
                    await w.WriteAsync(a.ResourceId, NpgsqlDbType.Bigint, ct);
                    await w.WriteAsync(Attachment.DicomContentType, NpgsqlDbType.Integer, ct);
                    await w.WriteAsync(a.Uuid, NpgsqlDbType.Text, ct);
                    await w.WriteAsync(a.Size, NpgsqlDbType.Bigint, ct);
                    await w.WriteAsync(a.Size, NpgsqlDbType.Bigint, ct);
                    await w.WriteAsync(a.Checksum, NpgsqlDbType.Text, ct);
                    await w.WriteAsync("", NpgsqlDbType.Text, ct);
                    await w.WriteAsync("", NpgsqlDbType.Text, ct);
                    await w.WriteAsync(0, NpgsqlDbType.Integer, ct);
                }
                await w.CompleteAsync(ct);
            }
            await using (var w = await _db.BeginBinaryImportAsync("""COPY "Changes" ("Seq", "ChangeType", "Level", "PublicId", "Date") FROM STDIN (FORMAT BINARY)""", ct))
            {
                foreach (var c in b.Changes)
                {
                    await w.StartRowAsync(ct);
                    await w.WriteAsync(c.Seq, NpgsqlDbType.Bigint, ct);
                    await w.WriteAsync(c.Type, NpgsqlDbType.Text, ct);
                    await w.WriteAsync(c.Level, NpgsqlDbType.Integer, ct);
                    await w.WriteAsync(c.PublicId, NpgsqlDbType.Text, ct);
                    await w.WriteAsync(c.Date, NpgsqlDbType.TimestampTz, ct);
                }
                await w.CompleteAsync(ct);
            }
        }

        public override async Task FinishAsync(List<(string Name, string Sql)> indexes, long lastSeq, CancellationToken ct)
        {
            foreach (var (_, sql) in indexes) await ExecuteAsync(_db, _tx, sql, ct);
            await ExecuteAsync(_db, _tx, FillSortKeys, ct);
            // The identity columns go on from the rows written with explicit values.
            await ExecuteAsync(_db, _tx, """SELECT setval(pg_get_serial_sequence('"Resources"', 'Id'), (SELECT max("Id") FROM "Resources"))""", ct);
            await ExecuteAsync(_db, _tx, """SELECT setval(pg_get_serial_sequence('"Changes"', 'Seq'), (SELECT max("Seq") FROM "Changes"))""", ct);
            await ExecuteAsync(_db, _tx, $"""INSERT INTO "GlobalProperties" ("Name", "Value") VALUES ('{DurabilityWatermark.PropertyName}', '{lastSeq}')""", ct);
            await _tx.CommitAsync(ct);
            // What autovacuum would have done by the time an archive is this large: the planner's statistics, and the
            // visibility map that lets an index-only scan skip the table.
            await ExecuteAsync(_db, null, "VACUUM ANALYZE", ct);
        }

        public override async ValueTask DisposeAsync()
        {
            if (_tx is not null) await _tx.DisposeAsync();
            if (_db is not null) await _db.DisposeAsync();
        }
    }
}
