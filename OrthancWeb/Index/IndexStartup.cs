using Microsoft.EntityFrameworkCore;

namespace OrthancWeb.Index;

/// <summary>Brings the index to the current schema (EF Core migrations) and reconciles it with the storage area.</summary>
public sealed class IndexStartup(IDbContextFactory<IndexDbContext> contexts, StorageReconciliation reconciliation, ILogger<IndexStartup> logger)
{
    public async Task RunAsync(CancellationToken ct = default)
    {
        await using (var db = await contexts.CreateDbContextAsync(ct))
        {
            await db.Database.MigrateAsync(ct);
            if (db.Database.IsSqlite())
            {
                // WAL: readers never block the writer, and a commit is one append; synchronous stays FULL so a
                // committed instance survives a power cut, not only a crash.
                await db.Database.ExecuteSqlRawAsync("PRAGMA journal_mode=WAL;", ct);
            }
        }
        var (orphans, dangling) = await reconciliation.ReconcileAsync(ct);
        if (orphans + dangling > 0)
            logger.LogWarning("Start-up check: removed {Orphans} orphan file(s) and {Dangling} index row(s) without a file", orphans, dangling);
        else
            logger.LogInformation("Start-up check: index and storage area agree");
    }
}

/// <summary>Turns series, studies and patients stable once nothing arrived for StableAge seconds; checkpoints the index when idle.</summary>
public sealed class StabilityMonitor(IndexMaintenance maintenance, TimeProvider time, ILogger<StabilityMonitor> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1), time);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                await maintenance.MarkStableAsync(stoppingToken);
                await maintenance.CheckpointIfIdleAsync(stoppingToken);
            }
            catch (OperationCanceledException) { return; }
            catch (Exception ex) { logger.LogError(ex, "Could not update stable resources"); }
        }
    }
}
