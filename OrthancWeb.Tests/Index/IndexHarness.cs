using OrthancWeb.Audit;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using OrthancWeb.Dicom.Data;
using OrthancWeb.Dicom.IO;
using OrthancWeb.Hosting;
using OrthancWeb.Index;
using OrthancWeb.Storage;
using OrthancWeb.Tests.Infrastructure;
using OrthancWeb.Tests.Server;

namespace OrthancWeb.Tests.Index;

/// <summary>
/// A real index (SQLite in a temp folder, or a database of its own on the run's PostgreSQL) and storage area, registered by the server's own AddStorage and AddIndex,
/// brought up by its start-up check, with a fake clock. Instances are stored the way the ingest path hands them to the
/// index: a file written into the storage area, its header parsed, its identifiers hashed.
/// </summary>
internal sealed class IndexHarness : IAsyncDisposable
{
    private readonly ServiceProvider _services;

    public string Folder { get; }
    public FakeTimeProvider Clock { get; } = new(new DateTimeOffset(2026, 1, 5, 8, 0, 0, TimeSpan.Zero));

    private readonly IReadOnlyDictionary<string, string?> _settings;

    private IndexHarness(string folder, IReadOnlyDictionary<string, string?> settings)
    {
        Folder = folder;
        _settings = settings;
        var paths = new DataPaths(folder);
        paths.CreateAll();
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(settings.ToDictionary(s => $"{ServerOptions.Section}:{s.Key}", s => s.Value))
            .Build();
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddSingleton(paths);
        services.AddSingleton<TimeProvider>(Clock);
        services.AddAudit().AddStorage(configuration).AddIndex(configuration, paths);
        _services = services.BuildServiceProvider();
    }

    /// <param name="settings">OrthancWeb settings by name, e.g. ("MaximumPatientCount", "2").</param>
    public static Task<IndexHarness> StartAsync(params (string Name, string Value)[] settings) => StartAsync(IndexDatabase.Sqlite, settings);

    /// <param name="provider">Sqlite (a file in the temp folder) or PostgreSQL (a new database on the run's server).</param>
    /// <param name="settings">OrthancWeb settings by name, e.g. ("MaximumPatientCount", "2").</param>
    public static async Task<IndexHarness> StartAsync(string provider, params (string Name, string Value)[] settings)
    {
        var all = settings.ToDictionary(s => s.Name, s => (string?)s.Value);
        all["IndexProvider"] = provider;
        string? database = null;
        if (provider == IndexDatabase.PostgreSql)
            all["IndexConnectionString"] = database = await (await PostgresServer.Shared).CreateDatabaseAsync();
        var harness = new IndexHarness(Directory.CreateTempSubdirectory("ow-index-").FullName, all) { _database = database };
        await harness.Get<IndexStartup>().RunAsync();
        return harness;
    }

    private string? _database;

    /// <summary>Whether this harness is a second writer of another's database and storage area (see <see cref="Join"/>).</summary>
    private bool _joined;

    /// <summary>
    /// A second writer of this harness's PostgreSQL index and storage area, as a second server sharing them will be
    /// (issue 20): its own services, caches and commit pipeline. It neither migrates nor reconciles (the first did).
    /// </summary>
    public IndexHarness Join()
    {
        if (!IsPostgreSql) throw new InvalidOperationException("only a PostgreSQL index has several writers");
        return new IndexHarness(Folder, _settings) { _database = _database, _joined = true };
    }

    public bool IsPostgreSql => _database is not null;

    public T Get<T>() where T : notnull => _services.GetRequiredService<T>();

    public StorageArea Storage => Get<StorageArea>();

    public IndexDbContext Db() => Get<IDbContextFactory<IndexDbContext>>().CreateDbContext();

    public static InstanceArrival RestArrival(bool overwrite = false) => new("RestApi", "127.0.0.1", null, null, [], overwrite);

    /// <summary>A file as the ingest path leaves it for the index: written and renamed into the storage area.</summary>
    public StoredFile WriteFile(byte[] bytes)
    {
        var incoming = Storage.CreateIncoming();
        using (incoming.Handle) RandomAccess.Write(incoming.Handle, bytes, 0);
        return Storage.Commit(incoming, bytes.Length, FileChecksum.Of(bytes, []), compress: false);
    }

