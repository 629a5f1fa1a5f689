using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Linq.Expressions;
using Microsoft.EntityFrameworkCore;
using OrthancWeb.Dicom.Data;

namespace OrthancWeb.Index;

/// <summary>A resource as the REST API and the UI show it.</summary>
public sealed record ResourceInfo(
    ResourceLevel Level,
    string PublicId,
    string? ParentId,
    IReadOnlyList<string> ChildrenIds,
    IReadOnlyDictionary<DicomTag, string> MainDicomTags,
    IReadOnlyDictionary<DicomTag, string>? PatientMainDicomTags,
    bool IsStable,
    DateTime LastUpdate,
    bool IsProtected,
    AttachmentInfo? File,
    IReadOnlyDictionary<string, string> Metadata)
{
    /// <summary>The resource's labels, sorted; null unless <see cref="ResourceParts.Labels"/> was asked for.</summary>
    public IReadOnlyList<string>? Labels { get; init; }

    /// <summary>Every file attached to the resource, by content type; null unless <see cref="ResourceParts.Attachments"/> was asked for.</summary>
    public IReadOnlyList<ResourceAttachment>? Attachments { get; init; }
}

/// <summary>One attachment of a resource: its content type (1 the DICOM file, 1024-65535 a user's) and its file.</summary>
public sealed record ResourceAttachment(int ContentType, AttachmentInfo File);

/// <summary>
/// What <see cref="IndexQueries.GetAsync(string, ResourceLevel?, ResourceParts, CancellationToken)"/> reads besides the
/// resource's own row (ID, level, parent, stability, protection, last update): each part is a query of its own, so a
/// caller that needs fewer parts (Orthanc 1.12.5's ResponseContent in /tools/find) makes fewer round trips.
/// </summary>
[Flags]
public enum ResourceParts
{
    None = 0,
    /// <summary>The main tags, and for a study its patient's.</summary>
    MainDicomTags = 1,
    Children = 2,
    Metadata = 4,
    /// <summary>An instance's DICOM file.</summary>
    File = 8,
    Labels = 16,
    Attachments = 32,
    /// <summary>What GET /{level}/{id} and an expanded find show.</summary>
    Expanded = MainDicomTags | Children | Metadata | File,
}

/// <param name="UncompressedMd5">Empty until first asked for: see <see cref="Storage.InstanceFiles.Md5Async"/>.</param>
public sealed record AttachmentInfo(string Uuid, long UncompressedSize, long CompressedSize, string Checksum, string UncompressedMd5, string CompressedMd5, bool Compressed);

/// <summary>One constraint of a find: tag and the value to match, as Orthanc's /tools/find and C-FIND take them.</summary>
public sealed record FindConstraint(DicomTag Tag, string Value);

/// <param name="PersonNamesIgnoreCase">
/// Person names match case-insensitively whatever <paramref name="CaseSensitive"/> says, as PS3.4 C.2.2.2.1 allows for
/// PN and Orthanc does by default (CaseSensitivePN false): C-FIND and QIDO-RS.
/// </param>
/// <param name="Labels">Orthanc 1.12's labels of /tools/find, matched as <paramref name="LabelsConstraint"/> says.</param>
/// <param name="OrderBy">Orthanc 1.12.5's OrderBy: the keys the answers are sorted by before Since and Limit apply.</param>
public sealed record FindRequest(ResourceLevel Level, IReadOnlyList<FindConstraint> Constraints, bool CaseSensitive = true, int? Limit = null, int Since = 0,
    bool PersonNamesIgnoreCase = false, IReadOnlyList<string>? Labels = null, LabelsConstraint LabelsConstraint = LabelsConstraint.All,
    IReadOnlyList<FindOrder>? OrderBy = null);

/// <summary>
/// One key of a find's order: a main DICOM tag of the resource's level or of an ancestor's, or a metadata of the resource
/// (its stored name). Values compare byte by byte (collation C on PostgreSQL, BINARY on SQLite); resources without the
/// value come last, whichever the direction.
/// </summary>
public sealed record FindOrder(DicomTag? Tag, string? Metadata, bool Descending);

/// <summary>How the labels of a find match (Orthanc 1.12's LabelsConstraint): the resource has all of them, any, or none.</summary>
public enum LabelsConstraint { All, Any, None }

public sealed record Statistics(long CountPatients, long CountStudies, long CountSeries, long CountInstances, long TotalDiskSize, long TotalUncompressedSize);

