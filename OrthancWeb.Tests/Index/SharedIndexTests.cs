using Microsoft.EntityFrameworkCore;
using OrthancWeb.Index;

namespace OrthancWeb.Tests.Index;

/// <summary>
/// Two writers of one PostgreSQL index and storage area (two servers' worth of services in one process, issue 20):
/// the database's unique keys let one of two racing transactions in, and the other runs again and finds its work done.
/// Today two writers' batches also take turns on the durability watermark's row (each batch updates it first), so the
/// race is provoked directly in the second test; the first holds whatever the writers' locking becomes.
/// </summary>
public sealed class SharedIndexTests
{
    [Fact]
    public async Task Two_writers_given_the_same_instances_at_once_store_each_once()
    {
        await using var first = await IndexHarness.StartAsync(IndexDatabase.PostgreSql);
        await using var second = first.Join();
        // Three patients of ten slices; every slice to both writers at once, all in flight together, so that both
        // create the same patients, studies and series in the same moments.
        var instances = Enumerable.Range(0, 3).SelectMany(p => Enumerable.Range(1, 10).Select(i => IndexHarness.Instance($"SHARED-{p}", i, 2048))).ToList();
        var go = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        // Two senders per writer, each waiting for its answer before the next instance: batches of one, committed on
        // the senders' threads, the two writers at the same instance in the same moment.
        async Task<StoreOutcome[]> SendAll(IndexHarness writer)
        {
            await go.Task;
            var outcomes = new StoreOutcome[instances.Count];
            await Task.WhenAll(Enumerable.Range(0, 2).Select(half => Task.Run(async () =>
            {
                for (var i = half; i < instances.Count; i += 2) outcomes[i] = await writer.Store(instances[i]).Outcome;
            })));
            return outcomes;
        }
        var sends = new[] { Task.Run(() => SendAll(first)), Task.Run(() => SendAll(second)) };
        go.SetResult();
        var (ofFirst, ofSecond) = (await sends[0], await sends[1]);

        // Each instance acknowledged as stored exactly once, the other copy as already stored; none failed.
        for (var i = 0; i < instances.Count; i++)
            Assert.Equal([StoreStatus.Success, StoreStatus.AlreadyStored], new[] { ofFirst[i].Status, ofSecond[i].Status }.Order());
        await using var db = first.Db();
        var counts = db.Resources.GroupBy(r => r.Level).Select(g => new { g.Key, Count = g.Count() }).ToDictionary(g => g.Key, g => g.Count);
        Assert.Equal(new Dictionary<ResourceLevel, int> { [ResourceLevel.Patient] = 3, [ResourceLevel.Study] = 3, [ResourceLevel.Series] = 3, [ResourceLevel.Instance] = 30 }, counts);
        Assert.Equal(30, db.Attachments.Count());
        var changes = db.Changes.GroupBy(c => c.ChangeType).Select(g => new { g.Key, Count = g.Count() }).ToDictionary(g => g.Key, g => g.Count);
        Assert.Equal(new Dictionary<string, int> { ["NewPatient"] = 3, ["NewStudy"] = 3, ["NewSeries"] = 3, ["NewInstance"] = 30 }, changes);
        // Every attached file is in the shared storage area.
        foreach (var uuid in db.Attachments.Select(a => a.Uuid).ToList())
            Assert.True(first.Storage.Exists(uuid), $"attached file {uuid} is missing");
    }

    [Fact]
    public async Task A_writer_that_loses_a_race_for_a_new_patient_runs_again_and_stores_its_instance()
    {
        await using var index = await IndexHarness.StartAsync(IndexDatabase.PostgreSql);
        var instance = IndexHarness.Instance("RACE", 1, 2048);
        var ids = IndexHarness.Parse(instance).Ids;

        // Another server is creating the same patient: its row is inserted, its transaction not yet committed.
        await using var other = index.Db();
        await using var transaction = await other.Database.BeginTransactionAsync();
        other.Resources.Add(new Resource { Level = ResourceLevel.Patient, PublicId = ids.PatientPublicId, LastUpdate = DateTime.UtcNow });
        await other.SaveChangesAsync();

        // Our writer does not see that row and inserts its own: PostgreSQL holds it on the unique key...
        var outcome = index.Store(instance).Outcome;
        await IndexHarness.Eventually(() => WaitsOnALock(index), "the writer waits for the other transaction");
        // ...and fails it once the other commits (23505). Run again, it finds the patient and stores the instance.
        await transaction.CommitAsync();
        Assert.Equal(StoreStatus.Success, (await outcome).Status);
        await using var db = index.Db();
        Assert.Equal(1, await db.Resources.CountAsync(r => r.Level == ResourceLevel.Patient));
        Assert.Equal(1, await db.Resources.CountAsync(r => r.Level == ResourceLevel.Instance));
    }

    private static bool WaitsOnALock(IndexHarness index)
    {
        using var db = index.Db();
        return db.Database.SqlQueryRaw<int>("SELECT count(*)::int AS \"Value\" FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'").AsEnumerable().Single() > 0;
    }
}
