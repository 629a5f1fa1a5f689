using System.Text.Json;
using Microsoft.EntityFrameworkCore;

namespace OrthancWeb.Index;

/// <summary>
/// Named settings edited at run time (modalities, routing rules), kept as JSON global properties under a prefix in
/// the index database: they survive a restart, follow the index to PostgreSQL, and need no table of their own.
/// Read from a cache that every change refreshes.
/// </summary>
public sealed class GlobalPropertyStore<T>(IDbContextFactory<IndexDbContext> contexts, string prefix) : IDisposable
{
    private Dictionary<string, T>? _cache;
    private long _loadedAt;
    private bool _shared;
    private readonly SemaphoreSlim _gate = new(1, 1);

    /// <summary>
    /// How long a cache read from a PostgreSQL index is trusted: other servers sharing the index edit the same
    /// settings, and their changes reach this server within that time (a SQLite index has no other writer).
    /// </summary>
    private const long SharedCacheMilliseconds = 2000;

    public IReadOnlyDictionary<string, T> All
    {
        get
        {
            if (_cache is { } cached && !Expired) return cached;
            _gate.Wait();
            try
            {
                if (_cache is not null && !Expired) return _cache;
                using var db = contexts.CreateDbContext();
                _shared = !db.Database.IsSqlite();
                _loadedAt = Environment.TickCount64;
                return _cache = db.GlobalProperties.AsNoTracking().Where(p => p.Name.StartsWith(prefix)).AsEnumerable()
                    .ToDictionary(p => p.Name[prefix.Length..], p => JsonSerializer.Deserialize<T>(p.Value)!, StringComparer.OrdinalIgnoreCase);
            }
            finally { _gate.Release(); }
        }
    }

    private bool Expired => _shared && Environment.TickCount64 - _loadedAt > SharedCacheMilliseconds;

    /// <summary>Reads the database again at the next use (another server may have written meanwhile).</summary>
    public void Forget() => _cache = null;

    public async Task SaveAsync(string name, T value, CancellationToken ct)
    {
        await _gate.WaitAsync(ct);
        try
        {
            await using var db = await contexts.CreateDbContextAsync(ct);
            var key = prefix + name;
            var row = await db.GlobalProperties.FirstOrDefaultAsync(p => p.Name == key, ct);
            if (row is null) db.GlobalProperties.Add(row = new GlobalProperty { Name = key });
            row.Value = JsonSerializer.Serialize(value);
            await db.SaveChangesAsync(ct);
            _cache = null;
        }
        finally { _gate.Release(); }
    }

    /// <summary>
    /// Stores <paramref name="value"/> unless the name already has one, and returns the value the index keeps: with
    /// several servers on one index, the first writer's stands and the others adopt it (the key's uniqueness decides).
    /// </summary>
    public async Task<T> AddIfAbsentAsync(string name, T value, CancellationToken ct)
    {
        await _gate.WaitAsync(ct);
        try
        {
            var key = prefix + name;
            _cache = null;
            await using (var db = await contexts.CreateDbContextAsync(ct))
            {
                if (await db.GlobalProperties.AsNoTracking().FirstOrDefaultAsync(p => p.Name == key, ct) is { } existing)
                    return JsonSerializer.Deserialize<T>(existing.Value)!;
                db.GlobalProperties.Add(new GlobalProperty { Name = key, Value = JsonSerializer.Serialize(value) });
                try
                {
                    await db.SaveChangesAsync(ct);
                    return value;
                }
                catch (DbUpdateException) { }
            }
            // Another server wrote it between the read and the insert: theirs stands.
            await using var again = await contexts.CreateDbContextAsync(ct);
            var stored = await again.GlobalProperties.AsNoTracking().FirstAsync(p => p.Name == key, ct);
            return JsonSerializer.Deserialize<T>(stored.Value)!;
        }
        finally { _gate.Release(); }
    }

    public async Task<bool> DeleteAsync(string name, CancellationToken ct)
    {
        await _gate.WaitAsync(ct);
        try
        {
            await using var db = await contexts.CreateDbContextAsync(ct);
            var n = await db.GlobalProperties.Where(p => p.Name == prefix + name).ExecuteDeleteAsync(ct);
            _cache = null;
            return n > 0;
        }
        finally { _gate.Release(); }
    }

    public void Dispose() => _gate.Dispose();
}
