using OrthancWeb.Audit;
using OrthancWeb.Jobs;

namespace OrthancWeb.Export;

/// <summary>
/// Deletes the archives of finished jobs once <see cref="ExportOptions.JobArchiveLifetime"/> has passed, looking once
/// a minute on the server's clock. The job stays in the history (its download answers 410 Gone); the ZIP of patient
/// data does not stay on the disk.
/// </summary>
public sealed partial class ArchiveExpiry(JobEngine jobs, ArchiveJob archives, TimeProvider time, IAuditTrail audit, ILogger<ArchiveExpiry> logger) : BackgroundService
{
    public static readonly TimeSpan Period = TimeSpan.FromMinutes(1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Period, time);
        do
        {
            try { Sweep(); }
            catch (IOException ex) { LogSweepFailed(logger, ex.Message); }
        }
        while (await WaitAsync(timer, stoppingToken));
    }

    private static async Task<bool> WaitAsync(PeriodicTimer timer, CancellationToken ct)
    {
        try { return await timer.WaitForNextTickAsync(ct); }
        catch (OperationCanceledException) { return false; }
    }

    /// <summary>Deletes every expired archive still on disk; returns how many.</summary>
    public int Sweep()
    {
        var deleted = 0;
        foreach (var job in jobs.List())
        {
            if (job.Type != ArchiveJob.JobType || !archives.IsExpired(job)) continue;
            var path = archives.OutputPath(job.Id);
            if (!File.Exists(path)) continue;
            File.Delete(path);
            deleted++;
            using (AuditActor.Enter(new AuditActor(null, null, AuditSources.Server)))
                audit.Record(new AuditEvent(AuditActions.Delete, AuditOutcome.Success) { ResourceLevel = "Job", ResourceId = job.Id, Details = $"archive of {job.User ?? "the server"} expired" });
        }
        return deleted;
    }

    [LoggerMessage(LogLevel.Warning, "Deleting expired archives failed: {Reason}")]
    private static partial void LogSweepFailed(ILogger logger, string reason);
}
