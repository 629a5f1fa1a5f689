using Npgsql;
using OrthancWeb.Hosting;
using OrthancWeb.Storage;

namespace OrthancWeb.Index;

/// <summary>
/// This server's place among the servers that share one PostgreSQL index (and one storage folder). Each holds a
/// session-level advisory lock under its identifier for as long as it runs, on a connection of its own: a second
/// server of the same identifier refuses to start, and the others can tell a running server from one that is gone
/// (PostgreSQL releases a session's locks when the session ends, killed or not). One of them also holds the leader
/// lock and does the index's background duties, which must happen once for the whole archive: marking resources
/// stable (the Stable* changes), following the change log for routing, Lua and worklists. The others try the leader
/// lock every second, so a leader that dies is replaced within about a second. On SQLite the index belongs to one
/// server, which leads from the start.
/// </summary>
public sealed partial class ClusterMembership(StorageOptions store, ServerIdentity identity, TimeProvider time, ILogger<ClusterMembership> logger)
    : IAsyncDisposable
{
    /// <summary>"OWINDEX" in ASCII: the leader lock, one per database (internal for the tests, which end its session).</summary>
    internal const long LeaderKey = 0x4F57494E444558;

    /// <summary>How often a server that does not lead tries the leader lock, and checks its own session.</summary>
    public static readonly TimeSpan Period = TimeSpan.FromSeconds(1);

    private readonly SemaphoreSlim _gate = new(1, 1);
    private NpgsqlConnection? _connection;
    private TaskCompletionSource _leading = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _stopping = new();
    private Task? _loop;

    public bool IsShared => store.IndexProvider == IndexDatabase.PostgreSql;

    public ServerIdentity Identity => identity;

    /// <summary>Whether this server does the archive's background duties now.</summary>
    public bool IsLeader => !IsShared || _leading.Task.IsCompleted;

    /// <summary>
    /// Whether this server holds its identity lock now (always on SQLite). Not while its session is lost (PostgreSQL
    /// restarting, the network cut): it then cannot tell which servers run, and is not ready (see /health/ready).
    /// </summary>
    public bool HasSession => !IsShared || Volatile.Read(ref _connection) is not null;

    /// <summary>
    /// Raised once this server has its identity lock again after losing its session: the leader may have taken its
    /// jobs over meanwhile, if the session stayed lost for longer than the leader's grace (see Jobs/JobLeases.cs).
    /// </summary>
    public event Action? Rejoined;

    /// <summary>
    /// Raised as this server loses its session, before it can have it back (so before <see cref="Rejoined"/>): the jobs
    /// engine holds its workers back from then (see Jobs/JobLeases.cs). Handlers must be quick.
    /// </summary>
    public event Action? SessionLost;

    private int _terms;

    /// <summary>How many times this server has become leader: what a leader saw in an earlier term is stale.</summary>
    public int LeadershipTerm => Volatile.Read(ref _terms);

    /// <summary>Completes once this server leads (at once on SQLite).</summary>
    public Task WhenLeaderAsync(CancellationToken ct) => _leading.Task.WaitAsync(ct);

    public async Task JoinAsync(CancellationToken ct)
    {
        if (!IsShared)
        {
            _leading.TrySetResult();
            return;
        }
        if (_connection is not null) return;
        await ConnectAsync(ct);
        await TryLeadAsync(ct);
        _loop = Task.Run(() => KeepUpAsync(_stopping.Token), CancellationToken.None);
    }

    private async Task ConnectAsync(CancellationToken ct)
    {
        // Not from the pool: the locks live as long as this one session.
        // Short timeouts on both ends: a leader whose host died or whose network is cut must lose its locks (the
        // server drops the session after about 10 s without an answer) and notice it (a ping that hangs fails in 5 s),
        // not after TCP's two hours.
        var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(store.IndexConnectionString)
        {
            Pooling = false, KeepAlive = 5, CommandTimeout = 5,
        }.ConnectionString);
        bool locked;
        try
        {
            await connection.OpenAsync(ct);
            await using (var settings = new NpgsqlCommand(
                "SET tcp_keepalives_idle = 5; SET tcp_keepalives_interval = 2; SET tcp_keepalives_count = 3; SET tcp_user_timeout = 10000", connection))
                await settings.ExecuteNonQueryAsync(ct);
            // A few tries: a leader taking this server's jobs over holds its lock for an instant.
            locked = await TryLockAsync(connection, identity.LockKey, ct);
            for (var i = 0; i < 12 && !locked; i++)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(250), time, ct);
                locked = await TryLockAsync(connection, identity.LockKey, ct);
            }
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
        if (!locked)
        {
            await connection.DisposeAsync();
            throw new IdentityTakenException(
                $"Another OrthancWeb server named '{identity.Identifier}' already runs on the index database '{connection.Database}' on " +
                $"{connection.Host}. Servers sharing an index need identifiers of their own: give this one another data folder or " +
                "another DatabaseServerIdentifier.");
        }
        _connection = connection;
        LogJoined(logger, identity.Identifier, connection.Database, connection.Host);
    }

    private static async Task<bool> TryLockAsync(NpgsqlConnection connection, long key, CancellationToken ct)
    {
        await using var command = new NpgsqlCommand("SELECT pg_try_advisory_lock(@key)", connection);
        command.Parameters.AddWithValue("key", key);
        return await command.ExecuteScalarAsync(ct) is true;
    }

    private static async Task UnlockAsync(NpgsqlConnection connection, long key)
    {
        await using var command = new NpgsqlCommand("SELECT pg_advisory_unlock(@key)", connection);
        command.Parameters.AddWithValue("key", key);
        await command.ExecuteScalarAsync(CancellationToken.None);
    }

    private async Task TryLeadAsync(CancellationToken ct)
    {
        await _gate.WaitAsync(ct);
        try
        {
            if (IsLeader || _connection is null) return;
            if (await TryLockAsync(_connection, LeaderKey, ct))
            {
                Interlocked.Increment(ref _terms);
                _leading.TrySetResult();
                LogLeading(logger, identity.Identifier);
            }
        }
        finally { _gate.Release(); }
    }

    /// <summary>
    /// Every <see cref="Period"/>: a follower tries to lead; every server checks its session. A session lost (the
    /// database restarted, the network cut) lost its locks: the server stops leading at once, then joins again.
    /// </summary>
    private async Task KeepUpAsync(CancellationToken ct)
    {
        using var timer = new PeriodicTimer(Period, time);
        try
        {
            while (await timer.WaitForNextTickAsync(ct))
            {
                try
                {
                    if (_connection is null) await RejoinAsync(ct);
                    if (!IsLeader) await TryLeadAsync(ct);
                    else await PingAsync(ct);
                }
                catch (Exception ex) when (ex is not OperationCanceledException || !ct.IsCancellationRequested)
                {
                    await LoseSessionAsync(ex);
                }
            }
        }
        catch (OperationCanceledException) { }
    }

    private async Task PingAsync(CancellationToken ct)
    {
        await _gate.WaitAsync(ct);
        try
        {
            await using var command = new NpgsqlCommand("SELECT 1", _connection);
            await command.ExecuteScalarAsync(ct);
        }
        finally { _gate.Release(); }
    }

    private async Task LoseSessionAsync(Exception ex)
    {
        if (_connection is null)
        {
            // Still away: said once when the session was lost. A name held by another session is said every time.
            if (ex is IdentityTakenException) LogIdentityTaken(logger, ex.Message);
            else LogRejoinFailed(logger, ex.Message);
            return;
        }
        await _gate.WaitAsync();
        try
        {
            if (IsLeader) _leading = new(TaskCreationOptions.RunContinuationsAsynchronously);
            if (_connection is not null)
            {
                await _connection.DisposeAsync();
                // The pooled connections of the index went with this one if the database restarted: closed now, so
                // that requests open new ones once it is back instead of failing once on each dead one.
                NpgsqlConnection.ClearAllPools();
            }
            _connection = null;
            // Under the gate: a rejoin, which takes it too, cannot come before this.
            Raise(SessionLost, nameof(SessionLost));
        }
        finally { _gate.Release(); }
        LogSessionLost(logger, ex.Message);
    }

    private async Task RejoinAsync(CancellationToken ct)
    {
        await _gate.WaitAsync(ct);
        try
        {
            if (_connection is not null) return;
            await ConnectAsync(ct);
        }
        finally { _gate.Release(); }
        LogRejoined(logger, identity.Identifier);
        Raise(Rejoined, nameof(Rejoined));
    }

    /// <summary>
    /// A handler that throws must not stop this loop (an exception out of LoseSessionAsync ended it for good), nor be
    /// taken for a lost session (one out of a rejoin would drop the session just taken back).
    /// </summary>
    private void Raise(Action? handlers, string name)
    {
        if (handlers is null) return;
        foreach (var handler in handlers.GetInvocationList().Cast<Action>())
        {
            try { handler(); }
#pragma warning disable CA1031 // an observer's failure is its own; the membership goes on
            catch (Exception ex) { LogHandlerFailed(logger, name, ex.Message); }
#pragma warning restore CA1031
        }
    }

    [LoggerMessage(LogLevel.Error, "A handler of {Event} failed: {Reason}")]
    private static partial void LogHandlerFailed(ILogger logger, string @event, string reason);

    /// <summary>"OWMIGRA": held while a server brings the shared index to its schema.</summary>
    private const long MigrationKey = 0x4F574D49475241;

    /// <summary>
    /// Runs <paramref name="work"/> (the schema's migrations) while no other server sharing the index runs its own:
    /// servers started together on an empty database would otherwise each create the same tables.
    /// </summary>
    public async Task OneAtATimeAsync(Func<Task> work, CancellationToken ct)
    {
        if (!IsShared || _connection is null)
        {
            await work();
            return;
        }
        await _gate.WaitAsync(ct);
        try
        {
            // Tried rather than waited for: a wait is one statement, which this session's 5 s command timeout ended
            // while another server's migrations ran longer (three servers started together on a loaded machine: the
            // later ones exited at start-up).
            while (!await TryLockAsync(_connection, MigrationKey, ct))
                await Task.Delay(TimeSpan.FromMilliseconds(250), time, ct);
            try { await work(); }
            finally { await UnlockAsync(_connection, MigrationKey); }
        }
        finally { _gate.Release(); }
    }

    /// <summary>
    /// The other servers running on this index now, by identifier: those whose identity lock is held. A server that is
    /// gone holds nothing: its leftovers (partial files, its durability watermark) are then this server's to clear.
    /// </summary>
    public async Task<IReadOnlySet<string>> OthersRunningAsync(IEnumerable<string> identifiers, CancellationToken ct)
    {
        var running = new HashSet<string>(StringComparer.Ordinal);
        if (!IsShared) return running;
        await _gate.WaitAsync(ct);
        try
        {
            // Without its session this server cannot tell: taking every other server for gone would clear their files
            // or take their jobs over while they run.
            if (_connection is null) throw new InvalidOperationException("The index session is lost: cannot tell which servers are running");
            // Read from pg_locks rather than by trying each lock: a try would hold a running peer's name for an instant,
            // and a server starting at that instant would be refused. A bigint advisory key shows as classid (its high
            // 32 bits), objid (its low 32 bits) and objsubid 1, in the database it was taken in.
            await using var command = new NpgsqlCommand(
                "SELECT (classid::bigint << 32) | objid::bigint FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1 " +
                "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())", _connection);
            var held = new HashSet<long>();
            await using (var reader = await command.ExecuteReaderAsync(ct))
                while (await reader.ReadAsync(ct)) held.Add(reader.GetInt64(0));
            foreach (var other in identifiers.Where(i => i != identity.Identifier).Distinct(StringComparer.Ordinal))
                if (held.Contains(new ServerIdentity(other).LockKey)) running.Add(other);
        }
        finally { _gate.Release(); }
        return running;
    }

    /// <summary>
    /// Runs <paramref name="work"/> holding another server's identity lock, so that it cannot start meanwhile (its
    /// start waits a few seconds for the lock). False, without running it, when that server runs.
    /// </summary>
    public async Task<bool> WhileHoldingAsync(long key, Func<Task<bool>> work, CancellationToken ct)
    {
        if (!IsShared) return await work();
        await _gate.WaitAsync(ct);
        try
        {
            if (_connection is null || !await TryLockAsync(_connection, key, ct)) return false;
            try { return await work(); }
            finally { await UnlockAsync(_connection, key); }
        }
        finally { _gate.Release(); }
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        if (_loop is not null) await _loop;
        if (_connection is not null) await _connection.DisposeAsync();
        _stopping.Dispose();
        _gate.Dispose();
    }

    [LoggerMessage(LogLevel.Information, "Index on PostgreSQL: database {Database} on {Host}, joined as {Server}")]
    private static partial void LogJoined(ILogger logger, string server, string? database, string? host);

    [LoggerMessage(LogLevel.Information, "{Server} leads: stability, routing, Lua and worklist follow-up run here")]
    private static partial void LogLeading(ILogger logger, string server);

    [LoggerMessage(LogLevel.Warning, "Lost the index session ({Reason}): not leading until it is back")]
    private static partial void LogSessionLost(ILogger logger, string reason);

    [LoggerMessage(LogLevel.Debug, "The index session is not back yet: {Reason}")]
    private static partial void LogRejoinFailed(ILogger logger, string reason);

    [LoggerMessage(LogLevel.Information, "{Server} has its index session back")]
    private static partial void LogRejoined(ILogger logger, string server);

    [LoggerMessage(LogLevel.Error, "Cannot take this server's name back: {Reason} (after a network cut, PostgreSQL may hold this " +
        "server's own session from before it for about 10 s more; if this goes on, another server runs under this name: stop one of them)")]
    private static partial void LogIdentityTaken(ILogger logger, string reason);
}

/// <summary>Another running server holds this server's identifier (its identity lock).</summary>
public sealed class IdentityTakenException(string message) : InvalidOperationException(message);
