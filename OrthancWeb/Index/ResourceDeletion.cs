using Microsoft.EntityFrameworkCore;
using OrthancWeb.Audit;

namespace OrthancWeb.Index;

/// <summary>
/// Deleting resources from the index: a resource with everything under it, and the parents it leaves empty, each
/// logged as a Deleted change. The rows go in the caller's transaction, which deletes their files once committed.
/// Every deletion forgets the hierarchy cache and takes its share off the storage usage.
/// </summary>
public sealed class ResourceDeletion(HierarchyCache hierarchy, StorageUsage usage, TimeProvider time, IAuditTrail? audit = null)
{
    /// <summary>Deletes a resource and everything under it, then its parents left empty; returns the nearest parent that remains.</summary>
    internal async Task<Resource?> DeleteWithEmptyParentsAsync(ReadWriteTransaction transaction, Resource r, CancellationToken ct)
    {
        var db = transaction.Db;
        // The one place a deletion passes (UI, REST, modification replacing its source): recorded with the patient and
        // study it took, read before the rows go.
        var (patientId, studyUid) = audit is null ? default : await IdentifiersAsync(db, r, ct);
        await DeleteTreeAsync(transaction, r, logDeletion: true, ct);
        audit?.Record(new AuditEvent(AuditActions.Delete, AuditOutcome.Success)
        {
            PatientId = patientId, StudyInstanceUid = studyUid, ResourceLevel = r.Level.ToString(), ResourceId = r.PublicId,
        });
        var parentId = r.ParentId;
        while (parentId is { } pid)
        {
            var remaining = await db.Resources.CountAsync(x => x.ParentId == pid && x.Id != r.Id, ct);
            var parent = await db.Resources.FirstAsync(x => x.Id == pid, ct);
            if (remaining > 0) return parent;
            var own = await db.Attachments.Where(a => a.ResourceId == pid).Select(a => new { a.Uuid, a.CompressedSize }).ToListAsync(ct);
            if (own.Count > 0)
            {
                usage.Removed(own.Sum(a => a.CompressedSize), 0);
                transaction.Release(own.Select(a => a.Uuid));
            }
            db.Resources.Remove(parent);
            db.Changes.Add(Deleted(parent));
            usage.Removed(0, parent.Level == ResourceLevel.Patient ? 1 : 0);
            r = parent;
            parentId = parent.ParentId;
        }
        return null;
    }

    /// <summary>
    /// Deletes a patient that the storage limits recycle. The audit trail records it once the transaction is
    /// committed (a batch that fails deleted nothing), as a deletion by the server with the reason. The writer's
    /// thread carries no caller, so the entry names the server, and the reason names the arrival that made it happen.
    /// </summary>
    internal async Task RecycleAsync(ReadWriteTransaction transaction, Resource patient, string reason, CancellationToken ct)
    {
        var (patientId, _) = audit is null ? default : await IdentifiersAsync(transaction.Db, patient, ct);
        await DeleteTreeAsync(transaction, patient, logDeletion: true, ct);
        if (audit is null) return;
        var entry = new AuditEvent(AuditActions.Delete, AuditOutcome.Success)
        {
            User = ServerUser, Source = AuditSources.Server, PatientId = patientId, ResourceLevel = patient.Level.ToString(), ResourceId = patient.PublicId, Details = reason,
        };
        transaction.OnCommitted(() => audit.Record(entry));
    }

    /// <summary>The user of what the server does on its own (recycling).</summary>
    public const string ServerUser = "(server)";

    /// <summary>Removes the rows of a resource and its descendants; their files are released to the transaction.</summary>
    /// <param name="logDeletion">False when the instance is being replaced by a new copy (no Deleted change then).</param>
    internal async Task DeleteTreeAsync(ReadWriteTransaction transaction, Resource r, bool logDeletion, CancellationToken ct)
    {
        var db = transaction.Db;
        hierarchy.Forget();
        // Patients, studies and series may carry attachments of their own (user-defined content types) too.
        var above = new List<long>();
        var instanceIds = r.Level == ResourceLevel.Instance ? [r.Id] : await DescendantInstanceIdsAsync(db, r.Id, ct, above);
        var attachments = await db.Attachments.Where(a => instanceIds.Contains(a.ResourceId) || above.Contains(a.ResourceId)).Select(a => new { a.Uuid, a.CompressedSize }).ToListAsync(ct);
        usage.Removed(attachments.Sum(a => a.CompressedSize), r.Level == ResourceLevel.Patient ? 1 : 0);
        // Cascades remove children, tags, metadata and attachments; instances are removed explicitly for providers
        // whose cascades EF does not see loaded.
        await db.Resources.Where(x => instanceIds.Contains(x.Id)).ExecuteDeleteAsync(ct);
        // The resource itself (and, by the foreign keys' cascade, its studies/series): deleted in the database at once,
        // inside the caller's transaction, so EF must stop tracking it.
        await db.Resources.Where(x => x.Id == r.Id).ExecuteDeleteAsync(ct);
        if (db.ChangeTracker.Entries<Resource>().Any(e => ReferenceEquals(e.Entity, r)))
            db.Entry(r).State = EntityState.Detached;
        if (logDeletion) db.Changes.Add(Deleted(r));
        transaction.Release(attachments.Select(a => a.Uuid));
    }

    /// <summary>The PatientID and StudyInstanceUID above (or of) a resource, from the index's main tags.</summary>
    internal static async Task<(string? PatientId, string? StudyUid)> IdentifiersAsync(IndexDbContext db, Resource r, CancellationToken ct)
    {
        var chain = new List<long> { r.Id };
        for (var parent = r.ParentId; parent is { } p && chain.Count < 4; parent = await db.Resources.Where(x => x.Id == p).Select(x => x.ParentId).FirstOrDefaultAsync(ct))
            chain.Add(p);
        int patientTag = (int)Dicom.Data.DicomTags.PatientID.Value, studyTag = (int)Dicom.Data.DicomTags.StudyInstanceUID.Value;
        var tags = await db.MainDicomTags.Where(t => chain.Contains(t.ResourceId) && (t.Tag == patientTag || t.Tag == studyTag))
            .Select(t => new { t.Tag, t.Value }).ToListAsync(ct);
        return (tags.FirstOrDefault(t => t.Tag == patientTag)?.Value, tags.FirstOrDefault(t => t.Tag == studyTag)?.Value);
    }

    private ChangeEntry Deleted(Resource r) =>
        new() { ChangeType = "Deleted", Level = r.Level, PublicId = r.PublicId, Date = time.GetUtcNow().UtcDateTime };

    /// <summary>The row IDs of the instances under a resource, level by level.</summary>
    /// <param name="above">When given, receives the IDs of the resource and its descendants above the instances.</param>
    internal static async Task<List<long>> DescendantInstanceIdsAsync(IndexDbContext db, long resourceId, CancellationToken ct, List<long>? above = null)
    {
        var level = await db.Resources.Where(r => r.Id == resourceId).Select(r => r.Level).FirstAsync(ct);
        var current = new List<long> { resourceId };
        for (var l = level; l < ResourceLevel.Instance; l++)
        {
            above?.AddRange(current);
            var parents = current;
            current = await db.Resources.Where(r => r.ParentId != null && parents.Contains(r.ParentId.Value)).Select(r => r.Id).ToListAsync(ct);
        }
        return current;
    }
}
