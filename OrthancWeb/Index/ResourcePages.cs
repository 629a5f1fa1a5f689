using System.Collections.Concurrent;
using System.Linq.Expressions;
using Microsoft.EntityFrameworkCore;
using OrthancWeb.Dicom.Data;

namespace OrthancWeb.Index;

/// <summary>One page of a list and how many items match in all.</summary>
public sealed record ResourcePage<T>(int Total, IReadOnlyList<T> Items);

/// <summary>
/// Which resources a page shows and in which order. Constraints match as <see cref="IndexQueries.FindAsync"/> matches them
/// (PS3.4 §C.2.2.2), regardless of case; <paramref name="SortBy"/> is a main tag of the listed level or of its parent's,
/// compared regardless of case. A resource without that tag sorts as an empty value (first ascending, last descending),
/// and ties go by row, so that descending is exactly ascending reversed and no row shows on two pages.
/// </summary>
/// <param name="Label">Only resources with this label (the explorer's label filter).</param>
public sealed record PageRequest(IReadOnlyList<FindConstraint> Constraints, DicomTag SortBy, bool Descending, int Skip, int Take, string? Label = null);

/// <summary>A patient with what is stored below it.</summary>
public sealed record PatientSummary(string PublicId, IReadOnlyDictionary<DicomTag, string> MainDicomTags, bool IsProtected, long CountStudies, long CountInstances, long DiskSize);

/// <summary>A study with its patient's main tags, what is stored below it and the distinct modalities of its series.</summary>
public sealed record StudySummary(string PublicId, IReadOnlyDictionary<DicomTag, string> MainDicomTags, IReadOnlyDictionary<DicomTag, string> PatientMainDicomTags,
    long CountSeries, long CountInstances, long DiskSize, IReadOnlyList<string> ModalitiesInStudy, string PatientPublicId, DateTime LastUpdate);

/// <summary>A series with its instance count and the middle one of its instances (in index order), for a preview.</summary>
public sealed record SeriesSummary(string PublicId, IReadOnlyDictionary<DicomTag, string> MainDicomTags, long CountInstances, string? MiddleInstanceId);

/// <summary>A study of a patient's timeline before its page is loaded: what orders and filters it.</summary>
public sealed record PatientStudyKey(string PublicId, string StudyDate, string StudyTime, IReadOnlyList<string> Modalities);

/// <summary>An instance with the size of its DICOM file.</summary>
public sealed record InstanceSummary(string PublicId, IReadOnlyDictionary<DicomTag, string> MainDicomTags, long UncompressedSize);

/// <summary>
/// The explorer's lists, filtered, counted, sorted and paged in the index: a page costs a fixed number of queries
/// whatever its size, and walks an index in the requested order instead of loading every match.
/// </summary>
public sealed partial class IndexQueries
{
    public async Task<ResourcePage<PatientSummary>> PatientsPageAsync(PageRequest request, CancellationToken ct)
    {
        await using var db = await OpenAsync(ct);
        var (total, ids) = await SortedPageAsync(db, ResourceLevel.Patient, request, ct);
        if (ids.Count == 0) return new(total, []);
        var rows = await db.Resources.Where(p => ids.Contains(p.Id)).Select(p => new
        {
            p.Id,
            p.PublicId,
            p.IsProtected,
            Studies = db.Resources.LongCount(s => s.ParentId == p.Id),
            Instances = db.Resources.Where(s => s.ParentId == p.Id).SelectMany(s => s.Children).SelectMany(x => x.Children).SelectMany(i => i.Attachments)
                .LongCount(a => a.ContentType == Attachment.DicomContentType),
            Disk = db.Resources.Where(s => s.ParentId == p.Id).SelectMany(s => s.Children).SelectMany(x => x.Children).SelectMany(i => i.Attachments)
                .Where(a => a.ContentType == Attachment.DicomContentType).Sum(a => a.CompressedSize),
        }).ToDictionaryAsync(p => p.Id, ct);
        var tags = await MainTagsAsync(db, ids, ct);
        // A patient deleted between the two queries drops out of the page.
        return new(total, ids.Where(rows.ContainsKey).Select(id => rows[id]).Select(p =>
            new PatientSummary(p.PublicId, TagsOf(tags, p.Id), p.IsProtected, p.Studies, p.Instances, p.Disk)).ToList());
    }

