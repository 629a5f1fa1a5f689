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
