using Microsoft.EntityFrameworkCore;
using OrthancWeb.Audit;
using OrthancWeb.Index;
using OrthancWeb.Security;

namespace OrthancWeb.Annotations;

/// <summary>One metadata of a resource: the name it is shown by, Orthanc's number, its value and revision.</summary>
public sealed record MetadataItem(string Name, int Number, string Value, long Revision)
{
    public Revision Etag => new(Revision, Annotations.Revision.Md5Of(Value));
}

/// <summary>
/// The metadata of patients, studies, series and instances (Orthanc's /{level}/{id}/metadata): the system ones the
/// ingest path records, read-only, and the user-defined ones (1024-65535), written with revisions. The REST API and
/// the UI both come here; every write is in the audit trail.
/// </summary>
public sealed class MetadataService(IDbContextFactory<IndexDbContext> contexts, IndexTransactions transactions, AnnotationCatalog catalog, IAuditTrail audit, TimeProvider time)
{
    /// <summary>Every metadata of a resource, sorted by name; null when the resource does not exist.</summary>
    public async Task<IReadOnlyList<MetadataItem>?> ListAsync(string publicId, ResourceLevel level, CancellationToken ct)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        var r = await db.Resources.AsNoTracking().Where(x => x.PublicId == publicId && x.Level == level).Select(x => new { x.Id, x.LastUpdate }).FirstOrDefaultAsync(ct);
        if (r is null) return null;
        var rows = await db.Metadata.AsNoTracking().Where(m => m.ResourceId == r.Id).ToListAsync(ct);
        var items = rows.Select(m => new MetadataItem(catalog.MetadataName(m.Name), AnnotationCatalog.MetadataNumber(m.Name), m.Value, m.Revision)).ToList();
        // Orthanc records LastUpdate on patients, studies and series at every arrival: here it is the resource's own
        // column, which the ingest path keeps anyway (one write fewer per instance).
        if (level != ResourceLevel.Instance && items.All(i => i.Name != "LastUpdate"))
            items.Add(new MetadataItem("LastUpdate", SystemMetadata.ByName["LastUpdate"], OrthancTime.Format(r.LastUpdate), 0));
        return items.OrderBy(i => i.Name, StringComparer.Ordinal).ToList();
    }

    /// <summary>Sets a user metadata (creating it at revision 0, or replacing it at the next revision).</summary>
    public Task<AnnotationWrite> SetAsync(string publicId, ResourceLevel level, AnnotationKey key, string value, Revision? ifMatch, CancellationToken ct)
    {
        RequireUser(key, "set");
        return WriteAsync(publicId, level, key, value, ifMatch, ct);
    }

    public Task<AnnotationWrite> DeleteAsync(string publicId, ResourceLevel level, AnnotationKey key, Revision? ifMatch, CancellationToken ct)
    {
        RequireUser(key, "delete");
        return WriteAsync(publicId, level, key, null, ifMatch, ct);
    }

    private static void RequireUser(AnnotationKey key, string action)
    {
        Caller.Demand(Policies.Modify, action + " metadata");
        if (!key.IsUser) throw new AccessDeniedException($"The metadata {key.DisplayName} is Orthanc's own and cannot be changed");
    }

    private async Task<AnnotationWrite> WriteAsync(string publicId, ResourceLevel level, AnnotationKey key, string? value, Revision? ifMatch, CancellationToken ct)
    {
        // Orthanc: a DELETE always needs If-Match under CheckRevisions, a PUT only when it replaces a value.
        if (value is null && ifMatch is null && catalog.CheckRevisions) return new(AnnotationWriteStatus.RevisionMissing);
        (string? PatientId, string? StudyUid) who = default;
        var outcome = await transactions.ReadWriteAsync(async (tx, ct) =>
        {
            var db = tx.Db;
            var r = await db.Resources.Where(x => x.PublicId == publicId && x.Level == level).FirstOrDefaultAsync(ct);
            if (r is null) return new AnnotationWrite(AnnotationWriteStatus.UnknownResource);
            var row = await db.Metadata.FirstOrDefaultAsync(m => m.ResourceId == r.Id && m.Name == key.StoredName, ct);
            if (row is null && value is null) return new AnnotationWrite(AnnotationWriteStatus.Missing);
            if (row is not null)
            {
                if (ifMatch is null && catalog.CheckRevisions) return new AnnotationWrite(AnnotationWriteStatus.RevisionMissing);
                if (ifMatch is { } expected && !expected.Matches(row.Revision, Revision.Md5Of(row.Value))) return new AnnotationWrite(AnnotationWriteStatus.RevisionMismatch);
            }
            who = await ResourceDeletion.IdentifiersAsync(db, r, ct);
            // Orthanc logs every write of a user metadata, a deletion too, as UpdatedMetadata (Lua's OnUpdated* follow it).
            db.Changes.Add(new ChangeEntry { ChangeType = "UpdatedMetadata", Level = level, PublicId = publicId, Date = time.GetUtcNow().UtcDateTime });
            if (value is null)
            {
                db.Metadata.Remove(row!);
                return new AnnotationWrite(AnnotationWriteStatus.Done);
            }
            if (row is null) db.Metadata.Add(row = new ResourceMetadata { ResourceId = r.Id, Name = key.StoredName, Value = value });
            else { row.Value = value; row.Revision++; }
            return new AnnotationWrite(AnnotationWriteStatus.Done, new Revision(row.Revision, Revision.Md5Of(value)));
        }, ct);
        if (outcome.Status == AnnotationWriteStatus.Done)
            audit.Record(new AuditEvent(AuditActions.Modify, AuditOutcome.Success)
            {
                PatientId = who.PatientId, StudyInstanceUid = who.StudyUid, ResourceLevel = level.ToString(), ResourceId = publicId,
                Details = value is null ? $"metadata {key.DisplayName} deleted" : $"metadata {key.DisplayName} set (revision {outcome.Revision!.Value.Number})",
            });
        return outcome;
    }
}
