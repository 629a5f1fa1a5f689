using System.Security.Cryptography;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using OrthancWeb.Index;

namespace OrthancWeb.Tests.Index;

/// <summary>Stability marking, the idle checkpoint and the MD5 back-fill, with a fake clock instead of waiting.</summary>
public sealed class IndexMaintenanceTests
{
    [Theory, IndexProviders]
    public async Task Series_study_and_patient_become_stable_once_StableAge_has_passed_without_news(string provider)
    {
        await using var index = await IndexHarness.StartAsync(provider, ("StableAge", "60"));
        var maintenance = index.Get<IndexMaintenance>();
        await index.StoreSuccessfullyAsync("STABLE", 1);
        index.Clock.Advance(TimeSpan.FromSeconds(30));
        await index.StoreSuccessfullyAsync("STABLE", 2); // news: the clock starts again for the series and its parents

        index.Clock.Advance(TimeSpan.FromSeconds(59));
        Assert.Equal(0, await maintenance.MarkStableAsync(CancellationToken.None));
        Assert.DoesNotContain(index.Changes(), c => c.ChangeType.StartsWith("Stable", StringComparison.Ordinal));

        index.Clock.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(3, await maintenance.MarkStableAsync(CancellationToken.None));
        Assert.Equal(["StablePatient", "StableSeries", "StableStudy"],
            index.Changes().Where(c => c.ChangeType.StartsWith("Stable", StringComparison.Ordinal)).Select(c => c.ChangeType).Order());
        Assert.Equal(0, await maintenance.MarkStableAsync(CancellationToken.None)); // once only
    }

    [Theory, IndexProviders]
    public async Task The_stability_monitor_runs_on_the_injected_clock(string provider)
    {
        await using var index = await IndexHarness.StartAsync(provider, ("StableAge", "60"));
        await index.StoreSuccessfullyAsync("MONITORED");
        var monitor = index.Get<IEnumerable<IHostedService>>().OfType<StabilityMonitor>().Single();
        await monitor.StartAsync(CancellationToken.None);
        try
        {
            // Time moves only when the test moves it: a second per look, until the monitor has seen StableAge pass.
            await IndexHarness.Eventually(() =>
            {
                index.Clock.Advance(TimeSpan.FromSeconds(1));
                return index.Changes().Any(c => c.ChangeType == "StableSeries");
            }, "the monitor marks the series stable");
        }
        finally { await monitor.StopAsync(CancellationToken.None); }
    }

    [Fact] // SQLite's own write-ahead log; PostgreSQL checkpoints itself.
    public async Task The_write_ahead_log_is_checkpointed_once_ingest_has_been_idle_for_two_seconds()
    {
        await using var index = await IndexHarness.StartAsync();
        var maintenance = index.Get<IndexMaintenance>();
        var wal = Path.Combine(index.Folder, "db", "index.db-wal");
        await index.StoreSuccessfullyAsync("WAL");
        Assert.True(new FileInfo(wal).Length > 0);

        index.Clock.Advance(IndexMaintenance.IdleBeforeCheckpoint - TimeSpan.FromMilliseconds(1));
        await maintenance.CheckpointIfIdleAsync(CancellationToken.None);
        Assert.True(new FileInfo(wal).Length > 0);

        index.Clock.Advance(TimeSpan.FromMilliseconds(1));
        await maintenance.CheckpointIfIdleAsync(CancellationToken.None);
        Assert.Equal(0, new FileInfo(wal).Length);
    }

    [Theory, IndexProviders]
    public async Task Md5s_are_computed_on_first_request_from_an_intact_file_and_kept(string provider)
    {
        await using var index = await IndexHarness.StartAsync(provider);
        var files = index.Get<InstanceFiles>();
        var bytes = IndexHarness.Instance("MD5", 1);
        var (outcome, _, ids) = index.Store(bytes);
        await outcome;

        var before = (await files.FindAsync(ids.InstancePublicId, CancellationToken.None))!;
        Assert.Equal("", before.UncompressedMd5);
        var md5 = Convert.ToHexStringLower(MD5.HashData(bytes));
        Assert.Equal((md5, md5), await files.Md5Async(before, CancellationToken.None));
        var after = (await files.FindAsync(ids.InstancePublicId, CancellationToken.None))!;
        Assert.Equal((md5, md5), (after.UncompressedMd5, after.CompressedMd5));

        // Another instance whose file changed after it was acknowledged: no MD5 of the wrong bytes is recorded.
        var (damagedOutcome, damagedFile, damagedIds) = index.Store(IndexHarness.Instance("MD5", 2));
        await damagedOutcome;
        var path = index.Storage.PathOf(damagedFile.Uuid);
        var damaged = File.ReadAllBytes(path);
        damaged[^1] ^= 0xFF;
        File.WriteAllBytes(path, damaged);
        var info = (await files.FindAsync(damagedIds.InstancePublicId, CancellationToken.None))!;
        await Assert.ThrowsAsync<StoredFileDamagedException>(() => files.Md5Async(info, CancellationToken.None));
        Assert.Equal("", (await files.FindAsync(damagedIds.InstancePublicId, CancellationToken.None))!.UncompressedMd5);
    }
}
