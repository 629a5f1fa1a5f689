using System.Threading.Channels;
using OrthancWeb.Dicom.IO;
using OrthancWeb.Storage;

namespace OrthancWeb.Index;

/// <summary>An instance waiting to be indexed, and its caller waiting for the answer.</summary>
/// <param name="Checksum">The checksum of a file still being checksummed (and perhaps written), else null.</param>
/// <param name="Json">The instance's <see cref="InstanceJson"/> row, built on the arriving request's thread, not the writer's.</param>
internal sealed record PendingInstance(DicomFile Header, InstanceIdentifiers Ids, StoredFile File, Task<string>? Checksum, InstanceArrival Arrival, TaskCompletionSource<StoreOutcome> Done, byte[] Json);

/// <summary>
/// A batch that failed once its rows were or may have been committed: nothing is acknowledged, its files stay (rows
/// may name them) and it is not run again (it would find its own rows and delete their files as duplicates).
/// </summary>
public abstract class MaybeIndexedException(string message, Exception inner) : Exception(message, inner);

/// <summary>
/// The index database went away while a batch's COMMIT was on its way: it may or may not have been committed. Nothing is
/// acknowledged, and the batch's files are kept (a row may point at them; if none does, the start-up check clears them
/// as orphans).
/// </summary>
public sealed class CommitOutcomeUnknownException(Exception inner)
    : MaybeIndexedException("The connection to the index database broke during a commit: the instance was not acknowledged", inner);

/// <summary>
/// The batch was committed to the index but something after the commit failed (the flush that makes it durable, or
/// handing out its outcomes): nothing is acknowledged, and the files are kept, since committed rows name them; the
/// sender's next try finds the instance stored.
/// </summary>
public sealed class CommittedNotAcknowledgedException(Exception inner)
    : MaybeIndexedException("The instance was indexed but could not be made durable: it was not acknowledged; send it again", inner);

