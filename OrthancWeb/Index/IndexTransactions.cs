using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;
using OrthancWeb.Storage;

namespace OrthancWeb.Index;

/// <summary>
/// The index's single writer: every change runs here, one at a time. SQLite has one writer anyway, and serialising
/// keeps the storage usage exact, stores duplicate arrivals of one instance once, and makes recycling decisions atomic.
/// </summary>
public sealed class IndexTransactions(IDbContextFactory<IndexDbContext> contexts, StorageArea storage, HierarchyCache hierarchy, StorageUsage usage) : IDisposable
{
    private readonly SemaphoreSlim _writer = new(1, 1);

    public void Dispose() => _writer.Dispose();

    /// <summary>Becomes the writer if it is free at once (the commit pipeline's inline path).</summary>
    internal bool TryEnter() => _writer.Wait(0);

    internal Task EnterAsync(CancellationToken ct) => _writer.WaitAsync(ct);

    internal void Exit() => _writer.Release();

    /// <summary>A transaction on a context the caller keeps; the caller is the writer.</summary>
    internal ReadWriteTransaction Open(IndexDbContext db) => new(db, storage, hierarchy, usage);

    /// <summary>
    /// Runs <paramref name="work"/> as the writer, in one transaction on a context of its own, and commits it. The
    /// stored files it released are deleted once the writer is free again.
    /// </summary>
    public async Task<T> ReadWriteAsync<T>(Func<ReadWriteTransaction, CancellationToken, Task<T>> work, CancellationToken ct)
    {
        await _writer.WaitAsync(ct);
        ReadWriteTransaction? transaction = null;
        try
        {
            await using var db = await contexts.CreateDbContextAsync(ct);
            transaction = Open(db);
            await transaction.BeginAsync(ct);
            try
            {
                var result = await work(transaction, ct);
                await transaction.CommitAsync(ct);
                return result;
            }
            catch
            {
                await transaction.AbandonAsync();
                throw;
            }
        }
        finally
        {
            _writer.Release();
            transaction?.DeleteReleasedFiles();
        }
    }

    /// <summary>
    /// Keeps the DICOM JSON rows built for instances indexed before the rows existed (the metadata path builds them
    /// from the files on first use), so the next request reads the index only. Rows that appeared meanwhile and
    /// instances deleted meanwhile are skipped.
    /// </summary>
    public Task AddInstanceJsonAsync(IReadOnlyList<(long RowId, byte[] Json)> rows, CancellationToken ct) =>
        ReadWriteAsync(async (tx, token) =>
        {
            var ids = rows.Select(r => r.RowId).ToList();
            var existing = await tx.Db.InstanceJson.Where(j => ids.Contains(j.ResourceId)).Select(j => j.ResourceId).ToListAsync(token);
            var alive = await tx.Db.Resources.Where(r => ids.Contains(r.Id)).Select(r => r.Id).ToListAsync(token);
            var wanted = alive.Except(existing).ToHashSet();
            tx.Db.InstanceJson.AddRange(rows.Where(r => wanted.Remove(r.RowId)).Select(r => new InstanceJson { ResourceId = r.RowId, Data = r.Json }));
            return 0;
        }, ct);

    /// <summary>Runs <paramref name="work"/> as the writer on a context of its own, outside any transaction (a checkpoint cannot run in one).</summary>
    public async Task ExclusiveAsync(Func<IndexDbContext, CancellationToken, Task> work, CancellationToken ct)
    {
        await _writer.WaitAsync(ct);
        try
        {
            await using var db = await contexts.CreateDbContextAsync(ct);
            await work(db, ct);
        }
        finally { _writer.Release(); }
    }
}

/// <summary>
/// One change to the index by its single writer (see <see cref="IndexTransactions"/>): a database transaction, and the
/// stored files whose rows it deletes, deleted from the disk only once the commit no longer points at them. A commit
/// makes what the writer learnt known; a failure undoes the rows, keeps the files, and forgets what the writer
/// remembered between transactions (the hierarchy cache and the storage usage), to be read again from the index.
/// </summary>
public sealed class ReadWriteTransaction
{
    private readonly IndexDbContext _db;
    private readonly StorageArea _storage;
    private readonly HierarchyCache _hierarchy;
    private readonly StorageUsage _usage;
    private readonly List<string> _released = [];
    private readonly List<Action> _onCommitted = [];
    private IDbContextTransaction? _transaction;

    internal ReadWriteTransaction(IndexDbContext db, StorageArea storage, HierarchyCache hierarchy, StorageUsage usage) =>
        (_db, _storage, _hierarchy, _usage) = (db, storage, hierarchy, usage);

    public IndexDbContext Db => _db;

    internal async Task BeginAsync(CancellationToken ct) => _transaction = await _db.Database.BeginTransactionAsync(ct);

    /// <summary>Stored files whose rows this transaction deletes: they go from the disk after the commit.</summary>
    internal void Release(IEnumerable<string> uuids) => _released.AddRange(uuids);

    /// <summary>Work that tells of what the transaction did (an audit entry): done once it is committed, never if it is not.</summary>
    internal void OnCommitted(Action action) => _onCommitted.Add(action);

    internal async Task CommitAsync(CancellationToken ct)
    {
        // The ingest path writes through IndexRowWriter; EF tracks only what deletions and stability marking change.
        if (_db.ChangeTracker.HasChanges()) await _db.SaveChangesAsync(ct);
        await _transaction!.CommitAsync(ct);
        await EndAsync();
        _hierarchy.Committed();
        foreach (var action in _onCommitted) action();
        _onCommitted.Clear();
    }

    /// <summary>After a failure: the transaction is rolled back, so its files stay and what the writer knew is unknown.</summary>
    internal async Task AbandonAsync()
    {
        _released.Clear();
        _onCommitted.Clear();
        _hierarchy.Forget();
        _usage.Forget();
        try { await EndAsync(); }
        catch (Exception ex) when (IndexDatabase.IsUnavailable(ex))
        {
            // The connection broke: its transaction went with it (PostgreSQL rolls back what a lost session had not
            // committed), and the failure the caller is handling is the one to report.
            _transaction = null;
        }
    }

    private async Task EndAsync()
    {
        if (_transaction is null) return;
        await _transaction.DisposeAsync();
        _transaction = null;
    }

    /// <summary>Deletes the released files; called once the transaction ended (they are none if it failed).</summary>
    internal void DeleteReleasedFiles()
    {
        foreach (var uuid in _released) _storage.Delete(uuid);
        _released.Clear();
    }

    private const string SavepointName = "instance";

    /// <summary>Where to come back to if what follows is refused: the rows, the files released and the storage usage.</summary>
    internal readonly record struct Savepoint(int Released, int OnCommitted, (long, int) Usage);

    internal async ValueTask<Savepoint> SavepointAsync(CancellationToken ct)
    {
        var savepoint = new Savepoint(_released.Count, _onCommitted.Count, _usage.Snapshot);
        await _transaction!.CreateSavepointAsync(SavepointName, ct);
        return savepoint;
    }

    internal async Task RollbackToAsync(Savepoint savepoint, CancellationToken ct)
    {
        await _transaction!.RollbackToSavepointAsync(SavepointName, ct);
        _released.RemoveRange(savepoint.Released, _released.Count - savepoint.Released);
        _onCommitted.RemoveRange(savepoint.OnCommitted, _onCommitted.Count - savepoint.OnCommitted);
        _usage.Restore(savepoint.Usage);
    }
}
