using System.Data.Common;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.EntityFrameworkCore.Infrastructure;
using OrthancWeb.Dicom.Data;
using OrthancWeb.Explorer;
using OrthancWeb.Index;
using OrthancWeb.Storage;
using OrthancWeb.Tests.Infrastructure;

namespace OrthancWeb.Tests.Explorer;

/// <summary>
/// A real index (SQLite in a temp folder, or a database of its own on the run's PostgreSQL), at the current migration, with rows written straight into it (as the grid
/// benchmark does) and every SQL command the queries send counted.
/// </summary>
internal sealed class GridIndex : IAsyncDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("ow-grid-").FullName;
    private readonly PooledDbContextFactory<IndexDbContext> _contexts;
    private readonly List<Resource> _pending = [];
    private int _next;

    public CommandCounter Commands { get; } = new();
    public IndexQueries Queries { get; }
    public ExplorerService Explorer { get; }

    private readonly string? _database;

    private GridIndex(string provider, string? database)
    {
        _database = database;
        var options = new DbContextOptionsBuilder<IndexDbContext>();
        IndexDatabase.Configure(options, new StorageOptions { IndexProvider = provider, IndexConnectionString = database ?? "" }, Path.Combine(_folder, "index.db"));
        _contexts = new PooledDbContextFactory<IndexDbContext>(options.AddInterceptors(Commands).Options);
        Queries = new IndexQueries(_contexts);
        Explorer = new ExplorerService(Queries);
    }

    public static async Task<GridIndex> CreateAsync(string provider = IndexDatabase.Sqlite)
    {
        var database = provider == IndexDatabase.PostgreSql ? await (await PostgresServer.Shared).CreateDatabaseAsync() : null;
        var index = new GridIndex(provider, database);
        await using var db = await index._contexts.CreateDbContextAsync();
        await db.Database.MigrateAsync();
        return index;
    }

    /// <summary>A context on the index, for a test to change rows as a writer would.</summary>
    public IndexDbContext Db() => _contexts.CreateDbContext();

    public Resource Patient(params (DicomTag Tag, string Value)[] tags) => Add(ResourceLevel.Patient, null, tags);
    public Resource Study(Resource patient, params (DicomTag Tag, string Value)[] tags) => Add(ResourceLevel.Study, patient, tags);
    public Resource Series(Resource study, params (DicomTag Tag, string Value)[] tags) => Add(ResourceLevel.Series, study, tags);

    /// <summary>An instance with its DICOM file (sizes as stored: compressed on disk, uncompressed) and its index in series.</summary>
    public Resource Instance(Resource series, long diskSize, long uncompressedSize, params (DicomTag Tag, string Value)[] tags)
    {
        var instance = Add(ResourceLevel.Instance, series, tags);
        instance.Attachments.Add(new Attachment
        {
            ContentType = Attachment.DicomContentType, Uuid = Guid.NewGuid().ToString(), CompressedSize = diskSize, UncompressedSize = uncompressedSize,
            CompressionType = diskSize == uncompressedSize ? 0 : 1,
        });
        instance.Metadata.Add(new ResourceMetadata { Name = "IndexInSeries", Value = (series.Children.Count).ToString(System.Globalization.CultureInfo.InvariantCulture) });
        return instance;
    }

    private Resource Add(ResourceLevel level, Resource? parent, (DicomTag Tag, string Value)[] tags)
    {
        var r = new Resource { Level = level, PublicId = $"{level}-{++_next:D6}", Parent = parent, LastUpdate = DateTime.UtcNow, IsStable = true };
        // As the index writer stores them: the value, and its upper-case copy for case-insensitive matching.
        r.Tags.AddRange(tags.Select(t => new MainDicomTag { Tag = (int)t.Tag.Value, Value = t.Value, ValueUpper = t.Value.ToUpperInvariant() }));
        parent?.Children.Add(r);
        _pending.Add(r);
        return r;
    }

    /// <summary>
    /// Writes the resources added since the last call, which must be whole patients (a resource under one already
    /// written would be written again); their row IDs are set once this returns.
    /// </summary>
    public async Task SaveAsync()
    {
        await using var db = await _contexts.CreateDbContextAsync();
        db.Resources.AddRange(_pending.Where(r => r.Parent is null));
        // As the index writer does, in the same transaction: the explorer's counts hold until the next change.
        db.Changes.AddRange(_pending.Select(r => new ChangeEntry { ChangeType = "New" + r.Level, Level = r.Level, PublicId = r.PublicId, Date = DateTime.UtcNow }));
        await db.SaveChangesAsync();
        _pending.Clear();
    }

    public async ValueTask DisposeAsync()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        if (_database is not null) await (await PostgresServer.Shared).DropDatabaseAsync(_database);
        try { Directory.Delete(_folder, true); } catch (IOException) { }
    }

    /// <summary>Counts the SQL commands sent to the database, to show a page costs the same whatever the index holds.</summary>
    public sealed class CommandCounter : DbCommandInterceptor
    {
        private int _count;
        public int Count => _count;
        public List<string> Texts { get; } = [];

        public void Reset() { _count = 0; lock (Texts) Texts.Clear(); }

        private void Seen(DbCommand command)
        {
            Interlocked.Increment(ref _count);
            lock (Texts) Texts.Add(command.CommandText);
        }

        public override ValueTask<InterceptionResult<DbDataReader>> ReaderExecutingAsync(DbCommand command, CommandEventData eventData, InterceptionResult<DbDataReader> result, CancellationToken cancellationToken = default)
        {
            Seen(command);
            return base.ReaderExecutingAsync(command, eventData, result, cancellationToken);
        }

        public override ValueTask<InterceptionResult<object>> ScalarExecutingAsync(DbCommand command, CommandEventData eventData, InterceptionResult<object> result, CancellationToken cancellationToken = default)
        {
            Seen(command);
            return base.ScalarExecutingAsync(command, eventData, result, cancellationToken);
        }

        public override InterceptionResult<DbDataReader> ReaderExecuting(DbCommand command, CommandEventData eventData, InterceptionResult<DbDataReader> result)
        {
            Seen(command);
            return base.ReaderExecuting(command, eventData, result);
        }
    }
}
