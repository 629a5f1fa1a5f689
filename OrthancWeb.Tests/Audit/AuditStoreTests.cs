using Microsoft.Extensions.Time.Testing;
using OrthancWeb.Audit;

namespace OrthancWeb.Tests.Audit;

/// <summary>The store: the hash chain and its verification, nothing lost, gaps recorded, retention with an anchor, restart.</summary>
public sealed class AuditStoreTests
{
    private static AuditEvent View(int i) => new(AuditActions.View, AuditOutcome.Success)
    {
        User = "alice", Address = "10.0.0.7", Source = AuditSources.Ui, PatientId = "P" + (i % 7), ResourceLevel = "Study",
        ResourceId = "study-" + i, StudyInstanceUid = "1.2.3." + i, Details = "view " + i,
    };

    private static async Task<AuditHost> WithEntriesAsync(int count)
    {
        var host = await AuditHost.StartAsync();
        for (var i = 1; i <= count; i++) host.Trail.Record(View(i));
        await host.Writer.FlushAsync();
        return host;
    }

    [Fact]
    public async Task An_untouched_chain_verifies()
    {
        await using var host = await WithEntriesAsync(20);
        var result = await host.Queries.VerifyAsync();
        Assert.True(result.Intact, result.Summary);
        Assert.Equal(20, result.Checked);
        Assert.Equal(1, result.FirstId);
        Assert.Equal(20, result.LastId);
        var first = await host.Queries.GetAsync(1);
        Assert.Equal(AuditChain.Genesis, first!.PreviousHash);
        Assert.Equal(("alice", "10.0.0.7", "P1", "1.2.3.1"), (first.User, first.Address, first.PatientId, first.StudyInstanceUid));
    }

    [Fact]
    public async Task A_modified_entry_is_the_first_broken_link()
    {
        await using var host = await WithEntriesAsync(20);
        await host.TamperAsync("UPDATE Entries SET Details = 'nothing to see' WHERE Id = 7");
        var result = await host.Queries.VerifyAsync();
        Assert.False(result.Intact);
        Assert.Equal(7, result.FirstBrokenId);
        Assert.Contains("changed", result.Problem, StringComparison.Ordinal);
        Assert.Equal(6, result.Checked);
    }

    [Fact]
    public async Task A_modified_entry_with_its_hash_recomputed_breaks_the_next_link()
    {
        await using var host = await WithEntriesAsync(20);
        var e = (await host.Queries.GetAsync(7))!;
        e.User = "mallory";
        var forged = AuditChain.ComputeHash(e.PreviousHash, e);
        await host.TamperAsync($"UPDATE Entries SET User = 'mallory', Hash = '{forged}' WHERE Id = 7");
        var result = await host.Queries.VerifyAsync();
        Assert.False(result.Intact);
        Assert.Equal(8, result.FirstBrokenId);
    }

    [Fact]
    public async Task A_deleted_entry_is_detected()
    {
        await using var host = await WithEntriesAsync(20);
        await host.TamperAsync("DELETE FROM Entries WHERE Id = 12");
        var result = await host.Queries.VerifyAsync();
        Assert.False(result.Intact);
        Assert.Equal(13, result.FirstBrokenId);
        Assert.Contains("missing", result.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Reordered_entries_are_detected()
    {
        await using var host = await WithEntriesAsync(20);
        // Entries 5 and 6 swap places: their sequence numbers are exchanged.
        await host.TamperAsync("UPDATE Entries SET Id = -1 WHERE Id = 5; UPDATE Entries SET Id = 5 WHERE Id = 6; UPDATE Entries SET Id = 6 WHERE Id = -1;");
        var result = await host.Queries.VerifyAsync();
        Assert.False(result.Intact);
        Assert.Equal(5, result.FirstBrokenId);
    }

    [Fact]
    public async Task A_removed_tail_is_detected()
    {
        await using var host = await WithEntriesAsync(20);
        await host.TamperAsync("DELETE FROM Entries WHERE Id > 17");
        var result = await host.Queries.VerifyAsync();
        Assert.False(result.Intact);
        Assert.Equal(18, result.FirstBrokenId);
    }

    [Fact]
    public async Task Nothing_is_lost_under_concurrent_recording()
    {
        await using var host = await AuditHost.StartAsync();
        const int Threads = 8, PerThread = 5000;
        await Task.WhenAll(Enumerable.Range(0, Threads).Select(t => Task.Run(() =>
        {
            for (var i = 0; i < PerThread; i++)
                host.Trail.Record(new AuditEvent(AuditActions.CStore, AuditOutcome.Success) { User = "AE" + t, Details = i.ToString(System.Globalization.CultureInfo.InvariantCulture) });
        })));
        await host.Writer.FlushAsync();
        var result = await host.Queries.VerifyAsync();
        Assert.True(result.Intact, result.Summary);
        Assert.Equal(Threads * PerThread, result.Checked);
        Assert.Equal(0, host.Queue.DroppedTotal);
        for (var t = 0; t < Threads; t++)
        {
            var page = await host.Queries.PageAsync(new AuditFilter { User = "AE" + t }, 0, 1);
            Assert.Equal(PerThread, page.Total);
        }
    }

    [Fact]
    public async Task Events_refused_by_a_full_queue_are_recorded_as_a_gap()
    {
        // The writer is not running yet: the queue (1000, the smallest allowed) fills, and 250 more are refused.
        await using var host = await AuditHost.StartAsync(new() { ["Audit:AuditQueueCapacity"] = "1000" }, start: false);
        for (var i = 1; i <= 1250; i++) host.Trail.Record(View(i));
        Assert.Equal(250, host.Queue.DroppedTotal);
        await host.Writer.StartAsync(CancellationToken.None);
        await host.Writer.FlushAsync();
        var gaps = await host.Queries.PageAsync(new AuditFilter { Action = AuditActions.AuditGap }, 0, 10);
        var gap = Assert.Single(gaps.Entries);
        Assert.Equal(AuditOutcome.MajorFailure, gap.Outcome);
        Assert.StartsWith("250 event(s) could not be recorded", gap.Details, StringComparison.Ordinal);
        var result = await host.Queries.VerifyAsync();
        Assert.True(result.Intact, result.Summary);
        Assert.Equal(1001, result.Checked);
    }

    [Fact]
    public async Task Shutdown_writes_what_is_queued_and_a_restart_continues_the_chain()
    {
        var host = await AuditHost.StartAsync();
        var folder = host.Folder;
        for (var i = 1; i <= 3000; i++) host.Trail.Record(View(i));
        await host.StopAsync();

        await using var again = await AuditHost.StartAsync(folder: folder);
        Assert.Equal(3000, again.Writer.Head.Id);
        again.Trail.Record(View(3001));
        await again.Writer.FlushAsync();
        var result = await again.Queries.VerifyAsync();
        Assert.True(result.Intact, result.Summary);
        Assert.Equal(3001, result.Checked);
    }

    [Fact]
    public async Task Retention_prunes_old_entries_and_verification_starts_at_the_anchor()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 8, 0, 0, TimeSpan.Zero));
        await using var host = await AuditHost.StartAsync(new() { ["Audit:AuditRetentionDays"] = "30" }, time);
        for (var i = 1; i <= 10; i++) host.Trail.Record(View(i));
        await host.Writer.FlushAsync();
        time.Advance(TimeSpan.FromDays(20));
        for (var i = 11; i <= 15; i++) host.Trail.Record(View(i));
        await host.Writer.FlushAsync();
        await host.Writer.LastPruning; // the hourly timer fired: nothing is 30 days old yet
        Assert.Equal(0, await host.Writer.PruneAsync());