    public async Task<ResourcePage<StudySummary>> StudiesPageAsync(PageRequest request, CancellationToken ct)
    {
        await using var db = await OpenAsync(ct);
        var (total, ids) = await SortedPageAsync(db, ResourceLevel.Study, request, ct);
        return new(total, await StudySummariesAsync(db, ids, ct));
    }

    /// <summary>
    /// A context whose connection stays open for its queries: a page makes five or six, and EF Core otherwise opens
    /// and closes the connection around each, which on SQLite also runs the PRAGMAs of every opening each time
    /// (<see cref="SqliteSynchronousInterceptor"/>). The context's disposal closes it.
    /// </summary>
    private async Task<IndexDbContext> OpenAsync(CancellationToken ct)
    {
        var db = await contexts.CreateDbContextAsync(ct);
        try
        {
            await db.Database.OpenConnectionAsync(ct);
            return db;
        }
        catch
        {
            await db.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// The studies that received an instance most recently, newest first (the home page's list). Walks the
    /// (Level, IsProtected, LastUpdate) index backwards: only patients are ever protected.
    /// </summary>
    public async Task<IReadOnlyList<StudySummary>> RecentStudiesAsync(int take, CancellationToken ct)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        var ids = await db.Resources.Where(r => r.Level == ResourceLevel.Study && !r.IsProtected)
            .OrderByDescending(r => r.LastUpdate).ThenByDescending(r => r.Id).Take(take).Select(r => r.Id).ToListAsync(ct);
        return await StudySummariesAsync(db, ids, ct);
    }

    /// <summary>The rows of these studies, in this order, with their patient's tags, counts, sizes and modalities.</summary>
    private static async Task<IReadOnlyList<StudySummary>> StudySummariesAsync(IndexDbContext db, List<long> ids, CancellationToken ct)
    {
        if (ids.Count == 0) return [];
        var rows = await db.Resources.Where(s => ids.Contains(s.Id)).Select(s => new
        {
            s.Id,
            s.PublicId,
            s.ParentId,
            s.LastUpdate,
            PatientPublicId = db.Resources.Where(p => p.Id == s.ParentId).Select(p => p.PublicId).FirstOrDefault(),
            Series = db.Resources.LongCount(x => x.ParentId == s.Id),
            Instances = db.Resources.Where(x => x.ParentId == s.Id).SelectMany(x => x.Children).SelectMany(i => i.Attachments)
                .LongCount(a => a.ContentType == Attachment.DicomContentType),
            Disk = db.Resources.Where(x => x.ParentId == s.Id).SelectMany(x => x.Children).SelectMany(i => i.Attachments)
                .Where(a => a.ContentType == Attachment.DicomContentType).Sum(a => a.CompressedSize),
        }).ToDictionaryAsync(s => s.Id, ct);
        var tags = await MainTagsAsync(db, [.. ids, .. rows.Values.Select(s => s.ParentId).OfType<long>().Distinct()], ct);
        // Modalities in Study is not stored: it is the set of the study's series' Modality, read from the page's
        // series (a key lookup each), not from every series' Modality.
        var modalities = await ModalitiesByStudyAsync(db.Resources.Where(x => x.ParentId != null && ids.Contains(x.ParentId.Value)), ct);
        return ids.Where(rows.ContainsKey).Select(id => rows[id]).Select(s =>
            new StudySummary(s.PublicId, TagsOf(tags, s.Id), s.ParentId is { } p ? TagsOf(tags, p) : new Dictionary<DicomTag, string>(),
                s.Series, s.Instances, s.Disk, modalities[s.Id].Order(StringComparer.Ordinal).ToList(), s.PatientPublicId ?? "", s.LastUpdate)).ToList();
    }

    /// <summary>
    /// Every study of a patient, with only what orders and filters a timeline: its date and time and the modalities of
    /// its series (two queries, whatever the count; their rows grow with the patient's studies and series). Null when
    /// the patient does not exist. The timeline then loads the series of one page of studies.
    /// </summary>
    public async Task<IReadOnlyList<PatientStudyKey>?> PatientStudiesAsync(string patientPublicId, CancellationToken ct)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        if (await IdOfAsync(db, patientPublicId, ResourceLevel.Patient, ct) is not { } patient) return null;
        var (date, time) = ((int)DicomTags.StudyDate.Value, (int)DicomTags.StudyTime.Value);
        var studies = await db.Resources.Where(s => s.ParentId == patient).Select(s => new
        {
            s.Id,
            s.PublicId,
            Date = s.Tags.Where(t => t.Tag == date).Select(t => t.Value).FirstOrDefault(),
            Time = s.Tags.Where(t => t.Tag == time).Select(t => t.Value).FirstOrDefault(),
        }).ToListAsync(ct);
        var modalities = await ModalitiesByStudyAsync(db.Resources.Where(x => x.ParentId != null && x.Parent!.ParentId == patient), ct);
        return studies.Select(s => new PatientStudyKey(s.PublicId, s.Date ?? "", s.Time ?? "", modalities[s.Id].Order(StringComparer.Ordinal).ToList())).ToList();
    }

