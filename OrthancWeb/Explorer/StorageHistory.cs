using Microsoft.Extensions.Options;
using OrthancWeb.Index;
using OrthancWeb.Storage;

namespace OrthancWeb.Explorer;

/// <summary>The storage used at one moment: bytes on disk (compressed) and instances.</summary>
public sealed record StorageSample(DateTimeOffset At, long DiskSize, long Instances);

/// <summary>
/// Samples the index's statistics every <see cref="Interval"/> and keeps a day of them, so that the home page can draw
/// the storage used against its limit over time without counting the archive on every visit. The home page reads
/// <see cref="Latest"/> for its counters. In memory: the curve starts again with the server.
/// </summary>
public sealed partial class StorageHistory(IndexQueries queries, IOptionsMonitor<StorageOptions> storage, TimeProvider time, ILogger<StorageHistory> logger) : BackgroundService
{
    public static readonly TimeSpan Interval = TimeSpan.FromMinutes(5);
    private const int Kept = 24 * 12;
    private readonly Lock _lock = new();
    private readonly Queue<StorageSample> _samples = new();
    private Statistics? _latest;

    /// <summary>The limit in bytes (Orthanc's MaximumStorageSize is in MB), or null when there is none.</summary>
    public long? Limit => storage.CurrentValue.MaximumStorageSize is > 0 and var mb ? mb * 1024 * 1024 : null;

    /// <summary>The samples of the last day, oldest first.</summary>
    public IReadOnlyList<StorageSample> Samples
    {
        get { lock (_lock) return [.. _samples]; }
    }

    /// <summary>The last statistics counted (null before the first).</summary>
    public Statistics? Latest
    {
        get { lock (_lock) return _latest; }
    }

    /// <summary>When <see cref="Latest"/> was counted.</summary>
    public DateTimeOffset LatestAt
    {
        get { lock (_lock) return _latestAt; }
    }

    private DateTimeOffset _latestAt = DateTimeOffset.MinValue;

    private Task<Statistics>? _counting;

    /// <summary>
    /// Counts the statistics again for <see cref="Latest"/>, without adding a sample to the curve (the timer alone
    /// does, every <see cref="Interval"/>). Pages asking at the same time share one count.
    /// </summary>
    public Task<Statistics> RefreshLatestAsync()
    {
        lock (_lock)
        {
            if (_counting is { IsCompleted: false } running) return running;
            return _counting = CountAsync();
        }
    }

    private async Task<Statistics> CountAsync()
    {
        // Not the caller's token: other pages may be waiting on this count.
        var stats = await queries.StatisticsAsync(CancellationToken.None);
        lock (_lock) (_latest, _latestAt) = (stats, time.GetUtcNow());
        return stats;
    }

    /// <summary>Takes a sample of the curve (what the timer does).</summary>
    public async Task<Statistics> SampleAsync(CancellationToken ct)
    {
        var stats = await RefreshLatestAsync().WaitAsync(ct);
        lock (_lock)
        {
            _samples.Enqueue(new StorageSample(_latestAt, stats.TotalDiskSize, stats.CountInstances));
            while (_samples.Count > Kept) _samples.Dequeue();
        }
        return stats;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Interval, time);
        do
        {
            try { await SampleAsync(stoppingToken); }
            catch (Exception ex) when (ex is not OperationCanceledException) { LogSampleFailed(ex); }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Storage sample for the home page failed")]
    private partial void LogSampleFailed(Exception ex);
}