        time.Advance(TimeSpan.FromDays(15)); // the first ten are 35 days old, the next five 15: the timer prunes them
        await host.Writer.LastPruning;
        await host.Writer.FlushAsync();
        var page = await host.Queries.PageAsync(new AuditFilter(), 0, 100);
        Assert.Equal(6, page.Total); // five kept, and the pruning itself
        Assert.Equal(AuditActions.AuditPruned, page.Entries[0].Action);
        var result = await host.Queries.VerifyAsync();
        Assert.True(result.Intact, result.Summary);
        Assert.Equal(11, result.FirstId);

        // Recording goes on after the anchor, and verification still holds.
        host.Trail.Record(View(16));
        await host.Writer.FlushAsync();
        Assert.True((await host.Queries.VerifyAsync()).Intact);

        // An anchor moved by hand (hiding entries 11-12 as if pruned) is not vouched for by a pruning entry.
        var e12 = (await host.Queries.GetAsync(12))!;
        await host.TamperAsync($"DELETE FROM Entries WHERE Id <= 12; UPDATE Anchors SET LastPrunedId = 12, LastPrunedHash = '{e12.Hash}'");
        var forged = await host.Queries.VerifyAsync();
        Assert.False(forged.Intact);
        Assert.Contains("no pruning entry", forged.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Events_that_arrive_together_are_written_in_one_commit_once_the_batch_has_lingered()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 8, 0, 0, TimeSpan.Zero));
        await using var host = await AuditHost.StartAsync(time: time);
        for (var i = 1; i <= 50; i++) host.Trail.Record(View(i));
        // The writer waits on the server's clock: until it moves, nothing can have been written.
        Assert.Equal(0, host.Writer.Written);
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (host.Writer.Written < 50 && DateTime.UtcNow < deadline)
        {
            time.Advance(AuditWriter.Linger); // the writer may not have started its wait yet: moved again until it has
            await Task.Delay(20);
        }
        Assert.Equal(50, host.Writer.Written);
        Assert.Equal(1, host.Writer.Commits);

        // A flush does not wait for the clock.
        host.Trail.Record(View(51));
        await host.Writer.FlushAsync().WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(51, host.Writer.Written);
        Assert.True((await host.Queries.VerifyAsync()).Intact);
    }

    [Fact]
    public async Task The_retention_timer_prunes_on_the_server_clock()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 8, 0, 0, TimeSpan.Zero));
        await using var host = await AuditHost.StartAsync(new() { ["Audit:AuditRetentionDays"] = "1" }, time);
        for (var i = 1; i <= 5; i++) host.Trail.Record(View(i));
        await host.Writer.FlushAsync();
        time.Advance(TimeSpan.FromDays(2)); // the hourly timer fires
        await host.Writer.LastPruning;
        await host.Writer.FlushAsync();
        Assert.Equal(1, (await host.Queries.PageAsync(new AuditFilter { Action = AuditActions.AuditPruned }, 0, 1)).Total);
        var result = await host.Queries.VerifyAsync();
        Assert.True(result.Intact, result.Summary);
        Assert.Equal(0, (await host.Queries.PageAsync(new AuditFilter { Action = AuditActions.View }, 0, 1)).Total);
    }

    [Fact]
    public async Task Disabled_records_nothing()
    {
        await using var host = await AuditHost.StartAsync(new() { ["Audit:AuditEnabled"] = "false" });
        host.Trail.Record(View(1));
        await host.Writer.FlushAsync();
        Assert.Equal(0, (await host.Queries.PageAsync(new AuditFilter(), 0, 10)).Total);
    }
}