    /// <summary>The distinct Modality values of these series, by study (a key lookup per series).</summary>
    private static async Task<ILookup<long, string>> ModalitiesByStudyAsync(IQueryable<Resource> series, CancellationToken ct)
    {
        var modality = (int)DicomTags.Modality.Value;
        return (await series.Select(x => new { Study = x.ParentId!.Value, Value = x.Tags.Where(t => t.Tag == modality).Select(t => t.Value).FirstOrDefault() })
                .ToListAsync(ct))
            .Where(m => !string.IsNullOrEmpty(m.Value)).Distinct().ToLookup(m => m.Study, m => m.Value!);
    }

    /// <summary>The series of a study in Series Number order (as numbers), or null when the study does not exist.</summary>
    public async Task<IReadOnlyList<SeriesSummary>?> SeriesOfStudyAsync(string studyPublicId, CancellationToken ct)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        if (await IdOfAsync(db, studyPublicId, ResourceLevel.Study, ct) is not { } study) return null;
        var series = await InNumberOrder(db, study, DicomTags.SeriesNumber, false).Select(s => new { s.Id, s.PublicId }).ToListAsync(ct);
        var ids = series.Select(s => s.Id).ToList();
        // The instances of a study's series by their (ParentId, Id) index alone: counts, and the middle one of each.
        var children = (await db.Resources.Where(i => i.ParentId != null && ids.Contains(i.ParentId.Value)).OrderBy(i => i.ParentId).ThenBy(i => i.Id)
            .Select(i => new { Series = i.ParentId!.Value, i.Id }).ToListAsync(ct)).ToLookup(i => i.Series, i => i.Id);
        var middles = series.Select(s => children[s.Id].ToList()).Where(c => c.Count > 0).Select(c => c[c.Count / 2]).ToList();
        var middleIds = await db.Resources.Where(i => middles.Contains(i.Id)).Select(i => new { i.Id, i.PublicId }).ToDictionaryAsync(i => i.Id, i => i.PublicId, ct);
        var tags = await MainTagsAsync(db, ids, ct);
        return series.Select(s =>
        {
            var instances = children[s.Id].ToList();
            var middle = instances.Count > 0 ? middleIds.GetValueOrDefault(instances[instances.Count / 2]) : null;
            return new SeriesSummary(s.PublicId, TagsOf(tags, s.Id), instances.Count, middle);
        }).ToList();
    }

    /// <summary>A page of a series' instances in slice order: Instance Number as a number, then index in series.</summary>
    public async Task<ResourcePage<InstanceSummary>> InstancesPageAsync(string seriesPublicId, bool descending, int skip, int take, CancellationToken ct)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        if (await IdOfAsync(db, seriesPublicId, ResourceLevel.Series, ct) is not { } series) return new(0, []);
        var total = await db.Resources.CountAsync(i => i.ParentId == series, ct);
        var page = await InNumberOrder(db, series, DicomTags.InstanceNumber, descending).Skip(skip).Take(take).Select(i => new { i.Id, i.PublicId }).ToListAsync(ct);
        var ids = page.Select(i => i.Id).ToList();
        var tags = await MainTagsAsync(db, ids, ct);
        var sizes = await db.Attachments.Where(a => a.ContentType == Attachment.DicomContentType && ids.Contains(a.ResourceId))
            .ToDictionaryAsync(a => a.ResourceId, a => a.UncompressedSize, ct);
        return new(total, page.Select(i => new InstanceSummary(i.PublicId, TagsOf(tags, i.Id), sizes.GetValueOrDefault(i.Id))).ToList());
    }

    /// <summary>Public IDs of a series' instances in slice order (as <see cref="InstancesPageAsync"/> lists them).</summary>
    public async Task<IReadOnlyList<string>> SliceOrderAsync(string seriesPublicId, CancellationToken ct)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        if (await IdOfAsync(db, seriesPublicId, ResourceLevel.Series, ct) is not { } series) return [];
        return await InNumberOrder(db, series, DicomTags.InstanceNumber, false).Select(i => i.PublicId).ToListAsync(ct);
    }

    private static Task<long?> IdOfAsync(IndexDbContext db, string publicId, ResourceLevel level, CancellationToken ct) =>
        db.Resources.Where(r => r.PublicId == publicId && r.Level == level).Select(r => (long?)r.Id).FirstOrDefaultAsync(ct);

    private const string IndexInSeries = "IndexInSeries";
    private static readonly char[] Digits = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];

    /// <summary>
    /// The children of a resource ordered by an IS tag (Instance Number, Series Number) as a number, then by index in
    /// series, then by row. Numbers are compared without a cast, which PostgreSQL would refuse on a malformed value:
    /// digits only after trimming, leading zeros dropped, shorter first, then as text. Children without such a
    /// number (missing, signed, not a number) come after those with one.
    /// </summary>
    private static IQueryable<Resource> InNumberOrder(IndexDbContext db, long parentId, DicomTag numberTag, bool descending)
    {
        var tag = (int)numberTag.Value;
        var keyed =
            from r in db.Resources.Where(r => r.ParentId == parentId)
            join t in db.MainDicomTags.Where(t => t.Tag == tag) on r.Id equals t.ResourceId into numbers
            from t in numbers.DefaultIfEmpty()
            join m in db.Metadata.Where(m => m.Name == IndexInSeries) on r.Id equals m.ResourceId into indexes
            from m in indexes.DefaultIfEmpty()
            let number = t == null ? "" : t.Value.Trim()
            let isNumber = number != "" && number.Trim(Digits) == ""
            select new
            {
                Resource = r,
                NotNumber = isNumber ? 0 : 1,
                Number = isNumber ? number.TrimStart('0') : "",
                Index = m == null ? "" : m.Value,
            };
        var ordered = descending
            ? keyed.OrderByDescending(k => k.NotNumber).ThenByDescending(k => k.Number.Length).ThenByDescending(k => k.Number)
                .ThenByDescending(k => k.Index.Length).ThenByDescending(k => k.Index).ThenByDescending(k => k.Resource.Id)
            : keyed.OrderBy(k => k.NotNumber).ThenBy(k => k.Number.Length).ThenBy(k => k.Number)
                .ThenBy(k => k.Index.Length).ThenBy(k => k.Index).ThenBy(k => k.Resource.Id);
        return ordered.Select(k => k.Resource);
    }

    /// <summary>An ordered key of the sorted lists: the sort tag's value (upper case), the resource holding it, the listed resource.</summary>
    private sealed class SortKey
    {
        public string Value { get; init; } = "";
        public long Holder { get; init; }
        public long Id { get; init; }
    }

    /// <summary>
    /// Total and row IDs of one page of patients or studies. The rows holding the sort tag are read in order from the
    /// unique (Tag, ValueUpper, ResourceId) index, joined to the children when the tag is the parent's (studies sorted
    /// by PatientName or PatientID read their own copies of it, <see cref="StudySortKey"/>), so that page 1000 skips
    /// index entries instead of sorting every match; filters are IN sub-queries probed on the way. Rows
    /// without the tag (rare: type 3 tags, or type 2 ones absent from a file) form their own run, by row.
    /// </summary>
    private async Task<(int Total, List<long> Ids)> SortedPageAsync(IndexDbContext db, ResourceLevel level, PageRequest request, CancellationToken ct)
    {
        var holderLevel = SortHolder(request.SortBy, level);
        var filters = request.Constraints.Select(c => MatchingIds(db, c, level)).OfType<IQueryable<long>>().ToList();
        if (request.Label is { } label) filters.Add(db.Labels.Where(l => l.Label == label).Select(l => l.ResourceId));
        var matching = db.Resources.Where(r => r.Level == level);
        foreach (var f in filters) matching = matching.Where(r => f.Contains(r.Id));
        var counts = await ListCountsAsync(db, ct);
        var listKey = string.Concat(request.Constraints.Select(c => $"\u001f{c.Tag.Value:X8}={c.Value}").Prepend(level.ToString()));
        if (request.Label is not null) listKey += $"\u001dlabel={request.Label}\u001d{Interlocked.Read(ref _labelsVersion)}";
        var total = await counts.GetOrCountAsync(listKey, () => matching.CountAsync(ct));
        if (total == 0 || request.Take <= 0 || request.Skip >= total) return (total, []);

        var tag = (int)request.SortBy.Value;
        var tagged = db.MainDicomTags.Where(t => t.Tag == tag);
        var keyed = holderLevel == level
            ? tagged.Select(t => new SortKey { Value = t.ValueUpper, Holder = t.ResourceId, Id = t.ResourceId })
            // Studies by their patient's name or ID: the copies on the studies (StudySortKey) are one index in the
            // grid's order, where the join below made PostgreSQL hash every study and SQLite probe one per row skipped.
            : level == ResourceLevel.Study && StudySortKey.Tags.Contains(request.SortBy)
            ? db.StudySortKeys.Where(k => k.Tag == tag).Select(k => new SortKey { Value = k.ValueUpper, Holder = k.ParentId, Id = k.ResourceId })
            : tagged.Join(db.Resources.Where(AtLevel(level)), t => (long?)t.ResourceId, r => r.ParentId, (t, r) => new SortKey { Value = t.ValueUpper, Holder = t.ResourceId, Id = r.Id });
        foreach (var f in filters) keyed = keyed.Where(k => f.Contains(k.Id));
        var positions = counts.PositionsOf($"{listKey}\u001e{request.SortBy.Value:X8}\u001e{(request.Descending ? "desc" : "asc")}");
        var untagged = holderLevel == level
            ? matching.Where(r => !db.MainDicomTags.Any(t => t.ResourceId == r.Id && t.Tag == tag))
            : matching.Where(r => !db.MainDicomTags.Any(t => t.ResourceId == r.ParentId && t.Tag == tag));
        var untaggedInOrder = (request.Descending ? untagged.OrderByDescending(r => r.Id) : untagged.OrderBy(r => r.Id)).Select(r => r.Id);

        // How many match without the tag. Usually none: every resource of the holding level has it, which two
        // index counts tell without looking at the rows one by one.
        Task<int> UntaggedCountAsync() => counts.GetOrCountAsync($"{listKey}\u001e{request.SortBy.Value:X8}", async () =>
        {
            var holders = holderLevel == level && filters.Count == 0 ? total : await db.Resources.CountAsync(r => r.Level == holderLevel, ct);
            var withTag = await tagged.CountAsync(ct);
            if (withTag >= holders) return 0;
            var keyedCount = holderLevel == level && filters.Count == 0 ? withTag : await keyed.CountAsync(ct);
            return Math.Max(0, total - keyedCount);
        });

        var (skip, take) = (request.Skip, Math.Min(request.Take, total - request.Skip));
        var ids = new List<long>(take);
        if (request.Descending)
        {
            // Tagged rows first, then the untagged ones, which only the last pages reach.
            var untaggedCount = await UntaggedCountAsync();
            ids.AddRange(await KeyedRunAsync(keyed, positions, true, skip, take, total - untaggedCount, ct));
            if (ids.Count < take && untaggedCount > 0)
            {
                var into = ids.Count > 0 ? 0 : skip - (total - untaggedCount);
                ids.AddRange(await untaggedInOrder.Skip(Math.Max(0, into)).Take(take - ids.Count).ToListAsync(ct));
            }
        }
        else
        {
            var untaggedCount = await UntaggedCountAsync();
            if (skip < untaggedCount) ids.AddRange(await untaggedInOrder.Skip(skip).Take(Math.Min(take, untaggedCount - skip)).ToListAsync(ct));
            if (ids.Count < take)
                ids.AddRange(await KeyedRunAsync(keyed, positions, false, Math.Max(0, skip - untaggedCount), take - ids.Count, total - untaggedCount, ct));
        }
        return (total, ids);
    }

    /// <summary>
    /// Rows <paramref name="skip"/> to skip + take - 1 of the tagged run in the list's order (fewer at its end), by
    /// keyset where it can: "the rows skipped by an OFFSET clause still have to be computed inside the server"
    /// (PostgreSQL documentation, 7.6 LIMIT and OFFSET; SQLite likewise steps over them), about 1 ms per 25,000 index
    /// entries on SQLite, while a seek starts at a remembered key. The keys of the
    /// first and last rows of every page served are remembered for the list's state (<see cref="PagePositions"/>), and a
    /// page is read from the nearest one, forwards from a key at or before it (the next page, or the same page again)
    /// or backwards from a key at or after it (the previous page), whichever skips fewer entries than OFFSET would. A
    /// first jump deep into a list is an OFFSET walk from whichever end of the run is nearer (<paramref name="count"/>
    /// rows, as counted for the list's state): the last pages cost what the first ones do, the middle one the most.
    /// </summary>
    private static async Task<List<long>> KeyedRunAsync(IQueryable<SortKey> keyed, PagePositions positions, bool descending, int skip, int take, int count, CancellationToken ct)
    {
        var last = skip + take - 1;
        var (walk, before, after) = (skip, positions.AtOrBefore(skip), positions.AtOrAfter(last));
        var forwards = before is { } b ? skip - b.Offset : int.MaxValue;
        var backwards = after is { } a ? a.Offset - last : int.MaxValue;
        // Entries after the page in the run: walked from its end, in the opposite order, when that is the shortest way.
        var fromEnd = last < count ? count - 1 - last : int.MaxValue;
        List<SortKey> rows;
        if (fromEnd < forwards && fromEnd < backwards && fromEnd < walk)
        {
            rows = await InOrder(keyed, !descending).Skip(fromEnd).Take(take).ToListAsync(ct);
            rows.Reverse();
            // Fewer rows than asked: the run is not as long as counted (a write racing this read); nothing remembered.
            if (rows.Count < take) return rows.Select(r => r.Id).ToList();
        }
        else if (backwards < forwards && backwards < walk)
        {
            // From the key at or after the page, in the opposite order: the page's rows come out last row first.
            rows = await InOrder(From(keyed, after!.Value.Key, !descending), !descending).Skip(backwards).Take(take).ToListAsync(ct);
            rows.Reverse();
            // Fewer rows than asked means the rows before the key changed under the state's name (a write racing
            // this read): they are not where the page is, so nothing is remembered.
            if (rows.Count < take) return rows.Select(r => r.Id).ToList();
        }
        else if (forwards <= walk)
            rows = await InOrder(From(keyed, before!.Value.Key, descending), descending).Skip(forwards).Take(take).ToListAsync(ct);
        else
            rows = await InOrder(keyed, descending).Skip(skip).Take(take).ToListAsync(ct);
        if (rows.Count > 0)
        {
            positions.Remember(skip, rows[0]);
            positions.Remember(skip + rows.Count - 1, rows[^1]);
        }
        return rows.Select(r => r.Id).ToList();
    }

    private static IOrderedQueryable<SortKey> InOrder(IQueryable<SortKey> keyed, bool descending) => descending
        ? keyed.OrderByDescending(k => k.Value).ThenByDescending(k => k.Holder).ThenByDescending(k => k.Id)
        : keyed.OrderBy(k => k.Value).ThenBy(k => k.Holder).ThenBy(k => k.Id);

    /// <summary>
    /// The keys from <paramref name="key"/> on in this order, itself included. Written as a range on the value (the
    /// index's leading column after the tag, so both databases seek to it) and then the tie on holder and row; the
    /// comparison of text in SQL is byte by byte (SQLite's BINARY, PostgreSQL's collation C), the order of the index.
    /// </summary>
