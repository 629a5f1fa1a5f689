using OrthancWeb.Index;

namespace OrthancWeb.Tests.Index;

/// <summary>Orthanc's MaximumStorageSize and MaximumPatientCount, on a real SQLite index.</summary>
public sealed class RecyclingPolicyTests
{
    private const int Slice = 300 * 1024;

    [Theory, IndexProviders]
    public async Task The_least_recently_updated_unprotected_patient_goes_first_and_never_the_incoming_one(string provider)
    {
        await using var index = await IndexHarness.StartAsync(provider, ("MaximumStorageSize", "1"));
        var patient = (string id) => OrthancWeb.Index.PublicIds.Patient(id);
        var files = new Dictionary<string, string>();
        // One slice a minute, so that the patients' last updates are in this order.
        async Task StoreAsync(string patientId, int slice)
        {
            var (outcome, file, _) = index.Store(IndexHarness.Instance(patientId, slice, Slice));
            Assert.Equal(StoreStatus.Success, (await outcome).Status);
            files[$"{patientId}{slice}"] = file.Uuid;
            index.Clock.Advance(TimeSpan.FromMinutes(1));
        }
        foreach (var p in new[] { "A", "B", "C" }) await StoreAsync(p, 1);

        // A second slice of A passes 1 MB: A is the oldest, but it is the patient arriving, so B goes.
        await StoreAsync("A", 2);
        Assert.Equal(new[] { patient("A"), patient("C") }.Order(), index.PublicIds(ResourceLevel.Patient).Order());
        Assert.Contains(("Deleted", patient("B")), index.Changes());

        // C protected: a new patient D makes room by recycling A, now the only unprotected one.
        Assert.True(await index.Get<IndexWriter>().SetProtectedAsync(patient("C"), true, CancellationToken.None));
        await StoreAsync("D", 1);
        Assert.Equal(new[] { patient("C"), patient("D") }.Order(), index.PublicIds(ResourceLevel.Patient).Order());
        Assert.Equal(index.CountUsage(), index.Get<StorageUsage>().Snapshot);
        // The recycled patients' files are gone from the storage area too, once committed.
        Assert.Equal(["C1", "D1"], files.Where(f => index.Storage.Exists(f.Value)).Select(f => f.Key).Order());
    }

    [Theory, IndexProviders]
    public async Task Protected_patients_are_never_recycled_and_the_refused_instance_leaves_no_trace(string provider)
    {
        await using var index = await IndexHarness.StartAsync(provider, ("MaximumPatientCount", "2"));
        var writer = index.Get<IndexWriter>();
        foreach (var p in new[] { "A", "B" })
        {
            await index.StoreSuccessfullyAsync(p);
            Assert.True(await writer.SetProtectedAsync(OrthancWeb.Index.PublicIds.Patient(p), true, CancellationToken.None));
        }
        var changes = index.Changes();
        var usage = index.Get<StorageUsage>().Snapshot;

        var refused = await index.StoreAsync(IndexHarness.Instance("C"));
        Assert.Equal(StoreStatus.StorageFull, refused.Status);
        Assert.Equal(RecyclingPolicy.StorageFullReason, refused.Reason);
        Assert.Equal(2, index.PublicIds(ResourceLevel.Patient).Count);
        Assert.Equal(2, index.PublicIds(ResourceLevel.Instance).Count);
        Assert.Equal(changes, index.Changes());
        Assert.Equal(usage, index.Get<StorageUsage>().Snapshot);
        Assert.Equal(index.CountUsage(), usage);
    }

    [Theory, IndexProviders]
    public async Task A_refused_replacement_in_a_batch_is_undone_while_the_rest_of_the_batch_is_stored(string provider)
    {
        await using var index = await IndexHarness.StartAsync(provider, ("MaximumStorageSize", "1"));
        var writer = index.Get<IndexWriter>();
        var (first, file, ids) = index.Store(IndexHarness.Instance("A", 1, 400 * 1024));
        Assert.Equal(StoreStatus.Success, (await first).Status);
        await index.StoreSuccessfullyAsync("B", 1, 400 * 1024);
        foreach (var p in new[] { "A", "B" })
            await writer.SetProtectedAsync(OrthancWeb.Index.PublicIds.Patient(p), true, CancellationToken.None);
        var changes = index.Changes();

        // In one batch: a larger copy of A's slice replacing it (the replaced copy deleted first, then no room even
        // so), and a small new patient that fits.
        var transactions = index.Get<IndexTransactions>();
        await transactions.EnterAsync(CancellationToken.None);
        var replacement = index.Store(IndexHarness.Instance("A", 1, 700 * 1024), IndexHarness.RestArrival(overwrite: true));
        var small = index.Store(IndexHarness.Instance("C"));
        transactions.Exit();

        Assert.Equal(StoreStatus.StorageFull, (await replacement.Outcome).Status);
        Assert.Equal(StoreStatus.Success, (await small.Outcome).Status);
        // The first copy is still indexed, and its file was not deleted with the rolled-back replacement.
        Assert.Equal(file.Uuid, index.AttachedFile(ids.InstancePublicId));
        Assert.True(index.Storage.Exists(file.Uuid));
        Assert.Equal(changes, index.Changes().Take(changes.Count));
        Assert.DoesNotContain(index.Changes(), c => c.ChangeType == "Deleted");
        Assert.Equal(index.CountUsage(), index.Get<StorageUsage>().Snapshot);
    }
}