/// <summary>
/// Group commit of arriving instances, in two stages. The index stage commits the instances that arrived together in
/// one transaction (see <see cref="InstanceIndexer"/>); the durability stage makes them durable with one flush, and
/// only then answers their callers. While one batch is being flushed, the next one commits.
/// </summary>
public sealed partial class CommitPipeline(
    IndexTransactions transactions,
    InstanceIndexer indexer,
    StorageArea storage,
    DurabilityWatermark watermark,
    IndexMaintenance maintenance,
    ILogger<CommitPipeline> logger) : IDisposable
{
    /// <summary>Most instances committed in one transaction: enough to amortise the flush, few enough to answer fast.</summary>
    private const int MaxBatch = 64;

    private readonly Channel<PendingInstance> _queue = Channel.CreateUnbounded<PendingInstance>(new() { SingleReader = true });
    private readonly Channel<CommittedBatch> _syncQueue = Channel.CreateUnbounded<CommittedBatch>(new() { SingleReader = true });
    private Task? _writeLoop, _syncLoop;
    private readonly Lock _loopGate = new();

    /// <summary>Held by whoever is flushing: the durability stage, or the index stage flushing its own batch inline.</summary>
    private readonly SemaphoreSlim _syncGate = new(1, 1);

    private sealed record CommittedBatch(List<(PendingInstance Instance, StoreOutcome Outcome)> Items, long MaxSeq);

    public void Dispose() => _syncGate.Dispose();

    /// <summary>Keeps flushes from starting until <see cref="ReleaseFlushes"/>: what commits meanwhile stays unanswered (for tests).</summary>
    internal Task HoldFlushesAsync() => _syncGate.WaitAsync();

    internal void ReleaseFlushes() => _syncGate.Release();

    /// <summary>Indexes one stored instance; answered once its commit is durable.</summary>
    /// <param name="checksum">
    /// For an uncompressed file whose checksum is still being computed (and whose write may still be on its way): the
    /// index waits for it only when it writes the attachment row, so both run alongside the index work.
    /// </param>
    public Task<StoreOutcome> AddAsync(DicomFile header, InstanceIdentifiers ids, StoredFile file, InstanceArrival arrival, Task<string>? checksum)
    {
        var pending = new PendingInstance(header, ids, file, checksum, arrival, new TaskCompletionSource<StoreOutcome>(TaskCreationOptions.RunContinuationsAsynchronously),
            InstanceMetadataJson.Encode(header));
        lock (_loopGate)
        {
            _writeLoop ??= Task.Run(WriteLoopAsync);
            _syncLoop ??= Task.Run(SyncLoopAsync);
        }
        // The writer idle and nothing queued (one sender, one instance at a time): commit on the caller's thread.
        // Handing over to the write loop costs a thread-pool wake-up, and on a busy 2-core box the woken worker may
        // first run whatever was queued before (a hash, a file creation): 0.3-0.7 ms per instance, measured.
        if (!_queue.Reader.TryPeek(out _) && transactions.TryEnter())
            return CommitInlineAsync(pending);
        _queue.Writer.TryWrite(pending);
        return pending.Done.Task;
    }

    private async Task<StoreOutcome> CommitInlineAsync(PendingInstance pending)
    {
        try
        {
            await CommitAndHandAsync([pending]);
        }
        finally { transactions.Exit(); }
        return await pending.Done.Task;
    }

    /// <summary>The index stage: whatever queued while the writer was busy becomes the next batch.</summary>
    private async Task WriteLoopAsync()
    {
        var batch = new List<PendingInstance>(MaxBatch);
        while (await _queue.Reader.WaitToReadAsync())
        {
            await transactions.EnterAsync(CancellationToken.None);
            try
            {
                batch.Clear();
                while (batch.Count < MaxBatch && _queue.Reader.TryRead(out var p)) batch.Add(p);
                if (batch.Count > 0) await CommitAndHandAsync(batch);
            }
            finally { transactions.Exit(); }
        }
    }

    /// <summary>Commits a batch and hands its outcomes on; the caller is the writer.</summary>
    private async Task CommitAndHandAsync(List<PendingInstance> batch)
    {
        try
        {
            await CommitRetryingConflictsAsync(batch);
        }
        catch (Exception ex) when (batch.Count > 1 && !IndexDatabase.IsUnavailable(ex) && ex is not MaybeIndexedException)
        {
            // One bad instance must not fail the others: retry them one by one.
            foreach (var p in batch)
            {
                try { await CommitRetryingConflictsAsync([p]); }
                catch (Exception one) { p.Done.TrySetException(one); }
            }
        }
        catch (Exception ex)
        {
            // The database unavailable fails the whole batch (one by one would fail each again, or for a commit whose
            // outcome is unknown, find its rows and delete their files).
            foreach (var p in batch) p.Done.TrySetException(ex);
        }
    }

    /// <summary>Most attempts at a batch that keeps losing races with other servers of the same index.</summary>
    private const int ConflictAttempts = 5;

    /// <summary>
    /// Another server of the same PostgreSQL index may create the same patient, study, series or instance at the same
    /// moment: the database's unique keys let one of them in, and the other's transaction fails. Its caches forgotten
    /// (see <see cref="InstanceIndexer"/>), the batch is run again and finds what the winner wrote (an instance stored
    /// twice is then AlreadyStored), so a sender is never failed for a race it could not see.
    /// </summary>
    private async Task CommitRetryingConflictsAsync(List<PendingInstance> batch)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await CommitAndHandOneBatchAsync(batch);
                return;
            }
            catch (Exception ex) when (attempt == 1 && ex is not MaybeIndexedException && IndexDatabase.IsUnavailable(ex))
            {
                // The connection the writer keeps from batch to batch broke (PostgreSQL restarted since the last batch):
                // the batch never reached a commit, and one more try on a new connection tells a restart that is over
                // from a database still away, instead of refusing the first instances after every restart.
                LogReconnect(logger, IndexDatabase.UnavailableCause(ex));
            }
            catch (Exception ex) when (attempt < ConflictAttempts && IndexDatabase.IsConcurrencyConflict(ex))
            {
                LogConflict(logger, batch.Count, attempt, ex.Message);
                // Two servers that deadlocked on the same rows would meet again at once: part them.
                await Task.Delay(Random.Shared.Next(1, 5 * attempt));
            }
        }
    }

    private async Task CommitAndHandOneBatchAsync(List<PendingInstance> batch)
    {
        var outcomes = new StoreOutcome[batch.Count];
        var maxSeq = await indexer.CommitAsync(batch, outcomes, CancellationToken.None);
        // Committed from here on: a failure must neither run the batch again (it would find its own rows and delete
        // their files as duplicates) nor let the callers delete the files the rows name.
        try
        {
            maintenance.NoteCommit();
            Hand(batch, outcomes, maxSeq);
        }
        catch (Exception ex) { throw new CommittedNotAcknowledgedException(ex); }
    }

    /// <summary>Refusals are answered at once; stored instances wait for the flush of the durability stage.</summary>
    private void Hand(List<PendingInstance> batch, StoreOutcome[] outcomes, long maxSeq)
    {
        var stored = new List<(PendingInstance, StoreOutcome)>();
        for (var i = 0; i < batch.Count; i++)
        {
            if (outcomes[i].Status == StoreStatus.Success) stored.Add((batch[i], outcomes[i]));
            else batch[i].Done.TrySetResult(outcomes[i]);
        }
        if (stored.Count == 0) return;
        var committed = new CommittedBatch(stored, maxSeq);
        // Nothing else to commit and no flush under way (one sender, one instance at a time): flush here rather than
        // wake the durability stage, which saves that sender a thread hand-off on every instance. Under load the
        // pipeline stays: the next batch commits while this one flushes.
        if (!_queue.Reader.TryPeek(out _) && !_syncQueue.Reader.TryPeek(out _) && _syncGate.Wait(0))
        {
            try { FlushAndAnswer([committed]); }
            finally { _syncGate.Release(); }
            return;
        }
        _syncQueue.Writer.TryWrite(committed);
    }

    /// <summary>The durability stage: one flush for every batch committed since the last one.</summary>
    private async Task SyncLoopAsync()
    {
        var ready = new List<CommittedBatch>();
        while (await _syncQueue.Reader.WaitToReadAsync())
        {
            await _syncGate.WaitAsync();
            try
            {
                ready.Clear();
                while (_syncQueue.Reader.TryRead(out var b)) ready.Add(b);
                if (ready.Count > 0) FlushAndAnswer(ready);
            }
            finally { _syncGate.Release(); }
        }
    }

    /// <summary>
    /// On Linux one syncfs covers the files, their renames and the index's write-ahead log; elsewhere every file was
    /// flushed on its own and SQLite flushes its commits. Then the watermark rises and the callers are answered.
    /// </summary>
    private void FlushAndAnswer(List<CommittedBatch> ready)
    {
        try
        {
            if (StorageArea.CanSyncFileSystem) storage.SyncFileSystems();
            var max = 0L;
            foreach (var b in ready) max = Math.Max(max, b.MaxSeq);
            watermark.Raise(max);
            foreach (var b in ready)
                foreach (var (p, outcome) in b.Items) p.Done.TrySetResult(outcome);
        }
        catch (Exception ex)
        {
            LogNotDurable(logger, ex);
            var failure = new CommittedNotAcknowledgedException(ex);
            foreach (var b in ready)
                foreach (var (p, _) in b.Items) p.Done.TrySetException(failure);
        }
    }

    [LoggerMessage(LogLevel.Debug, "Index: a batch of {Count} instance(s) lost a race with another server (attempt {Attempt}), run again: {Reason}")]
    private static partial void LogConflict(ILogger logger, int count, int attempt, string reason);

    [LoggerMessage(LogLevel.Warning, "Index: the connection to the database broke ({Reason}): the batch runs again on a new one")]
    private static partial void LogReconnect(ILogger logger, string reason);

    [LoggerMessage(LogLevel.Error, "Could not make the last instances durable")]
    private static partial void LogNotDurable(ILogger logger, Exception exception);
}
