using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using OrthancWeb.Index;
using OrthancWeb.Storage;

namespace OrthancWeb.Monitoring;

/// <summary>
/// Readiness: the index answers a query (SQLite file or PostgreSQL server reachable), and on a shared index this server
/// holds its identity lock (after PostgreSQL restarted, it is ready again once it has its session back).
/// </summary>
public sealed class IndexHealthCheck(IDbContextFactory<IndexDbContext> contexts, ClusterMembership membership) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (!membership.HasSession) return HealthCheckResult.Unhealthy("the index session is lost (PostgreSQL restarting or out of reach): rejoining");
        try
        {
            await using var db = await contexts.CreateDbContextAsync(cancellationToken);
            await db.Resources.AnyAsync(cancellationToken);
            return HealthCheckResult.Healthy("the index answers");
        }
        catch (Exception ex) when (ex is DbUpdateException or InvalidOperationException or System.Data.Common.DbException or TimeoutException)
        {
            return HealthCheckResult.Unhealthy("the index does not answer: " + ex.Message);
        }
    }
}

/// <summary>
/// Readiness: a file can be written in the storage area, and its disk keeps more free space than
/// MinimumFreeDiskSpace (below it every store is refused, so the server cannot do its first job).
/// </summary>
public sealed class StorageHealthCheck(StorageArea storage, IOptionsMonitor<StorageOptions> options) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var probe = storage.NewTempPath();
        try
        {
            await File.WriteAllBytesAsync(probe, [0x2a], cancellationToken);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return HealthCheckResult.Unhealthy("the storage area is not writable: " + ex.Message);
        }
        finally
        {
            try { File.Delete(probe); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
        const long MB = 1024 * 1024;
        var floor = options.CurrentValue.MinimumFreeDiskSpace;
        long free;
        try { free = storage.AvailableFreeSpace; }
        catch (IOException ex) { return HealthCheckResult.Degraded("free space unknown: " + ex.Message); }
        var data = new Dictionary<string, object> { ["FreeMB"] = free / MB, ["MinimumFreeDiskSpaceMB"] = floor };
        return free < floor * MB
            ? HealthCheckResult.Unhealthy($"{free / MB} MB free, under MinimumFreeDiskSpace ({floor} MB): stores are refused", data: data)
            : HealthCheckResult.Healthy($"writable, {free / MB} MB free", data);
    }
}
