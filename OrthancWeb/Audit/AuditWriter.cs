using Microsoft.EntityFrameworkCore;
using OrthancWeb.Hosting;
using System.Threading.Channels;
using Microsoft.Extensions.Options;

namespace OrthancWeb.Audit;

/// <summary>
/// The trail's one writer: brings audit.db to its schema at start, then drains the queue in batches (group commit: one
/// transaction, one fsync for up to <see cref="BatchSize"/> entries), sealing each entry into the hash chain, and hands
/// the written entries to the syslog forwarder. Prunes past the retention on the server's clock. Registered first, so
/// it stops last: every other part's events of the shutdown are still written.
/// </summary>
/// <remarks>
/// A batch lingers up to <see cref="Linger"/> after its first event before it is written: under a modality's stream of
/// C-STOREs the writer then commits a few times a second instead of once per instance, and its fsyncs stop competing
/// with the ingest's own (waking per event cost about 20 % of storescu ingest). Shutdown and <see cref="FlushAsync"/>
/// cut the wait short.
/// </remarks>
public sealed partial class AuditWriter(
    AuditTrail trail,
    IDbContextFactory<AuditDbContext> contexts,
    IOptions<AuditOptions> options,
    TimeProvider time,
    ILogger<AuditWriter> log,
    SyslogForwarder? syslog = null) : IHostedService, IAsyncDisposable
{
    public const int BatchSize = 2048;
    public static readonly TimeSpan Linger = TimeSpan.FromMilliseconds(250);
    private static readonly TimeSpan RetentionInterval = TimeSpan.FromHours(1);

    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly Lock _headLock = new();
    private TaskCompletionSource _batchDone = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private CancellationTokenSource? _linger;
    private long _flushTarget;
    private long _taken;
    private Task? _loop;
    private ITimer? _retentionTimer;
    private long _headId;
    private string _headHash = AuditChain.Genesis;
    private long _written;
    private long _commits;
    private int _started;

    /// <summary>The last entry written (its id and hash): what verification expects the stored chain to reach.</summary>
    public (long Id, string Hash) Head
    {
        get
        {
            lock (_headLock) return (_headId, _headHash);
        }
    }

    /// <summary>The pruning the retention timer started last (tests await it).</summary>
    public Task LastPruning { get; private set; } = Task.CompletedTask;

    /// <summary>Entries written since the start.</summary>
    public long Written => Interlocked.Read(ref _written);

    /// <summary>Batches committed since the start.</summary>
    public long Commits => Interlocked.Read(ref _commits);

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _started, 1) == 1) return;
        await using (var db = await contexts.CreateDbContextAsync(cancellationToken))
        {
            await db.Database.MigrateIfBehindAsync(cancellationToken);
            if (db.Database.IsSqlite())
            {
                // WAL: the browse page's readers never block the writer. synchronous stays FULL: a batch is fsynced
                // when it commits (one fsync per batch, not per event), so a power cut loses no committed entry.
                await db.Database.ExecuteSqlRawAsync("PRAGMA journal_mode=WAL;", cancellationToken);
            }
            var last = await db.Entries.AsNoTracking().OrderByDescending(e => e.Id).Select(e => new { e.Id, e.Hash }).FirstOrDefaultAsync(cancellationToken);
            var anchor = await db.Anchors.AsNoTracking().OrderBy(a => a.Id).FirstOrDefaultAsync(cancellationToken);
            lock (_headLock)
            {
                if (last is not null) (_headId, _headHash) = (last.Id, last.Hash);
                else if (anchor is not null) (_headId, _headHash) = (anchor.LastPrunedId, anchor.LastPrunedHash);
            }
        }
        _loop = Task.Run(DrainAsync, CancellationToken.None);
        if (options.Value.AuditRetentionDays > 0)
        {
            _retentionTimer = time.CreateTimer(_ => LastPruning = PruneSafelyAsync(), null, TimeSpan.Zero, RetentionInterval);
        }
        if (syslog is not null) await syslog.StartAsync(cancellationToken);
    }

    /// <summary>Shutdown: no more events are accepted, what is queued is written, then the forwarder sends what it has.</summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        trail.Complete();
        WantFlush(long.MaxValue);
        if (_retentionTimer is not null) await _retentionTimer.DisposeAsync();
        if (_loop is not null) await _loop.WaitAsync(cancellationToken);
        if (syslog is not null) await syslog.StopAsync(cancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        if (Volatile.Read(ref _started) == 1) await StopAsync(CancellationToken.None);
        _gate.Dispose();
    }

    /// <summary>Waits until every event queued before this call is written (the verify button, tests).</summary>
    public async Task FlushAsync(CancellationToken ct = default)
    {
        var target = trail.Queued;
        while (true)
        {
            var batchDone = Volatile.Read(ref _batchDone).Task;
            if (Interlocked.Read(ref _taken) >= target || _loop is null || _loop.IsCompleted) return;
            WantFlush(target);
            await batchDone.WaitAsync(ct);
        }
    }

    private async Task DrainAsync()
    {
        var reader = trail.Reader;
        var batch = new List<AuditEntry>(BatchSize);
        while (await reader.WaitToReadAsync())
        {
            await LingerAsync(reader);
            await _gate.WaitAsync();
            try
            {
                var (lost, since) = trail.TakeDropped();
                if (lost > 0)
                {
                    batch.Add(new AuditEntry
                    {
                        Time = AuditChain.Normalize(time.GetUtcNow()),
                        Action = AuditActions.AuditGap,
                        Outcome = AuditOutcome.MajorFailure,
                        Source = AuditSources.Server,
                        Details = $"{lost} event(s) could not be recorded since {since:O}: the audit queue was full",
                    });
                }
                var taken = 0;
                while (batch.Count < BatchSize && reader.TryRead(out var entry)) { batch.Add(entry); taken++; }
                await WriteAsync(batch);
                Interlocked.Add(ref _taken, taken);
            }
            finally
            {
                batch.Clear();
                _gate.Release();
                Interlocked.Exchange(ref _batchDone, new(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
            }
        }
        _batchDone.TrySetResult();
    }

    /// <summary>
    /// Gives the batch time to fill (see remarks): returns after <see cref="Linger"/>, as soon as a full batch is queued,
    /// or when a flush or the shutdown wants the queue written now.
    /// </summary>
    private async Task LingerAsync(ChannelReader<AuditEntry> reader)
    {
        if (reader.Count >= BatchSize || FlushWanted) return;
        using var linger = new CancellationTokenSource();
        Volatile.Write(ref _linger, linger);
        // Checked again once the source is published: a flush that came before sees no source to cancel, so it is seen here.
        if (FlushWanted) return;
        try { await Task.Delay(Linger, time, linger.Token); }
        catch (OperationCanceledException) { }
        finally { Volatile.Write(ref _linger, null); }
    }

    private bool FlushWanted => Interlocked.Read(ref _flushTarget) > Interlocked.Read(ref _taken);

    /// <summary>Asks for everything queued up to <paramref name="target"/> to be written without lingering.</summary>
    private void WantFlush(long target)
    {
        long seen;
        while ((seen = Interlocked.Read(ref _flushTarget)) < target && Interlocked.CompareExchange(ref _flushTarget, target, seen) != seen) { }
        try { Volatile.Read(ref _linger)?.Cancel(); }
        catch (ObjectDisposedException) { } // that wait has just ended by itself
    }

    /// <summary>Seals and writes one batch in one transaction; retried, because a disk that hiccups must not lose events.</summary>
    private async Task WriteAsync(List<AuditEntry> batch)
    {
        for (var attempt = 1; ; attempt++)
        {
            long id;
            string hash;
            lock (_headLock) (id, hash) = (_headId, _headHash);
            foreach (var e in batch)
            {
                AuditChain.Seal(e, id, hash);
                (id, hash) = (e.Id, e.Hash);
            }
            try
            {
                await using var db = await contexts.CreateDbContextAsync();
                await InsertAsync(db, batch);
                lock (_headLock) (_headId, _headHash) = (id, hash);
                Interlocked.Add(ref _written, batch.Count);
                Interlocked.Increment(ref _commits);
                syslog?.Enqueue(batch);
                return;
            }
#pragma warning disable CA1031 // the writer must go on: the failure is logged and the batch tried again
            catch (Exception ex)
#pragma warning restore CA1031
            {
                if (attempt >= 5)
                {
                    // Not silent: logged, and counted into the next gap entry.
                    LogBatchLost(log, ex, batch.Count, batch[0].Id);
                    trail.CountLost(batch.Count, batch[0].Time);
                    return;
                }
                LogBatchRetry(log, ex, batch.Count, attempt);
                await Task.Delay(TimeSpan.FromMilliseconds(200 * attempt), time);
            }
        }
    }

    /// <summary>
    /// One transaction, one prepared INSERT run per entry: EF Core's change tracking cost more than the rest of the
    /// batch together. Plain SQL with named parameters, on the context's own connection, as any provider takes it.
    /// </summary>
    private static async Task InsertAsync(AuditDbContext db, List<AuditEntry> batch)
    {
        await db.Database.OpenConnectionAsync();
        try
        {
            var connection = db.Database.GetDbConnection();
            await using var tx = await connection.BeginTransactionAsync();
            await using var command = connection.CreateCommand();
            command.Transaction = tx;
            command.CommandText = """
                INSERT INTO "Entries" ("Id", "Time", "Action", "Outcome", "User", "Address", "Source", "PatientId", "ResourceLevel",
                    "ResourceId", "StudyInstanceUid", "Details", "PreviousHash", "Hash")
                VALUES (@id, @time, @action, @outcome, @user, @address, @source, @patient, @level, @resource, @study, @details, @previous, @hash)
                """;
            var p = new System.Data.Common.DbParameter[14];
            string[] names = ["@id", "@time", "@action", "@outcome", "@user", "@address", "@source", "@patient", "@level", "@resource", "@study", "@details", "@previous", "@hash"];
            for (var i = 0; i < names.Length; i++)
            {
                p[i] = command.CreateParameter();
                p[i].ParameterName = names[i];
                command.Parameters.Add(p[i]);
            }
            await command.PrepareAsync();
            foreach (var e in batch)
            {
                p[0].Value = e.Id;
                // The text EF Core's SQLite provider writes for a DateTime, so that its queries compare like with like.
                p[1].Value = e.Time.ToString("yyyy-MM-dd HH:mm:ss.FFFFFFF", System.Globalization.CultureInfo.InvariantCulture);
                p[2].Value = e.Action;
                p[3].Value = (int)e.Outcome;
                p[4].Value = (object?)e.User ?? DBNull.Value;
                p[5].Value = (object?)e.Address ?? DBNull.Value;
                p[6].Value = e.Source;
                p[7].Value = (object?)e.PatientId ?? DBNull.Value;
                p[8].Value = (object?)e.ResourceLevel ?? DBNull.Value;
                p[9].Value = (object?)e.ResourceId ?? DBNull.Value;
                p[10].Value = (object?)e.StudyInstanceUid ?? DBNull.Value;
                p[11].Value = (object?)e.Details ?? DBNull.Value;
                p[12].Value = e.PreviousHash;
                p[13].Value = e.Hash;
                await command.ExecuteNonQueryAsync();
            }
            await tx.CommitAsync();
        }
        finally { await db.Database.CloseConnectionAsync(); }
    }

    private async Task PruneSafelyAsync()
    {
        try { await PruneAsync(); }
#pragma warning disable CA1031 // a timer callback: logged, tried again at the next tick
        catch (Exception ex) { LogPruneFailed(log, ex); }
#pragma warning restore CA1031
    }

    /// <summary>
    /// Removes the entries older than the retention (a prefix of the chain: entries are pruned up to the last one
    /// older than the cut-off, in sequence order), leaving their last id and hash as the anchor the first kept entry
    /// links to, and records the pruning in the chain. Returns how many were removed.
    /// </summary>
    public async Task<long> PruneAsync(CancellationToken ct = default)
    {
        var days = options.Value.AuditRetentionDays;
        if (days <= 0) return 0;
        var cutoff = AuditChain.Normalize(time.GetUtcNow() - TimeSpan.FromDays(days));
        long removed;
        long lastId;
        string lastHash;
        await _gate.WaitAsync(ct);
        try
        {
            await using var db = await contexts.CreateDbContextAsync(ct);
            var last = await db.Entries.AsNoTracking().Where(e => e.Time < cutoff).OrderByDescending(e => e.Id)
                .Select(e => new { e.Id, e.Hash }).FirstOrDefaultAsync(ct);
            if (last is null) return 0;
            await using var tx = await db.Database.BeginTransactionAsync(ct);
            removed = await db.Entries.Where(e => e.Id <= last.Id).ExecuteDeleteAsync(ct);
            var anchor = await db.Anchors.OrderBy(a => a.Id).FirstOrDefaultAsync(ct);
            if (anchor is null) db.Anchors.Add(anchor = new AuditAnchor());
            anchor.LastPrunedId = last.Id;
            anchor.LastPrunedHash = last.Hash;
            anchor.PrunedAt = AuditChain.Normalize(time.GetUtcNow());
            anchor.PrunedCount += removed;
            await db.SaveChangesAsync(ct);
            await tx.CommitAsync(ct);
            (lastId, lastHash) = (last.Id, last.Hash);
        }
        finally { _gate.Release(); }
        trail.Record(new AuditEvent(AuditActions.AuditPruned, AuditOutcome.Success)
        {
            Source = AuditSources.Server,
            Details = $"Removed {removed} entries older than {cutoff:O} ({days} days); {AnchorToken(lastId, lastHash)}",
        });
        LogPruned(log, removed, lastId);
        return removed;
    }

    /// <summary>How a pruning entry names the anchor it left, so verification can tell a real anchor from a forged one.</summary>
    internal static string AnchorToken(long id, string hash) => $"anchor {id}:{hash}";

    [LoggerMessage(LogLevel.Warning, "Audit: writing {Count} entries failed (attempt {Attempt}); trying again")]
    private static partial void LogBatchRetry(ILogger logger, Exception exception, int count, int attempt);

    [LoggerMessage(LogLevel.Critical, "Audit: {Count} entries from {FirstId} could not be written and are lost")]
    private static partial void LogBatchLost(ILogger logger, Exception exception, int count, long firstId);

    [LoggerMessage(LogLevel.Error, "Audit: pruning past the retention failed")]
    private static partial void LogPruneFailed(ILogger logger, Exception exception);

    [LoggerMessage(LogLevel.Information, "Audit: pruned {Count} entries up to {LastId} (retention)")]
    private static partial void LogPruned(ILogger logger, long count, long lastId);
}
