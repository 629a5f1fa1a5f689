using Microsoft.EntityFrameworkCore;
using OrthancWeb.Dicom.Data;
using OrthancWeb.Index;

namespace OrthancWeb.Worklists;

/// <summary>
/// Follows the change log for new instances, off the ingest path (the instance is stored and answered before this looks
/// at it), and hands their studies' accession numbers and UIDs to <see cref="WorklistStore.OnArrivalAsync"/>. Its place
/// in the log is kept in the database; with no item waiting it only keeps up with the log, reading no tags.
/// </summary>
public sealed partial class WorklistArrivals(
    IndexQueries queries, WorklistStore store, IDbContextFactory<IndexDbContext> contexts, ClusterMembership membership, TimeProvider time, ILogger<WorklistArrivals> logger) : BackgroundService, IChangeLogFollower
{
    /// <summary>Its place while it follows the log (DELETE /changes keeps what lies past it), null while it does not.</summary>
    public long? Position => Interlocked.Read(ref _position) is var p and >= 0 ? p : null;

    private long _position = -1;

    /// <summary>How long it rests once it has caught up with the change log.</summary>
    private static readonly TimeSpan Rest = TimeSpan.FromMilliseconds(500);

    private readonly GlobalPropertyStore<long> _cursor = new(contexts, "Worklists:");
    private const string CursorKey = "LastChange";

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        long? cursor = null;
        while (!stoppingToken.IsCancellationRequested)
        {
            var done = true;
            try
            {
                if (!membership.IsLeader)
                {
                    // Servers sharing an index: the leader follows arrivals; this one takes over from its saved place.
                    cursor = null;
                    Interlocked.Exchange(ref _position, -1);
                    await membership.WhenLeaderAsync(stoppingToken);
                    _cursor.Forget();
                }
                cursor ??= await _cursor.SavedOrEndAsync(CursorKey, queries, stoppingToken);
                Interlocked.Exchange(ref _position, cursor.Value);
                var (changes, last, complete) = await queries.ChangesAsync(cursor.Value, 200, stoppingToken);
                // Every new image counts, not only a series' first: images may join a series that began before its item
                // was scheduled (a late RIS entry, a procedure resumed). The study's tags carry the keys.
                var arrived = changes.Where(c => c.ChangeType == "NewInstance").Select(c => c.PublicId).ToList();
                if (arrived.Count > 0 && await store.AnyScheduledAsync(stoppingToken))
                {
                    var tags = await queries.TagsWithAncestorsAsync(arrived, stoppingToken);
                    var accessions = tags.Values.Select(t => t.GetValueOrDefault(DicomTags.AccessionNumber)?.Trim()).OfType<string>().Where(a => a.Length > 0).ToHashSet();
                    var studies = tags.Values.Select(t => t.GetValueOrDefault(DicomTags.StudyInstanceUID)?.Trim()).OfType<string>().Where(u => u.Length > 0).ToHashSet();
                    var changed = await store.OnArrivalAsync(accessions, studies, stoppingToken);
                    if (changed > 0) LogPerformed(logger, changed);
                }
                if (last != cursor) { cursor = last; await _cursor.SaveAsync(CursorKey, last, stoppingToken); }
                Interlocked.Exchange(ref _position, cursor.Value);
                done = complete;
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested) { return; }
            catch (Exception ex) { LogPaused(logger, ex.Message); }
            if (done)
            {
                try { await Task.Delay(Rest, time, stoppingToken); }
                catch (OperationCanceledException) { return; }
            }
        }
    }

    [LoggerMessage(LogLevel.Information, "{Count} worklist item(s) performed: their images arrived")]
    private static partial void LogPerformed(ILogger logger, int count);

    [LoggerMessage(LogLevel.Warning, "Worklist arrivals paused after an error, retrying shortly: {Reason}")]
    private static partial void LogPaused(ILogger logger, string reason);

    public override void Dispose()
    {
        _cursor.Dispose();
        base.Dispose();
    }
}
