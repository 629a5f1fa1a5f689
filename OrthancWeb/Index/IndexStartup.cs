using Microsoft.EntityFrameworkCore;
using OrthancWeb.Hosting;

namespace OrthancWeb.Index;

/// <summary>Brings the index to the current schema (EF Core migrations) and reconciles it with the storage area.</summary>
public sealed partial class IndexStartup(IDbContextFactory<IndexDbContext> contexts, ClusterMembership membership, StorageReconciliation reconciliation, ILogger<IndexStartup> logger)
{
    public async Task RunAsync(CancellationToken ct = default)
    {
        await membership.JoinAsync(ct);
        await membership.OneAtATimeAsync(async () =>
        {
            await using var db = await contexts.CreateDbContextAsync(ct);
            await RefuseUnknownMigrationsAsync(db, ct);
            await db.Database.MigrateIfBehindAsync(ct);
            if (db.Database.IsSqlite())
            {
                // WAL: readers never block the writer, and a commit is one append; synchronous stays FULL so a
                // committed instance survives a power cut, not only a crash.
                await db.Database.ExecuteSqlRawAsync("PRAGMA journal_mode=WAL;", ct);
            }
        }, ct);
        var (orphans, dangling) = await reconciliation.ReconcileAsync(ct);
        if (orphans + dangling > 0)
            LogRepaired(logger, orphans, dangling);
        else
            LogAgree(logger);
    }

    /// <summary>
    /// A downgrade: EF Core would migrate an index that a newer release has taken further as if it were current (it
    /// ignores applied migrations it does not know) and this build would then misread or damage it. Refused instead.
    /// </summary>
    private static async Task RefuseUnknownMigrationsAsync(IndexDbContext db, CancellationToken ct)
    {
        var known = db.Database.GetMigrations().ToHashSet(StringComparer.Ordinal);
        var unknown = (await db.Database.GetAppliedMigrationsAsync(ct)).Where(m => !known.Contains(m)).ToList();
        if (unknown.Count > 0)
            throw new InvalidOperationException(
                $"The index has migration(s) applied that this release does not know: {string.Join(", ", unknown)}. A newer release of " +
                "OrthancWeb made this data folder; start that release (or a later one) on it, or restore a backup made by this one. Nothing was changed.");
    }

    [LoggerMessage(LogLevel.Warning, "Start-up check: removed {Orphans} orphan file(s) and {Dangling} index row(s) without a file")]
    private static partial void LogRepaired(ILogger logger, int orphans, int dangling);

    [LoggerMessage(LogLevel.Information, "Start-up check: index and storage area agree")]
    private static partial void LogAgree(ILogger logger);
}

/// <summary>
/// Turns series, studies and patients stable once nothing arrived for StableAge seconds; checkpoints the index when idle.
/// Among servers sharing an index only the leader marks (each Stable* change once for the archive).
/// </summary>
public sealed partial class StabilityMonitor(IndexMaintenance maintenance, ClusterMembership membership, TimeProvider time, ILogger<StabilityMonitor> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1), time);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                if (membership.IsLeader) await maintenance.MarkStableAsync(stoppingToken);
                await maintenance.CheckpointIfIdleAsync(stoppingToken);
            }
            catch (OperationCanceledException) { return; }
            catch (Exception ex) { LogMaintenanceFailed(logger, ex); }
        }
    }

    [LoggerMessage(LogLevel.Error, "Could not update stable resources")]
    private static partial void LogMaintenanceFailed(ILogger logger, Exception exception);
}

/// <summary>
/// The leader's orphan sweep on a shared index and storage folder, every OrphanSweepSeconds (see
/// <see cref="StorageReconciliation.SweepOrphansAsync"/>). A server alone on its storage has none to do: its start-up
/// check is the only moment a crash can have left an orphan behind it.
/// </summary>
public sealed partial class OrphanSweeper(StorageReconciliation reconciliation, ClusterMembership membership,
    Microsoft.Extensions.Options.IOptions<Storage.StorageOptions> options, TimeProvider time, ILogger<OrphanSweeper> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!membership.IsShared || options.Value.OrphanSweepSeconds <= 0) return;
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(options.Value.OrphanSweepSeconds), time);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            if (!membership.IsLeader) continue;
            try
            {
                var removed = await reconciliation.SweepOrphansAsync(stoppingToken);
                if (removed > 0) LogSwept(logger, removed);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested) { return; }
            catch (Exception ex) { LogSweepFailed(logger, ex); }
        }
    }

    [LoggerMessage(LogLevel.Warning, "Orphan sweep: removed {Count} file(s) left by servers that stopped between storing and indexing")]
    private static partial void LogSwept(ILogger logger, int count);

    [LoggerMessage(LogLevel.Error, "Orphan sweep failed; it runs again at its next interval")]
    private static partial void LogSweepFailed(ILogger logger, Exception exception);
}
