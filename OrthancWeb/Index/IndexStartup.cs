using Microsoft.EntityFrameworkCore;

namespace OrthancWeb.Index;

/// <summary>Brings the index to the current schema (EF Core migrations) and reconciles it with the storage area.</summary>
public sealed class IndexStartup(IDbContextFactory<IndexDbContext> contexts, IndexWriter writer, ILogger<IndexStartup> logger)
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
        var (orphans, dangling) = await writer.ReconcileAsync(ct);
        if (orphans + dangling > 0)
            logger.LogWarning("Start-up check: removed {Orphans} orphan file(s) and {Dangling} index row(s) without a file", orphans, dangling);
        else
            logger.LogInformation("Start-up check: index and storage area agree");
    }
}

/// <summary>Turns series, studies and patients stable once nothing arrived for StableAge seconds; checkpoints the index when idle.</summary>
public sealed class StabilityMonitor(IndexWriter writer, ILogger<StabilityMonitor> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                await writer.MarkStableAsync(stoppingToken);
                await writer.CheckpointIfIdleAsync(stoppingToken);
            }
            catch (OperationCanceledException) { return; }
            catch (Exception ex) { logger.LogError(ex, "Could not update stable resources"); }
        }
    }
}
