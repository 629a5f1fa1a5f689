using Npgsql;
using OrthancWeb.Storage;

namespace OrthancWeb.Index;

/// <summary>
/// One server per PostgreSQL index, until several can share one safely (issue 20): the server holds a session-level
/// advisory lock on a connection of its own for as long as it runs, so a second server pointed at the same database
/// refuses to start, saying why, instead of writing beside the first. PostgreSQL releases the lock when the session
/// ends, so a server that was killed does not keep it. SQLite needs none: its file is in the server's own data folder.
/// </summary>
public sealed partial class IndexOwnership(StorageOptions store, ILogger<IndexOwnership> logger) : IAsyncDisposable
{
    /// <summary>"OWINDEX" in ASCII: the advisory lock key, one per database.</summary>
    private const long LockKey = 0x4F57494E444558;

    private NpgsqlConnection? _connection;

    public async Task AcquireAsync(CancellationToken ct)
    {
        if (store.IndexProvider != IndexDatabase.PostgreSql || _connection is not null) return;
        // Not from the pool: the lock lives as long as this one session.
        var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(store.IndexConnectionString) { Pooling = false }.ConnectionString);
        await connection.OpenAsync(ct);
        await using var command = new NpgsqlCommand("SELECT pg_try_advisory_lock(@key)", connection);
        command.Parameters.AddWithValue("key", LockKey);
        if (await command.ExecuteScalarAsync(ct) is not true)
        {
            await connection.DisposeAsync();
            throw new InvalidOperationException(
                $"Another OrthancWeb server already uses the index database '{connection.Database}' on {connection.Host}: " +
                "several servers on one PostgreSQL index are not supported yet. Give this server a database of its own.");
        }
        _connection = connection;
        LogOwned(logger, connection.Database, connection.Host);
    }

    public async ValueTask DisposeAsync()
    {
        if (_connection is not null) await _connection.DisposeAsync();
    }

    [LoggerMessage(LogLevel.Information, "Index on PostgreSQL: database {Database} on {Host}, held by this server")]
    private static partial void LogOwned(ILogger logger, string? database, string? host);
}