#pragma warning disable CA1309, CA1310 // translated to SQL's < and >, compared by the column's collation
    private static IQueryable<SortKey> From(IQueryable<SortKey> keyed, SortKey key, bool descending)
    {
        var (value, holder, id) = (key.Value, key.Holder, key.Id);
        return descending
            ? keyed.Where(k => string.Compare(k.Value, value) <= 0 && (string.Compare(k.Value, value) < 0 || k.Holder < holder || (k.Holder == holder && k.Id <= id)))
            : keyed.Where(k => string.Compare(k.Value, value) >= 0 && (string.Compare(k.Value, value) > 0 || k.Holder > holder || (k.Holder == holder && k.Id >= id)));
    }
#pragma warning restore CA1309, CA1310

    /// <summary>
    /// Where pages of one sorted list (its filters, sort tag and direction) began and ended in its tagged run, by
    /// offset, as of one state of the index (kept in its <see cref="ListCounts"/>, so that a write forgets them all: a
    /// study arriving shifts every offset after it). At most <see cref="Capacity"/> positions; past that the one nearest
    /// the start of the list goes, the cheapest to walk to again.
    /// </summary>
    private sealed class PagePositions
    {
        private const int Capacity = 256;
        private readonly SortedList<int, SortKey> _keys = [];
        private readonly Lock _lock = new();

        public void Remember(int offset, SortKey key)
        {
            lock (_lock)
            {
                if (_keys.Count >= Capacity && !_keys.ContainsKey(offset)) _keys.RemoveAt(0);
                _keys[offset] = key;
            }
        }

        public (int Offset, SortKey Key)? AtOrBefore(int offset)
        {
            lock (_lock)
            {
                var i = FirstAtOrAfter(offset);
                if (i < _keys.Count && _keys.Keys[i] == offset) return (offset, _keys.Values[i]);
                return i > 0 ? (_keys.Keys[i - 1], _keys.Values[i - 1]) : null;
            }
        }

        public (int Offset, SortKey Key)? AtOrAfter(int offset)
        {
            lock (_lock)
            {
                var i = FirstAtOrAfter(offset);
                return i < _keys.Count ? (_keys.Keys[i], _keys.Values[i]) : null;
            }
        }

        private int FirstAtOrAfter(int offset)
        {
            var (lo, hi) = (0, _keys.Count);
            while (lo < hi)
            {
                var mid = (lo + hi) / 2;
                if (_keys.Keys[mid] < offset) lo = mid + 1; else hi = mid;
            }
            return lo;
        }
    }

    /// <summary>
    /// The counts of the sorted lists as of one state of the index. Counting walks every match, the one part of a page
    /// that grows with the index, while people page through a list many times between two arrivals. Every write that
    /// adds, removes or re-tags resources appends to the change log in its own transaction, so the last change's
    /// sequence number names the state; read before counting, it can only make a count look older than it is. The
    /// page positions of the lists (<see cref="PagePositions"/>) are kept here for the same reason: they hold for one
    /// state, and the next state starts without them.
    /// </summary>
    private sealed class ListCounts(long version)
    {
        private const int Capacity = 1000;
        private readonly ConcurrentDictionary<string, int> _counts = new(StringComparer.Ordinal);

        private readonly ConcurrentDictionary<string, PagePositions> _positions = new(StringComparer.Ordinal);

        public long Version => version;

        /// <summary>Forgets the page positions and keeps the counts (the scale benchmark's jump to a deep page).</summary>
        public void ForgetPositions() => _positions.Clear();

        /// <summary>The remembered page positions of one list; past the capacity, a list's are not kept.</summary>
        public PagePositions PositionsOf(string list) =>
            _positions.TryGetValue(list, out var p) ? p : _positions.Count < Capacity ? _positions.GetOrAdd(list, _ => new()) : new();

        public async Task<int> GetOrCountAsync(string list, Func<Task<int>> count)
        {
            if (_counts.TryGetValue(list, out var n)) return n;
            n = await count();
            if (_counts.Count < Capacity) _counts.TryAdd(list, n);
            return n;
        }
    }

    private ListCounts _listCounts = new(-1);

    /// <summary>
    /// Forgets where the pages served began and ended, so that the next deep page is an OFFSET walk again, as a first
    /// jump is; the counts stay. For the scale benchmark, which measures both.
    /// </summary>
    internal void ForgetPagePositions() => Volatile.Read(ref _listCounts).ForgetPositions();

    private async Task<ListCounts> ListCountsAsync(IndexDbContext db, CancellationToken ct)
    {
        var version = await db.Changes.MaxAsync(c => (long?)c.Seq, ct) ?? 0;
        var counts = Volatile.Read(ref _listCounts);
        if (counts.Version == version) return counts;
        counts = new ListCounts(version);
        Volatile.Write(ref _listCounts, counts);
        return counts;
    }

    /// <summary>The level whose resources hold a sort tag: the listed level or its parent's, and only that one.</summary>
    private static ResourceLevel SortHolder(DicomTag tag, ResourceLevel level)
    {
        var holders = Enum.GetValues<ResourceLevel>().Where(l => Array.IndexOf(MainDicomTags.For(l), tag) >= 0).ToList();
        if (holders is [var holder] && (holder == level || holder == level - 1)) return holder;
        throw new ArgumentException($"{DicomDictionary.Find(tag)?.Keyword ?? tag.ToString()} is not a main tag of the {level} level or of its parent's only", nameof(tag));
    }

    /// <summary>
    /// IDs at <paramref name="level"/> matching one constraint, regardless of case, as a sub-query (null when the
    /// constraint matches everything): the same matching as <see cref="FindAsync"/>, moved along parent links.
    /// </summary>
    private static IQueryable<long>? MatchingIds(IndexDbContext db, FindConstraint constraint, ResourceLevel level)
    {
        if (constraint.Value.Length == 0 || constraint.Value == "*") return null;
        var (tag, tagLevel) = Searchable(constraint.Tag);
        var ids = Matching(db, tag, constraint.Value, caseSensitive: false, out _).Select(t => t.ResourceId);
        for (var l = tagLevel; l < level; l++)
        {
            var parents = ids;
            // A patient's studies are found in the index of the studies alone.
            var children = l + 1 == ResourceLevel.Study ? db.Resources.Where(AtLevel(ResourceLevel.Study)) : db.Resources;
            ids = children.Where(r => r.ParentId != null && parents.Contains(r.ParentId.Value)).Select(r => r.Id);
        }
        for (var l = tagLevel; l > level; l--)
        {
            var children = ids;
            ids = db.Resources.Where(r => children.Contains(r.Id) && r.ParentId != null).Select(r => r.ParentId!.Value);
        }
        return ids;
    }

    /// <summary>
    /// Resources of one level, the level written into the SQL as a constant: SQLite plans with a partial index (the
    /// studies by patient, see <see cref="IndexDbContext"/>) only when it reads its condition in the query itself.
    /// </summary>
    private static Expression<Func<Resource, bool>> AtLevel(ResourceLevel level)
    {
        var r = Expression.Parameter(typeof(Resource), "r");
        return Expression.Lambda<Func<Resource, bool>>(Expression.Equal(Expression.Property(r, nameof(Resource.Level)), Expression.Constant(level)), r);
    }

    /// <summary>Main tags of many resources in one query.</summary>
    private static async Task<ILookup<long, MainDicomTag>> MainTagsAsync(IndexDbContext db, List<long> ids, CancellationToken ct) =>
        (await db.MainDicomTags.AsNoTracking().Where(t => ids.Contains(t.ResourceId)).ToListAsync(ct)).ToLookup(t => t.ResourceId);

    private static Dictionary<DicomTag, string> TagsOf(ILookup<long, MainDicomTag> tags, long id) =>
        tags[id].ToDictionary(t => new DicomTag((uint)t.Tag), t => t.Value);
}
