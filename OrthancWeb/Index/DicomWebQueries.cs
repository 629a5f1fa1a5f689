using Microsoft.EntityFrameworkCore;
using OrthancWeb.Dicom.Data;

namespace OrthancWeb.Index;

/// <summary>A stored instance as DICOMweb retrieves it: its UIDs, file and stored transfer syntax, and its JSON row (null for an instance indexed before the row existed).</summary>
public sealed record WebInstance(long RowId, string PublicId, string PatientId, string StudyUid, string SeriesUid, string SopInstanceUid, string SopClassUid,
    string TransferSyntaxUid, AttachmentInfo File, byte[]? Json);

/// <summary>What QIDO-RS answers beyond the main tags, for one match: counts below it, its studies' modalities, its SOP class and a JSON row.</summary>
public sealed record QidoExtras(long Series, long Instances, IReadOnlyList<string> Modalities, string? SopClassUid, byte[]? Json);

public sealed partial class IndexQueries
{
    private static readonly int StudyUidTag = (int)DicomTags.StudyInstanceUID.Value, SeriesUidTag = (int)DicomTags.SeriesInstanceUID.Value,
        SopUidTag = (int)DicomTags.SOPInstanceUID.Value, PatientIdTag = (int)DicomTags.PatientID.Value;

    /// <summary>
    /// The row IDs of the resources DICOMweb names by UIDs (PS3.18 10.4.1): a study, a series of that study, or an
    /// instance of that series. Usually one; more when two patients share a Study Instance UID (the public ID hashes the
    /// Patient ID in too). Each step is a seek on the (Tag, Value) index.
    /// </summary>
    public async Task<IReadOnlyList<long>> ResolveUidsAsync(string studyUid, string? seriesUid, string? sopInstanceUid, CancellationToken ct)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        var result = new List<long>(1);
        // Compiled once: a frame or a rendered image asks this on every request, and building the query each time cost
        // more than running it.
        var ids = seriesUid is null ? StudyIds.For(db)(db, studyUid)
            : sopInstanceUid is null ? SeriesIds.For(db)(db, studyUid, seriesUid)
            : InstanceIds.For(db)(db, studyUid, seriesUid, sopInstanceUid);
        await foreach (var id in ids.WithCancellation(ct)) result.Add(id);
        return result;
    }

    // Each starts from the (Tag, Value) index on the UID asked for, then checks the parents by their primary keys: a
    // query that started from Resources and asked "has a tag equal to ..." of each row read every instance.
    private static readonly ProviderCompiledQuery<Func<IndexDbContext, string, IAsyncEnumerable<long>>> StudyIds = new(() => EF.CompileAsyncQuery((IndexDbContext db, string study) =>
        from t in db.MainDicomTags
        where t.Tag == StudyUidTag && t.Value == study
        join r in db.Resources on t.ResourceId equals r.Id
        where r.Level == ResourceLevel.Study
        select r.Id));

    private static readonly ProviderCompiledQuery<Func<IndexDbContext, string, string, IAsyncEnumerable<long>>> SeriesIds = new(() => EF.CompileAsyncQuery((IndexDbContext db, string study, string series) =>
        from t in db.MainDicomTags
        where t.Tag == SeriesUidTag && t.Value == series
        join r in db.Resources on t.ResourceId equals r.Id
        where r.Level == ResourceLevel.Series && r.Parent!.Tags.Any(p => p.Tag == StudyUidTag && p.Value == study)
        select r.Id));

    private static readonly ProviderCompiledQuery<Func<IndexDbContext, string, string, string, IAsyncEnumerable<long>>> InstanceIds = new(() => EF.CompileAsyncQuery((IndexDbContext db, string study, string series, string sop) =>
        from t in db.MainDicomTags
        where t.Tag == SopUidTag && t.Value == sop
        join r in db.Resources on t.ResourceId equals r.Id
        where r.Level == ResourceLevel.Instance && r.Parent!.Tags.Any(p => p.Tag == SeriesUidTag && p.Value == series)
            && r.Parent.Parent!.Tags.Any(p => p.Tag == StudyUidTag && p.Value == study)
        select r.Id));

    /// <summary>
    /// An instance named by its three UIDs, resolved and read in one compiled statement: the path of every frame and
    /// rendered image, where resolving then reading (two contexts, one query built per request) took longer than
    /// rendering. More than one only when two patients share the UIDs.
    /// </summary>
    public async Task<IReadOnlyList<WebInstance>> WebInstanceByUidsAsync(string studyUid, string seriesUid, string sopInstanceUid, CancellationToken ct)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        var result = new List<WebInstance>(1);
        await foreach (var i in InstanceByUids.For(db)(db, studyUid, seriesUid, sopInstanceUid).WithCancellation(ct)) result.Add(i);
        if (result.Count > 1) result.Sort((a, b) => a.RowId.CompareTo(b.RowId));
        return result;
    }

    private static readonly ProviderCompiledQuery<Func<IndexDbContext, string, string, string, IAsyncEnumerable<WebInstance>>> InstanceByUids = new(() => EF.CompileAsyncQuery(
        (IndexDbContext db, string study, string series, string sop) =>
            from u in db.MainDicomTags
            where u.Tag == SopUidTag && u.Value == sop
            join r in db.Resources on u.ResourceId equals r.Id
            where r.Level == ResourceLevel.Instance
                && r.Parent!.Tags.Any(t => t.Tag == SeriesUidTag && t.Value == series)
                && r.Parent.Parent!.Tags.Any(t => t.Tag == StudyUidTag && t.Value == study)
            from a in r.Attachments
            where a.ContentType == Attachment.DicomContentType
            // No ORDER BY: SQLite would then walk the instances in Id order to spare a sort, and read them all.
            select new WebInstance(r.Id, r.PublicId,
                r.Parent!.Parent!.Parent!.Tags.Where(t => t.Tag == PatientIdTag).Select(t => t.Value).FirstOrDefault() ?? "",
                study, series, sop,
                r.Metadata.Where(m => m.Name == "SopClassUid").Select(m => m.Value).FirstOrDefault() ?? "",
                r.Metadata.Where(m => m.Name == "TransferSyntax").Select(m => m.Value).FirstOrDefault() ?? "",
                new AttachmentInfo(a.Uuid, a.UncompressedSize, a.CompressedSize, a.Checksum, a.UncompressedMd5, a.CompressedMd5, a.CompressionType == 1),
                null)));

    /// <summary>
    /// The instances below resources of one level (row IDs from <see cref="ResolveUidsAsync"/>), in series then arrival
    /// order, with what a retrieve or a metadata answer needs, in a few queries whatever their count.
    /// </summary>
    public async Task<IReadOnlyList<WebInstance>> WebInstancesAsync(ResourceLevel level, IReadOnlyList<long> ids, bool withJson, CancellationToken ct)
    {
        if (ids.Count == 0) return [];
        await using var db = await contexts.CreateDbContextAsync(ct);
        var list = ids.ToList();
        var instances = level switch
        {
            ResourceLevel.Study => db.Resources.Where(r => r.Level == ResourceLevel.Instance && r.Parent!.ParentId != null && list.Contains(r.Parent.ParentId.Value)),
            ResourceLevel.Series => db.Resources.Where(r => r.Level == ResourceLevel.Instance && r.ParentId != null && list.Contains(r.ParentId.Value)),
            _ => db.Resources.Where(r => r.Level == ResourceLevel.Instance && list.Contains(r.Id)),
        };
        var rows = await instances
            .Join(db.Attachments.Where(a => a.ContentType == Attachment.DicomContentType), r => r.Id, a => a.ResourceId, (r, a) => new { r, a })
            .OrderBy(x => x.r.ParentId).ThenBy(x => x.r.Id)
            .Select(x => new
            {
                x.r.Id,
                x.r.PublicId,
                Patient = x.r.Parent!.Parent!.Parent!.Tags.Where(t => t.Tag == PatientIdTag).Select(t => t.Value).FirstOrDefault(),
                Study = x.r.Parent!.Parent!.Tags.Where(t => t.Tag == StudyUidTag).Select(t => t.Value).FirstOrDefault(),
                Series = x.r.Parent.Tags.Where(t => t.Tag == SeriesUidTag).Select(t => t.Value).FirstOrDefault(),
                Sop = x.r.Tags.Where(t => t.Tag == SopUidTag).Select(t => t.Value).FirstOrDefault(),
                SopClass = x.r.Metadata.Where(m => m.Name == "SopClassUid").Select(m => m.Value).FirstOrDefault(),
                Syntax = x.r.Metadata.Where(m => m.Name == "TransferSyntax").Select(m => m.Value).FirstOrDefault(),
                x.a.Uuid, x.a.UncompressedSize, x.a.CompressedSize, x.a.Checksum, x.a.UncompressedMd5, x.a.CompressedMd5, x.a.CompressionType,
            }).ToListAsync(ct);
        Dictionary<long, byte[]>? json = null;
        if (withJson)
        {
            var rowIds = rows.Select(r => r.Id).ToList();
            json = new Dictionary<long, byte[]>(rowIds.Count);
            // Chunks keep the IN list of one statement within what SQLite and PostgreSQL take comfortably.
            foreach (var chunk in rowIds.Chunk(5000))
                await foreach (var j in db.InstanceJson.AsNoTracking().Where(j => chunk.Contains(j.ResourceId)).AsAsyncEnumerable().WithCancellation(ct))
                    json[j.ResourceId] = j.Data;
        }
        return rows.Select(x => new WebInstance(x.Id, x.PublicId, x.Patient ?? "", x.Study ?? "", x.Series ?? "", x.Sop ?? "", x.SopClass ?? "", x.Syntax ?? "",
            new AttachmentInfo(x.Uuid, x.UncompressedSize, x.CompressedSize, x.Checksum, x.UncompressedMd5, x.CompressedMd5, x.CompressionType == 1),
            json?.GetValueOrDefault(x.Id))).ToList();
    }

    /// <summary>
    /// QIDO-RS's computed attributes for matches of one level, by public ID: the number of series and instances below
    /// each (grouped counts, no row per instance read), the modalities of a study, an instance's SOP class, and
    /// (when <paramref name="withJson"/>) the JSON row of the instance or of the first instance below the match.
    /// </summary>
    public async Task<Dictionary<string, QidoExtras>> QidoExtrasAsync(ResourceLevel level, IReadOnlyList<string> publicIds, bool withJson, CancellationToken ct)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        var result = new Dictionary<string, QidoExtras>(StringComparer.Ordinal);
        if (publicIds.Count == 0) return result;
        var keys = publicIds.ToList();
        var rows = await db.Resources.Where(r => r.Level == level && keys.Contains(r.PublicId)).Select(r => new { r.Id, r.PublicId }).ToListAsync(ct);
        var ids = rows.Select(r => r.Id).ToList();
        Dictionary<long, int> series = [], instances = [];
        ILookup<long, string>? modalities = null;
        Dictionary<long, string> sopClasses = [];
        Dictionary<long, long> representative = [];
        switch (level)
        {
            case ResourceLevel.Study:
                series = await db.Resources.Where(r => r.ParentId != null && ids.Contains(r.ParentId.Value)).GroupBy(r => r.ParentId!.Value)
                    .Select(g => new { g.Key, Count = g.Count() }).ToDictionaryAsync(g => g.Key, g => g.Count, ct);
                instances = await db.Resources.Where(r => r.Level == ResourceLevel.Instance && r.Parent!.ParentId != null && ids.Contains(r.Parent.ParentId.Value))
                    .GroupBy(r => r.Parent!.ParentId!.Value).Select(g => new { g.Key, Count = g.Count() }).ToDictionaryAsync(g => g.Key, g => g.Count, ct);
                modalities = await ModalitiesByStudyAsync(db.Resources.Where(x => x.ParentId != null && ids.Contains(x.ParentId.Value)), ct);
                if (withJson)
                    representative = await db.Resources.Where(r => r.Level == ResourceLevel.Instance && r.Parent!.ParentId != null && ids.Contains(r.Parent.ParentId.Value))
                        .GroupBy(r => r.Parent!.ParentId!.Value).Select(g => new { g.Key, First = g.Min(r => r.Id) }).ToDictionaryAsync(g => g.Key, g => g.First, ct);
                break;
            case ResourceLevel.Series:
                instances = await db.Resources.Where(r => r.ParentId != null && ids.Contains(r.ParentId.Value)).GroupBy(r => r.ParentId!.Value)
                    .Select(g => new { g.Key, Count = g.Count() }).ToDictionaryAsync(g => g.Key, g => g.Count, ct);
                if (withJson)
                    representative = await db.Resources.Where(r => r.ParentId != null && ids.Contains(r.ParentId.Value)).GroupBy(r => r.ParentId!.Value)
                        .Select(g => new { g.Key, First = g.Min(r => r.Id) }).ToDictionaryAsync(g => g.Key, g => g.First, ct);
                break;
            case ResourceLevel.Instance:
                sopClasses = await db.Metadata.Where(m => ids.Contains(m.ResourceId) && m.Name == "SopClassUid").ToDictionaryAsync(m => m.ResourceId, m => m.Value, ct);
                if (withJson) representative = ids.ToDictionary(i => i, i => i);
                break;
        }
        Dictionary<long, byte[]> json = [];
        if (representative.Count > 0)
        {
            var wanted = representative.Values.Distinct().ToList();
            json = await db.InstanceJson.AsNoTracking().Where(j => wanted.Contains(j.ResourceId)).ToDictionaryAsync(j => j.ResourceId, j => j.Data, ct);
        }
        foreach (var r in rows)
            result[r.PublicId] = new QidoExtras(series.GetValueOrDefault(r.Id), instances.GetValueOrDefault(r.Id),
                modalities?[r.Id].Order(StringComparer.Ordinal).ToList() ?? [], sopClasses.GetValueOrDefault(r.Id),
                representative.TryGetValue(r.Id, out var rep) ? json.GetValueOrDefault(rep) : null);
        return result;
    }

    /// <summary>The public IDs of instances of these whose SOP Class UID is one of <paramref name="sopClasses"/> (kept as instance metadata, not a main tag).</summary>
    public async Task<HashSet<string>> WithSopClassAsync(IReadOnlyList<string> instancePublicIds, IReadOnlyList<string> sopClasses, CancellationToken ct)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        var (keys, classes) = (instancePublicIds.ToList(), sopClasses.ToList());
        return [.. await db.Resources.Where(r => keys.Contains(r.PublicId) && r.Metadata.Any(m => m.Name == "SopClassUid" && classes.Contains(m.Value)))
            .Select(r => r.PublicId).ToListAsync(ct)];
    }
}