/// <summary>Counts and sizes below one resource (Orthanc's /{level}/{id}/statistics).</summary>
/// <summary>
/// A resource's counts and sizes: <see cref="DiskSize"/> and <see cref="UncompressedSize"/> count every attachment of
/// the resource and of those below it, the Dicom* sizes the DICOM files only (Orthanc's statistics fields).
/// </summary>
public sealed record ResourceStatistics(long CountStudies, long CountSeries, long CountInstances, long DiskSize, long UncompressedSize,
    long DicomDiskSize = 0, long DicomUncompressedSize = 0);

public sealed record ChangeInfo(long Seq, string ChangeType, ResourceLevel Level, string PublicId, DateTime Date);

/// <summary>Read side of the index, shared by the REST API and the UI.</summary>
public sealed partial class IndexQueries(IDbContextFactory<IndexDbContext> contexts)
{
    private long _labelsVersion;

    /// <summary>Labels changed: the explorer's cached counts of lists filtered by a label are stale (labels are not in /changes).</summary>
    public void LabelsChanged() => Interlocked.Increment(ref _labelsVersion);

    public async Task<IReadOnlyList<string>> ListAsync(ResourceLevel level, int since, int? limit, CancellationToken ct)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        var q = db.Resources.Where(r => r.Level == level).OrderBy(r => r.Id).Skip(since);
        if (limit is { } l && l > 0) q = q.Take(l);
        return await q.Select(r => r.PublicId).ToListAsync(ct);
    }

    private sealed record ResourceHeader(long Id, ResourceLevel Level, string PublicId, string? ParentPublicId, long? ParentId, bool IsStable, DateTime LastUpdate, bool IsProtected);

    // GetAsync serves every resource route and every expanded find: its queries are compiled once (EF's LINQ
    // translation cost more than SQLite's own work on these one-row lookups). Level -1 means any level.
    private static readonly ProviderCompiledQuery<Func<IndexDbContext, string, int, CancellationToken, Task<ResourceHeader?>>> HeaderQuery = new(() =>
        EF.CompileAsyncQuery((IndexDbContext db, string publicId, int level, CancellationToken ct) => db.Resources.AsNoTracking()
            .Where(x => x.PublicId == publicId && (level < 0 || (int)x.Level == level))
            .Select(x => new ResourceHeader(x.Id, x.Level, x.PublicId, x.Parent != null ? x.Parent.PublicId : null, x.ParentId, x.IsStable, x.LastUpdate, x.IsProtected))
            .FirstOrDefault()));

    private static readonly ProviderCompiledQuery<Func<IndexDbContext, long, IAsyncEnumerable<MainDicomTag>>> TagsQuery = new(() =>
        EF.CompileAsyncQuery((IndexDbContext db, long id) => db.MainDicomTags.AsNoTracking().Where(t => t.ResourceId == id)));

    private static readonly ProviderCompiledQuery<Func<IndexDbContext, long, IAsyncEnumerable<string>>> ChildrenQuery = new(() =>
        EF.CompileAsyncQuery((IndexDbContext db, long id) => db.Resources.Where(c => c.ParentId == id).OrderBy(c => c.Id).Select(c => c.PublicId)));

    private static readonly ProviderCompiledQuery<Func<IndexDbContext, long, IAsyncEnumerable<ResourceMetadata>>> MetadataQuery = new(() =>
        EF.CompileAsyncQuery((IndexDbContext db, long id) => db.Metadata.AsNoTracking().Where(m => m.ResourceId == id)));

    private static readonly ProviderCompiledQuery<Func<IndexDbContext, long, CancellationToken, Task<AttachmentInfo?>>> FileQuery = new(() =>
        EF.CompileAsyncQuery((IndexDbContext db, long id, CancellationToken ct) => db.Attachments
            .Where(a => a.ResourceId == id && a.ContentType == Attachment.DicomContentType)
            .Select(a => new AttachmentInfo(a.Uuid, a.UncompressedSize, a.CompressedSize, a.Checksum, a.UncompressedMd5, a.CompressedMd5, a.CompressionType == 1))
            .FirstOrDefault()));

    private static readonly ProviderCompiledQuery<Func<IndexDbContext, long, IAsyncEnumerable<string>>> LabelsQuery = new(() =>
        EF.CompileAsyncQuery((IndexDbContext db, long id) => db.Labels.Where(l => l.ResourceId == id).Select(l => l.Label)));

    private static readonly ProviderCompiledQuery<Func<IndexDbContext, long, IAsyncEnumerable<ResourceAttachment>>> AttachmentsQuery = new(() =>
        EF.CompileAsyncQuery((IndexDbContext db, long id) => db.Attachments.Where(a => a.ResourceId == id).OrderBy(a => a.ContentType)
            .Select(a => new ResourceAttachment(a.ContentType,
                new AttachmentInfo(a.Uuid, a.UncompressedSize, a.CompressedSize, a.Checksum, a.UncompressedMd5, a.CompressedMd5, a.CompressionType == 1)))));

    public Task<ResourceInfo?> GetAsync(string publicId, ResourceLevel? level, CancellationToken ct) =>
        GetAsync(publicId, level, ResourceParts.Expanded, ct);

    /// <summary>A resource with only the <paramref name="parts"/> asked for read (the others empty or null).</summary>
    public async Task<ResourceInfo?> GetAsync(string publicId, ResourceLevel? level, ResourceParts parts, CancellationToken ct)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        var r = await HeaderQuery.For(db)(db, publicId, level is { } l ? (int)l : -1, ct);
        if (r is null) return null;
        var tags = parts.HasFlag(ResourceParts.MainDicomTags) ? await TagsOf(db, r.Id, ct) : new Dictionary<DicomTag, string>();
        var children = new List<string>();
        if (r.Level != ResourceLevel.Instance && parts.HasFlag(ResourceParts.Children))
            await foreach (var c in ChildrenQuery.For(db)(db, r.Id).WithCancellation(ct)) children.Add(c);
        IReadOnlyDictionary<DicomTag, string>? patientTags = null;
        if (r.Level == ResourceLevel.Study && r.ParentId is { } pid && parts.HasFlag(ResourceParts.MainDicomTags))
            patientTags = await TagsOf(db, pid, ct);
        var file = r.Level == ResourceLevel.Instance && parts.HasFlag(ResourceParts.File) ? await FileQuery.For(db)(db, r.Id, ct) : null;
        var metadata = new Dictionary<string, string>();
        if (parts.HasFlag(ResourceParts.Metadata))
            await foreach (var m in MetadataQuery.For(db)(db, r.Id).WithCancellation(ct)) metadata[m.Name] = m.Value;
        List<string>? labels = null;
        if (parts.HasFlag(ResourceParts.Labels))
        {
            labels = [];
            await foreach (var label in LabelsQuery.For(db)(db, r.Id).WithCancellation(ct)) labels.Add(label);
            labels.Sort(StringComparer.Ordinal);
        }
        List<ResourceAttachment>? attachments = null;
        if (parts.HasFlag(ResourceParts.Attachments))
        {
            attachments = [];
            await foreach (var a in AttachmentsQuery.For(db)(db, r.Id).WithCancellation(ct)) attachments.Add(a);
        }
        return new ResourceInfo(r.Level, r.PublicId, r.ParentPublicId, children, tags, patientTags, r.IsStable, r.LastUpdate, r.IsProtected, file, metadata)
        {
            Labels = labels,
            Attachments = attachments,
        };
    }

    private static async Task<IReadOnlyDictionary<DicomTag, string>> TagsOf(IndexDbContext db, long id, CancellationToken ct)
    {
        var tags = new Dictionary<DicomTag, string>();
        await foreach (var t in TagsQuery.For(db)(db, id).WithCancellation(ct)) tags[new DicomTag((uint)t.Tag)] = t.Value;
        return tags;
    }

    /// <summary>Public IDs of the resources at <paramref name="target"/> level under (or above) a resource.</summary>
    public async Task<IReadOnlyList<string>?> RelativesAsync(string publicId, ResourceLevel level, ResourceLevel target, CancellationToken ct)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        var start = await db.Resources.Where(r => r.PublicId == publicId && r.Level == level).Select(r => new { r.Id, r.ParentId }).FirstOrDefaultAsync(ct);
        if (start is null) return null;
        var ids = new List<long> { start.Id };
        if (target >= level)
        {
            for (var l = level; l < target; l++)
            {
                var parents = ids;
                ids = await db.Resources.Where(r => r.ParentId != null && parents.Contains(r.ParentId.Value)).OrderBy(r => r.Id).Select(r => r.Id).ToListAsync(ct);
            }
        }
        else
        {
            for (var l = level; l > target; l--)
            {
                var children = ids;
                ids = await db.Resources.Where(r => children.Contains(r.Id) && r.ParentId != null).Select(r => r.ParentId!.Value).Distinct().ToListAsync(ct);
            }
        }
        return await db.Resources.Where(r => ids.Contains(r.Id)).OrderBy(r => r.Id).Select(r => r.PublicId).ToListAsync(ct);
    }

    /// <summary>
    /// The instance a resource's module is read from, as orthanc 1.10.1 picks it (seen from the binary): the most
    /// recently created child at each level down, so the newest series of the newest study, and its newest instance.
    /// Null for an unknown resource.
    /// </summary>
    public async Task<string?> NewestDescendantInstanceAsync(string publicId, ResourceLevel level, CancellationToken ct)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        var id = await db.Resources.Where(r => r.PublicId == publicId && r.Level == level).Select(r => (long?)r.Id).FirstOrDefaultAsync(ct);
        for (var l = level; id is { } parent && l < ResourceLevel.Instance; l++)
            id = await db.Resources.Where(r => r.ParentId == parent).MaxAsync(r => (long?)r.Id, ct);
        return id is { } found ? await db.Resources.Where(r => r.Id == found).Select(r => r.PublicId).FirstAsync(ct) : null;
    }

    /// <summary>The instance files under a resource, for archives and sends.</summary>
    public async Task<IReadOnlyList<(string InstanceId, AttachmentInfo File)>> InstanceFilesAsync(string publicId, CancellationToken ct)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        var r = await db.Resources.Where(x => x.PublicId == publicId).Select(x => new { x.Level }).FirstOrDefaultAsync(ct);
        if (r is null) return [];
        var ids = await RelativesAsync(publicId, r.Level, ResourceLevel.Instance, ct) ?? [];
        return await db.Attachments.Where(a => a.ContentType == Attachment.DicomContentType)
            .Join(db.Resources.Where(x => ids.Contains(x.PublicId)), a => a.ResourceId, x => x.Id,
                (a, x) => new { x.PublicId, a.Uuid, a.UncompressedSize, a.CompressedSize, a.Checksum, a.UncompressedMd5, a.CompressedMd5, a.CompressionType })
            .Select(x => new ValueTuple<string, AttachmentInfo>(x.PublicId, new AttachmentInfo(x.Uuid, x.UncompressedSize, x.CompressedSize, x.Checksum, x.UncompressedMd5, x.CompressedMd5, x.CompressionType == 1)))
            .ToListAsync(ct);
    }

    /// <summary>
    /// Finds resources by main DICOM tags with the matching rules of PS3.4 §C.2.2.2: universal (empty or "*"), single
    /// value, wildcards "*" and "?", lists "A\B", and ranges "A-B", "-B", "A-" for dates and times. A tag of another
    /// level constrains the ancestor (e.g. PatientName for a study) or some descendant (e.g. Modality for a study).
    /// </summary>
    public async Task<IReadOnlyList<string>> FindAsync(FindRequest request, CancellationToken ct)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        var level = request.Level;
        // Each constraint is resolved to the set of matching resources at the query level, walking the hierarchy on
        // indexed ParentId lookups from the level that holds the tag; the sets are then intersected. Every step is
        // an index seek, so a find costs what it returns, not the size of the index.
        HashSet<long>? result = null;
        foreach (var c in request.Constraints)
        {
            ct.ThrowIfCancellationRequested();
            var value = c.Value;
            if (value.Length == 0 || value == "*") continue;
            var (tag, tagLevel) = Searchable(c.Tag);
            var caseSensitive = request.CaseSensitive && !(request.PersonNamesIgnoreCase && DicomDictionary.Find(tag)?.DefaultVR == DicomVR.PN);
            var tags = Matching(db, tag, value, caseSensitive, out var wildcard);
            List<long> ids;
            if (wildcard is null)
                ids = await tags.Select(t => t.ResourceId).ToListAsync(ct);
            else
            {
                // The index narrows by LIKE on the upper-case value; the case-sensitive match is ours, in linear time,
                // and a cancelled request (the client gone) stops here rather than after every row.
                ids = [];
                var rows = 0;
                await foreach (var t in tags.Select(t => new { t.ResourceId, t.Value }).AsAsyncEnumerable().WithCancellation(ct))
                {
                    if (++rows % 1024 == 0) ct.ThrowIfCancellationRequested();
                    if (wildcard.IsMatch(t.Value)) ids.Add(t.ResourceId);
                }
                ct.ThrowIfCancellationRequested();
            }
            ids = await MoveToLevelAsync(db, ids, tagLevel, level, ct);
            if (result is null) result = [.. ids];
            else result.IntersectWith(ids);
            if (result.Count == 0) return [];
        }
        IQueryable<Resource> q = db.Resources.Where(r => r.Level == level);
        if (result is not null)
        {
            var list = result.ToList();
            q = q.Where(r => list.Contains(r.Id));
        }
        if (request.Labels is { Count: > 0 } labels)
        {
            var wanted = labels.Distinct().ToList();
            q = request.LabelsConstraint switch
            {
                // Labels are unique per resource (the key), so counting the wanted ones it has tells all from some.
                LabelsConstraint.All => q.Where(r => r.Labels.Count(l => wanted.Contains(l.Label)) == wanted.Count),
                LabelsConstraint.Any => q.Where(r => r.Labels.Any(l => wanted.Contains(l.Label))),
                _ => q.Where(r => !r.Labels.Any(l => wanted.Contains(l.Label))),
            };
        }
        var paged = Ordered(db, q, level, request.OrderBy ?? []).Skip(request.Since);
        if (request.Limit is { } limit && limit > 0) paged = paged.Take(limit);
        return await paged.Select(r => r.PublicId).ToListAsync(ct);
    }

    /// <summary>The answers of a find in the order asked, then by row ID (a stable order for Since and Limit to page on).</summary>
    private static IOrderedQueryable<Resource> Ordered(IndexDbContext db, IQueryable<Resource> q, ResourceLevel level, IReadOnlyList<FindOrder> keys)
    {
        IOrderedQueryable<Resource>? ordered = null;
        foreach (var key in keys)
        {
            var value = ValueOf(db, key, level);
            var missing = Expression.Lambda<Func<Resource, bool>>(Expression.Equal(value.Body, Expression.Constant(null, typeof(string))), value.Parameters);
            ordered = ordered is null ? q.OrderBy(missing) : ordered.ThenBy(missing);
            ordered = key.Descending ? ordered.ThenByDescending(value) : ordered.ThenBy(value);
        }
        return ordered is null ? q.OrderBy(r => r.Id) : ordered.ThenBy(r => r.Id);
    }

    /// <summary>A correlated lookup of the value an order key names, for one resource of the find's level.</summary>
    private static Expression<Func<Resource, string?>> ValueOf(IndexDbContext db, FindOrder key, ResourceLevel level)
    {
        if (key.Metadata is { } name)
            return r => db.Metadata.Where(m => m.ResourceId == r.Id && m.Name == name).Select(m => m.Value).FirstOrDefault();
        var tag = key.Tag!.Value;
        var tagLevel = MainDicomTags.LevelOf(tag) ?? throw new FindException($"{DicomDictionary.Find(tag)?.Keyword ?? tag.ToString()} is not a main DICOM tag: answers cannot be ordered by it");
        if (tagLevel > level) throw new FindException($"{DicomDictionary.Find(tag)?.Keyword} belongs to the {tagLevel} level: {level} answers cannot be ordered by it");
        var number = (int)tag.Value;
        // The tag is the resource's own, or its parent's, grandparent's or great-grandparent's.
        return (level - tagLevel) switch
        {
            0 => r => db.MainDicomTags.Where(t => t.ResourceId == r.Id && t.Tag == number).Select(t => t.Value).FirstOrDefault(),
            1 => r => db.MainDicomTags.Where(t => t.ResourceId == r.ParentId && t.Tag == number).Select(t => t.Value).FirstOrDefault(),
            2 => r => db.MainDicomTags.Where(t => t.ResourceId == r.Parent!.ParentId && t.Tag == number).Select(t => t.Value).FirstOrDefault(),
            _ => r => db.MainDicomTags.Where(t => t.ResourceId == r.Parent!.Parent!.ParentId && t.Tag == number).Select(t => t.Value).FirstOrDefault(),
        };
    }

    /// <summary>The index tag a constraint searches (Modalities in Study is its series' Modality) and the level holding it.</summary>
    private static (DicomTag Tag, ResourceLevel Level) Searchable(DicomTag requested)
    {
        var tag = requested == DicomTags.ModalitiesInStudy ? DicomTags.Modality : requested;
        var level = MainDicomTags.LevelOf(tag)
            ?? throw new FindException($"{DicomDictionary.Find(tag)?.Keyword ?? tag.ToString()} is not a main DICOM tag and cannot be searched in the index");
        return (tag, level);
    }

    /// <summary>Resource IDs at <paramref name="from"/> level mapped to their ancestors or descendants at <paramref name="to"/>.</summary>
    private static async Task<List<long>> MoveToLevelAsync(IndexDbContext db, List<long> ids, ResourceLevel from, ResourceLevel to, CancellationToken ct)
    {
        for (var l = from; l < to && ids.Count > 0; l++)
        {
            var parents = ids;
            ids = await db.Resources.Where(r => r.ParentId != null && parents.Contains(r.ParentId.Value)).Select(r => r.Id).ToListAsync(ct);
        }
        for (var l = from; l > to && ids.Count > 0; l--)
        {
            var children = ids;
            ids = await db.Resources.Where(r => children.Contains(r.Id) && r.ParentId != null).Select(r => r.ParentId!.Value).Distinct().ToListAsync(ct);
        }
        return ids;
    }

    [SuppressMessage("Globalization", "CA1309:Use ordinal string comparison",
        Justification = "EF Core translates string.Compare(a, b) alone, to SQL's < and >, which SQLite evaluates byte by byte (BINARY collation), never by culture; the overloads with a StringComparison cannot be translated.")]
    private static IQueryable<MainDicomTag> Matching(IndexDbContext db, DicomTag tag, string value, bool caseSensitive, out WildcardPattern? wildcard)
    {
        wildcard = null;
        var tagValue = (int)tag.Value;
        var tags = db.MainDicomTags.Where(t => t.Tag == tagValue);
        var vr = DicomDictionary.Find(tag)?.DefaultVR;
        var isDateTime = vr == DicomVR.DA || vr == DicomVR.TM || vr == DicomVR.DT;

        if (value.Contains('\\'))
        {
            var list = value.Split('\\').Where(v => v.Length > 0).ToList();
            if (caseSensitive) return tags.Where(t => list.Contains(t.Value));
            var upper = list.Select(v => v.ToUpperInvariant()).ToList();
            return tags.Where(t => upper.Contains(t.ValueUpper));
        }
        if (isDateTime && value.Contains('-'))
        {
            var dash = value.IndexOf('-');
            var lo = value[..dash].Trim();
            var hi = value[(dash + 1)..].Trim();
            if (lo.Length > 0) tags = tags.Where(t => string.Compare(t.Value, lo) >= 0);
            // An upper date bound includes the whole day: "20240131" admits "20240131" and any time on it.
            if (hi.Length > 0) { var hiMax = hi + "\uffff"; tags = tags.Where(t => string.Compare(t.Value, hiMax) <= 0); }
            return tags;
        }
        if (value.Contains('*') || value.Contains('?'))
        {
            var like = new System.Text.StringBuilder();
            foreach (var ch in value)
            {
                like.Append(ch switch { '*' => "%", '?' => "_", '%' => "\\%", '_' => "\\_", '\\' => "\\\\", _ => ch.ToString() });
            }
            var pattern = like.ToString().ToUpperInvariant();
            if (caseSensitive)
                wildcard = new WildcardPattern(value, ignoreCase: false);
            // A pattern starting with text ("DOE*", what a name typed without wildcards becomes) also gets that prefix
            // as a range, which the index seeks: LIKE alone reads every value of the tag.
            var prefix = value[..value.IndexOfAny(['*', '?'])].ToUpperInvariant();
            if (prefix.Length > 0 && !char.IsSurrogate(prefix[^1]) && prefix[^1] < char.MaxValue)
            {
                var after = prefix[..^1] + (char)(prefix[^1] + 1);
                tags = tags.Where(t => string.Compare(t.ValueUpper, prefix) >= 0 && string.Compare(t.ValueUpper, after) < 0);
            }
            return tags.Where(t => EF.Functions.Like(t.ValueUpper, pattern, "\\"));
        }
        if (caseSensitive) return tags.Where(t => t.Value == value);
        var u = value.ToUpperInvariant();
        return tags.Where(t => t.ValueUpper == u);
    }

    /// <summary>
    /// Main tags of many resources of one level, each merged with its ancestors' (the resource's own win), in a
    /// handful of queries whatever the count: what a C-FIND needs to answer every match.
    /// </summary>
    public async Task<Dictionary<string, Dictionary<DicomTag, string>>> TagsWithAncestorsAsync(IReadOnlyList<string> publicIds, CancellationToken ct)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        var rows = await db.Resources.Where(r => publicIds.Contains(r.PublicId)).Select(r => new { r.Id, r.PublicId, r.ParentId }).ToListAsync(ct);
        var parentOf = rows.ToDictionary(r => r.Id, r => r.ParentId);
        var frontier = rows.Where(r => r.ParentId != null).Select(r => r.ParentId!.Value).Distinct().ToList();
        while (frontier.Count > 0)
        {
            var current = frontier;
            var parents = await db.Resources.Where(r => current.Contains(r.Id)).Select(r => new { r.Id, r.ParentId }).ToListAsync(ct);
            foreach (var p in parents) parentOf[p.Id] = p.ParentId;
            frontier = parents.Where(p => p.ParentId != null && !parentOf.ContainsKey(p.ParentId.Value)).Select(p => p.ParentId!.Value).Distinct().ToList();
        }
        var all = parentOf.Keys.ToList();
        var tags = (await db.MainDicomTags.Where(t => all.Contains(t.ResourceId)).Select(t => new { t.ResourceId, t.Tag, t.Value }).ToListAsync(ct))
            .GroupBy(t => t.ResourceId).ToDictionary(g => g.Key, g => g.ToList());
        var result = new Dictionary<string, Dictionary<DicomTag, string>>(StringComparer.Ordinal);
        foreach (var r in rows)
        {
            var merged = new Dictionary<DicomTag, string>();
            for (long? id = r.Id; id is { } x; id = parentOf.GetValueOrDefault(x))
                foreach (var t in tags.GetValueOrDefault(x) ?? []) merged.TryAdd(new DicomTag((uint)t.Tag), t.Value);
            result[r.PublicId] = merged;
        }
        return result;
    }

    private static readonly ProviderCompiledQuery<Func<IndexDbContext, string, CancellationToken, Task<AttachmentInfo?>>> AttachmentOfInstance = new(() =>
        EF.CompileAsyncQuery((IndexDbContext db, string publicId, CancellationToken ct) =>
            db.Resources.Where(r => r.PublicId == publicId && r.Level == ResourceLevel.Instance)
                .Join(db.Attachments.Where(a => a.ContentType == Attachment.DicomContentType), r => r.Id, a => a.ResourceId,
                    (r, a) => new AttachmentInfo(a.Uuid, a.UncompressedSize, a.CompressedSize, a.Checksum, a.UncompressedMd5, a.CompressedMd5, a.CompressionType == 1))
                .FirstOrDefault()));

    /// <summary>The DICOM file of an instance in one query: the hot path of every image and file request.</summary>
    public async Task<AttachmentInfo?> AttachmentAsync(string instancePublicId, CancellationToken ct)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        return await AttachmentOfInstance.For(db)(db, instancePublicId, ct);
    }

    /// <summary>/tools/lookup: which resources carry this DICOM identifier (PatientID, Study/Series/SOP Instance UID).</summary>
    public async Task<IReadOnlyList<(ResourceLevel Level, string PublicId)>> LookupAsync(string identifier, CancellationToken ct)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        var idTags = new[] { (int)DicomTags.PatientID.Value, (int)DicomTags.StudyInstanceUID.Value, (int)DicomTags.SeriesInstanceUID.Value, (int)DicomTags.SOPInstanceUID.Value, (int)DicomTags.AccessionNumber.Value };
        var rows = await db.MainDicomTags.Where(t => idTags.Contains(t.Tag) && t.Value == identifier)
            .Join(db.Resources, t => t.ResourceId, r => r.Id, (t, r) => new { r.Level, r.PublicId, r.Id })
            .OrderBy(x => x.Level).ThenBy(x => x.Id).ToListAsync(ct);
        return rows.Select(x => (x.Level, x.PublicId)).Distinct().ToList();
    }

    public async Task<(IReadOnlyList<ChangeInfo> Changes, long Last, bool Done)> ChangesAsync(long since, int limit, CancellationToken ct)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        var rows = await db.Changes.Where(c => c.Seq > since).OrderBy(c => c.Seq).Take(limit + 1)
            .Select(c => new ChangeInfo(c.Seq, c.ChangeType, c.Level, c.PublicId, c.Date)).ToListAsync(ct);
        var done = rows.Count <= limit;
        if (!done) rows.RemoveAt(rows.Count - 1);
        var last = rows.Count > 0 ? rows[^1].Seq : await LastSeqAsync(db, ct);
        return (rows, last, done);
    }

    /// <summary>The highest change number given so far, kept when DELETE /changes emptied the log (as Orthanc's "Last").</summary>
    public async Task<long> LastSeqAsync(CancellationToken ct)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        return await LastSeqAsync(db, ct);
    }

    private static async Task<long> LastSeqAsync(IndexDbContext db, CancellationToken ct)
    {
        var cleared = await db.GlobalProperties.Where(p => p.Name == ChangeLogClearing.ClearedProperty).Select(p => p.Value).FirstOrDefaultAsync(ct);
        return Math.Max(await db.Changes.MaxAsync(c => (long?)c.Seq, ct) ?? 0, ChangeLogClearing.Parse(cleared));
    }

    public async Task<ChangeInfo?> LastChangeAsync(CancellationToken ct)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        return await db.Changes.OrderByDescending(c => c.Seq).Select(c => new ChangeInfo(c.Seq, c.ChangeType, c.Level, c.PublicId, c.Date)).FirstOrDefaultAsync(ct);
    }

    /// <summary>Descendant counts and attachment sizes of one resource, or null when it does not exist.</summary>
    public async Task<ResourceStatistics?> ResourceStatisticsAsync(string publicId, ResourceLevel level, CancellationToken ct)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        var root = await db.Resources.Where(r => r.PublicId == publicId && r.Level == level).Select(r => (long?)r.Id).FirstOrDefaultAsync(ct);
        if (root is not { } id) return null;
        // One query per level below the resource, walking parent links (the depth is fixed by the DICOM model).
        IQueryable<Resource> Below(int depth) => depth switch
        {
            0 => db.Resources.Where(r => r.Id == id),
            1 => db.Resources.Where(r => r.ParentId == id),
            2 => db.Resources.Where(r => r.Parent!.ParentId == id),
            _ => db.Resources.Where(r => r.Parent!.Parent!.ParentId == id),
        };
        long studies = level == ResourceLevel.Patient ? await Below(1).LongCountAsync(ct) : level == ResourceLevel.Study ? 1 : 0;
        long series = level switch
        {
            ResourceLevel.Patient => await Below(2).LongCountAsync(ct),
            ResourceLevel.Study => await Below(1).LongCountAsync(ct),
            ResourceLevel.Series => 1,
            _ => 0,
        };
        var instances = Below(ResourceLevel.Instance - level).Select(r => r.Id);
        var sizes = await db.Attachments.Where(a => a.ContentType == Attachment.DicomContentType && instances.Contains(a.ResourceId))
            .GroupBy(_ => 1).Select(g => new { Count = g.LongCount(), Disk = g.Sum(a => a.CompressedSize), Raw = g.Sum(a => a.UncompressedSize) })
            .FirstOrDefaultAsync(ct);
        // Every attachment of the resource and its descendants: the DICOM files and the user attachments (any level).
        var subtree = Below(0).Select(r => r.Id);
        for (var depth = 1; depth <= ResourceLevel.Instance - level; depth++) subtree = subtree.Concat(Below(depth).Select(r => r.Id));
        var all = await db.Attachments.Where(a => subtree.Contains(a.ResourceId))
            .GroupBy(_ => 1).Select(g => new { Disk = g.Sum(a => a.CompressedSize), Raw = g.Sum(a => a.UncompressedSize) })
            .FirstOrDefaultAsync(ct);
        return new ResourceStatistics(studies, series, sizes?.Count ?? 0, all?.Disk ?? 0, all?.Raw ?? 0, sizes?.Disk ?? 0, sizes?.Raw ?? 0);
    }

    public async Task<Statistics> StatisticsAsync(CancellationToken ct)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        return await IndexCounters.ReadAsync(db, ct);
    }
}

/// <summary>A find that the index cannot answer as asked (HTTP 400).</summary>
public sealed class FindException(string message) : OrthancWeb.Dicom.DicomValidationException(message);