    public static (DicomFile Header, InstanceIdentifiers Ids) Parse(byte[] bytes)
    {
        var header = DicomFile.Open(bytes, new DicomReadOptions { StopBeforeTag = DicomTags.PixelData });
        var ds = header.Dataset;
        return (header, new InstanceIdentifiers(ds.GetString(DicomTags.PatientID)!, ds.GetString(DicomTags.StudyInstanceUID)!,
            ds.GetString(DicomTags.SeriesInstanceUID)!, ds.GetString(DicomTags.SOPInstanceUID)!));
    }

    /// <summary>Slice <paramref name="index"/> of a patient's CT series, with about <paramref name="bytes"/> of pixel data.</summary>
    public static byte[] Instance(string patientId, int index = 1, int bytes = 16 * 1024) => StoreBehaviourTests.Instance(patientId, index, bytes);

    public Task<StoreOutcome> StoreAsync(byte[] bytes, InstanceArrival? arrival = null, Task<string>? checksum = null) =>
        Store(bytes, arrival, checksum).Outcome;

    /// <summary>Hands an instance to the index; the outcome comes once it is committed and durable.</summary>
    public (Task<StoreOutcome> Outcome, StoredFile File, InstanceIdentifiers Ids) Store(byte[] bytes, InstanceArrival? arrival = null, Task<string>? checksum = null)
    {
        var (header, ids) = Parse(bytes);
        var file = WriteFile(bytes);
        // A caller never answered fails the test instead of hanging it.
        return (Get<IndexWriter>().AddInstanceAsync(header, ids, file, arrival ?? RestArrival(), checksum).WaitAsync(TimeSpan.FromSeconds(60)), file, ids);
    }

    /// <summary>The UUID of the file the index attaches to an instance, null when it has no such instance.</summary>
    public string? AttachedFile(string instancePublicId)
    {
        using var db = Db();
        return db.Resources.Where(r => r.PublicId == instancePublicId)
            .Join(db.Attachments, r => r.Id, a => a.ResourceId, (r, a) => a.Uuid).FirstOrDefault();
    }

    /// <summary>Waits (bounded) for something another thread does; never used to show that something does not happen.</summary>
    public static async Task Eventually(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"timed out waiting until {what}");
            await Task.Delay(10);
        }
    }

    public async Task<string> StoreSuccessfullyAsync(string patientId, int index = 1, int bytes = 16 * 1024)
    {
        var instance = Instance(patientId, index, bytes);
        Assert.Equal(StoreStatus.Success, (await StoreAsync(instance)).Status);
        return Parse(instance).Ids.InstancePublicId;
    }

    public List<string> PublicIds(ResourceLevel level)
    {
        using var db = Db();
        return db.Resources.Where(r => r.Level == level).Select(r => r.PublicId).ToList();
    }

    public List<(string ChangeType, string PublicId)> Changes()
    {
        using var db = Db();
        return db.Changes.OrderBy(c => c.Seq).Select(c => new { c.ChangeType, c.PublicId }).AsEnumerable().Select(c => (c.ChangeType, c.PublicId)).ToList();
    }

    /// <summary>The storage usage as counted from the index now, to compare with what the writer keeps.</summary>
    public (long CompressedSize, int Patients) CountUsage()
    {
        using var db = Db();
        return (db.Attachments.Sum(a => a.CompressedSize), db.Resources.Count(r => r.Level == ResourceLevel.Patient));
    }

    public async ValueTask DisposeAsync()
    {
        await _services.DisposeAsync();
        if (_joined) return; // the first writer owns the database and the folder
        SqliteConnection.ClearAllPools();
        if (_database is not null) await (await PostgresServer.Shared).DropDatabaseAsync(_database);
        // Cleanup only: a file the storage area was still removing may race the delete (as in RealServiceHost).
        try { Directory.Delete(Folder, recursive: true); } catch (IOException) { }
    }
}
