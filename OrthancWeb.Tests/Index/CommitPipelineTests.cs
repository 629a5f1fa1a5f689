using OrthancWeb.Index;

namespace OrthancWeb.Tests.Index;

/// <summary>Group commit and the durability stage, on a real SQLite index.</summary>
public sealed class CommitPipelineTests
{
    [Theory, IndexProviders]
    public async Task A_stored_instance_is_answered_only_after_the_flush_that_makes_it_durable(string provider)
    {
        await using var index = await IndexHarness.StartAsync(provider);
        var pipeline = index.Get<CommitPipeline>();
        await pipeline.HoldFlushesAsync();
        var (outcome, file, ids) = index.Store(IndexHarness.Instance("HELD"));

        // Committed, as another connection sees, yet unanswered: the only way to the answer is the held flush.
        await IndexHarness.Eventually(() => index.AttachedFile(ids.InstancePublicId) == file.Uuid, "the instance is committed");
        Assert.False(outcome.IsCompleted);

        pipeline.ReleaseFlushes();
        Assert.Equal(StoreStatus.Success, (await outcome).Status);
        // The flush raised the durability watermark past the instance's change before answering.
        using var db = index.Db();
        var seq = db.Changes.Where(c => c.ChangeType == "NewInstance" && c.PublicId == ids.InstancePublicId).Select(c => c.Seq).Single();
        Assert.True(index.Get<DurabilityWatermark>().Value >= seq);
    }

    [Theory, IndexProviders]
    public async Task Concurrent_callers_each_get_the_outcome_of_their_own_instance(string provider)
    {
        await using var index = await IndexHarness.StartAsync(provider);
        var writer = index.Get<IndexTransactions>();
        var instances = Enumerable.Range(0, 6).SelectMany(p => Enumerable.Range(1, 4).Select(i => IndexHarness.Instance($"CONCURRENT-{p}", i))).ToArray();

        // Phase 1: the writer busy while they arrive, so they are committed together; each of the first eight is
        // sent twice, and in a batch the second copy must see the first.
        await writer.EnterAsync(CancellationToken.None);
        var queued = instances.Concat(instances.Take(8)).Select(b => index.Store(b)).ToList();
        writer.Exit();
        // Phase 2: callers on several threads at once, half of them with instances stored in phase 1.
        var parallel = await Task.WhenAll(instances.Skip(12).Concat(Enumerable.Range(0, 6).Select(p => IndexHarness.Instance($"PARALLEL-{p}")))
            .Select(b => Task.Run(() => index.Store(b))));

        var calls = queued.Concat(parallel).ToList();
        var outcomes = await Task.WhenAll(calls.Select(c => c.Outcome));
        foreach (var group in calls.Zip(outcomes).GroupBy(c => c.First.Ids.InstancePublicId))
        {
            // One caller per instance was told Success: the one whose file the index attached; the others AlreadyStored.
            var success = Assert.Single(group, c => c.Second.Status == StoreStatus.Success);
            Assert.Equal(success.First.File.Uuid, index.AttachedFile(group.Key));
            Assert.All(group.Where(c => c != success), c => Assert.Equal(StoreStatus.AlreadyStored, c.Second.Status));
        }
        Assert.Equal(30, index.PublicIds(ResourceLevel.Instance).Count);
        Assert.Equal(12, index.PublicIds(ResourceLevel.Patient).Count);
    }

    [Theory, IndexProviders]
    public async Task One_bad_instance_in_a_batch_does_not_fail_the_others(string provider)
    {
        await using var index = await IndexHarness.StartAsync(provider);
        var writer = index.Get<IndexTransactions>();
        await writer.EnterAsync(CancellationToken.None);
        var good = Enumerable.Range(1, 5).Select(i => index.Store(IndexHarness.Instance("BATCH", i))).ToList();
        // Its checksum never comes: the batch's attachment rows fail with it.
        var bad = index.Store(IndexHarness.Instance("BATCH", 6), checksum: Task.FromException<string>(new IOException("the checksum thread failed")));
        good.Add(index.Store(IndexHarness.Instance("BATCH", 7)));
        writer.Exit();

        var error = await Assert.ThrowsAsync<IOException>(() => bad.Outcome);
        Assert.Equal("the checksum thread failed", error.Message);
        foreach (var g in good)
        {
            Assert.Equal(StoreStatus.Success, (await g.Outcome).Status);
            Assert.Equal(g.File.Uuid, index.AttachedFile(g.Ids.InstancePublicId));
        }
        Assert.Null(index.AttachedFile(bad.Ids.InstancePublicId));
        Assert.Equal(6, index.PublicIds(ResourceLevel.Instance).Count);
        // What the writer remembers was forgotten with the failed batch, and counted again: still exact.
        Assert.Equal(index.CountUsage(), index.Get<StorageUsage>().Snapshot);
    }
}
