using Microsoft.EntityFrameworkCore;
using OrthancWeb.Dicom.IO;
using OrthancWeb.Storage;
using OrthancWeb.Security;

namespace OrthancWeb.Index;

/// <summary>
/// The changes the rest of the server makes to the index: instances arriving, deletions, protection. Each rule has a
/// part of its own: <see cref="IndexTransactions"/> (the single writer), <see cref="CommitPipeline"/> (group commit
/// and durability), <see cref="InstanceIndexer"/> (what an instance adds), <see cref="RecyclingPolicy"/> (storage
/// limits), <see cref="ResourceDeletion"/>, <see cref="IndexMaintenance"/> and <see cref="StorageReconciliation"/>.
/// </summary>
public sealed class IndexWriter(CommitPipeline commits, IndexTransactions transactions, ResourceDeletion deletion)
{
    /// <summary>
    /// Indexes one stored instance. Instances arriving together are committed together (group commit): one
    /// transaction and one flush for the batch, and each caller is answered only once that commit is durable.
    /// </summary>
    /// <param name="checksum">The checksum of a file still being checksummed (see <see cref="CommitPipeline.AddAsync"/>).</param>
    public Task<StoreOutcome> AddInstanceAsync(DicomFile header, InstanceIdentifiers ids, StoredFile file, InstanceArrival arrival, Task<string>? checksum = null) =>
        commits.AddAsync(header, ids, file, arrival, checksum);

    /// <summary>Deletes a resource, everything under it, and parents left empty. Returns the nearest parent that remains, if any.</summary>
    public Task<(bool Found, string? RemainingAncestor, ResourceLevel? AncestorLevel)> DeleteAsync(string publicId, ResourceLevel level, CancellationToken ct)
    {
        Caller.Demand(Policies.Modify, "delete");
        return transactions.ReadWriteAsync<(bool, string?, ResourceLevel?)>(async (transaction, ct) =>
        {
            var r = await transaction.Db.Resources.FirstOrDefaultAsync(x => x.PublicId == publicId && x.Level == level, ct);
            if (r is null) return (false, null, null);
            var ancestor = await deletion.DeleteWithEmptyParentsAsync(transaction, r, ct);
            return (true, ancestor?.PublicId, ancestor?.Level);
        }, ct);
    }

    /// <summary>Protects a patient from recycling, or makes it recyclable again; false when there is no such patient.</summary>
    public Task<bool> SetProtectedAsync(string patientPublicId, bool isProtected, CancellationToken ct)
    {
        Caller.Demand(Policies.Modify, "protect or unprotect patients");
        return transactions.ReadWriteAsync(async (transaction, ct) =>
            await transaction.Db.Resources.Where(r => r.PublicId == patientPublicId && r.Level == ResourceLevel.Patient)
                .ExecuteUpdateAsync(s => s.SetProperty(r => r.IsProtected, isProtected), ct) > 0, ct);
    }
}
