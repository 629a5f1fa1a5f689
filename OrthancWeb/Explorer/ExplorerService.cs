using OrthancWeb.Dicom.Data;
using OrthancWeb.Index;

namespace OrthancWeb.Explorer;

/// <summary>The study search of the explorer's search bar; empty fields match everything.</summary>
public sealed record StudySearch
{
    public string PatientName { get; init; } = "";
    public string PatientId { get; init; } = "";
    public string AccessionNumber { get; init; } = "";
    public DateOnly? From { get; init; }
    public DateOnly? To { get; init; }
    public string Modality { get; init; } = "";
    public string Description { get; init; } = "";
}

/// <summary>One row of the studies grid: the study's and its patient's main tags.</summary>
public sealed record StudyRow(string Id, string PatientName, string PatientId, string StudyDate, string Description, string AccessionNumber, IReadOnlyDictionary<DicomTag, string> Tags)
{
    /// <summary>What is stored below the study; filled for the rows of the page shown only.</summary>
    public ResourceStatistics? Statistics { get; init; }
    /// <summary>The distinct modalities of the study's series (Modalities in Study is computed, not stored).</summary>
    public string Modalities { get; init; } = "";
}

/// <summary>One row of the patients grid: main tags, what is stored below the patient, and its protection.</summary>
public sealed record PatientRow(string Id, string PatientName, string PatientId, string BirthDate, string Sex, long Studies, long Instances, long DiskSize, bool IsProtected);

/// <summary>
/// What the explorer pages need, built only on the index services the REST API uses (no logic of its own, no HTTP
/// to itself): searches become <see cref="FindRequest"/>s, rows are main tags.
/// </summary>
public sealed class ExplorerService(IndexQueries queries)
{
    public async Task<(int Total, IReadOnlyList<StudyRow> Rows)> SearchStudiesAsync(StudySearch search, string? sortBy, bool descending, int skip, int take, CancellationToken ct = default)
    {
        var constraints = new List<FindConstraint>();
        void Add(DicomTag tag, string value) { if (!string.IsNullOrWhiteSpace(value)) constraints.Add(new FindConstraint(tag, value.Trim())); }
        Add(DicomTags.PatientName, NamePattern(search.PatientName));
        Add(DicomTags.PatientID, search.PatientId);
        Add(DicomTags.AccessionNumber, search.AccessionNumber);
        Add(DicomTags.ModalitiesInStudy, search.Modality);
        Add(DicomTags.StudyDescription, search.Description.Length > 0 && !search.Description.Contains('*') ? "*" + search.Description + "*" : search.Description);
        if (search.From is not null || search.To is not null)
            Add(DicomTags.StudyDate, $"{search.From:yyyyMMdd}-{search.To:yyyyMMdd}");
        // Names and descriptions match regardless of case, as a person types them.
        var ids = await queries.FindAsync(new FindRequest(ResourceLevel.Study, constraints, CaseSensitive: false), ct);
        var tags = await queries.TagsWithAncestorsAsync(ids, ct);
        var rows = ids.Where(tags.ContainsKey).Select(id =>
        {
            var t = tags[id];
            string V(DicomTag tag) => t.GetValueOrDefault(tag) ?? "";
            return new StudyRow(id, V(DicomTags.PatientName), V(DicomTags.PatientID), V(DicomTags.StudyDate), V(DicomTags.StudyDescription), V(DicomTags.AccessionNumber), t);
        });
        Func<StudyRow, string> key = sortBy switch
        {
            nameof(StudyRow.PatientName) => r => r.PatientName,
            nameof(StudyRow.PatientId) => r => r.PatientId,
            nameof(StudyRow.Description) => r => r.Description,
            nameof(StudyRow.AccessionNumber) => r => r.AccessionNumber,
            _ => r => r.StudyDate,
        };
        var sorted = (descending || sortBy is null ? rows.OrderByDescending(key, StringComparer.OrdinalIgnoreCase) : rows.OrderBy(key, StringComparer.OrdinalIgnoreCase)).ToList();
        var page = new List<StudyRow>();
        foreach (var row in sorted.Skip(skip).Take(take))
        {
            var series = await queries.RelativesAsync(row.Id, ResourceLevel.Study, ResourceLevel.Series, ct) ?? [];
            var modalities = (await queries.TagsWithAncestorsAsync(series, ct)).Values
                .Select(t => t.GetValueOrDefault(DicomTags.Modality)).OfType<string>().Where(m => m.Length > 0).Distinct().Order();
            page.Add(row with { Statistics = await queries.ResourceStatisticsAsync(row.Id, ResourceLevel.Study, ct), Modalities = string.Join(", ", modalities) });
        }
        return (sorted.Count, page);
    }

    /// <summary>
    /// Patients matching a name (wildcards, case-insensitive, a prefix when typed without any) and an ID; sorted and paged
    /// here, then counts and sizes computed only for the page shown.
    /// </summary>
    public async Task<(int Total, IReadOnlyList<PatientRow> Rows)> SearchPatientsAsync(string patientName, string patientId, string? sortBy, bool descending, int skip, int take, CancellationToken ct = default)
    {
        var constraints = new List<FindConstraint>();
        if (!string.IsNullOrWhiteSpace(patientName)) constraints.Add(new FindConstraint(DicomTags.PatientName, NamePattern(patientName)));
        if (!string.IsNullOrWhiteSpace(patientId)) constraints.Add(new FindConstraint(DicomTags.PatientID, patientId.Trim()));
        var ids = await queries.FindAsync(new FindRequest(ResourceLevel.Patient, constraints, CaseSensitive: false), ct);
        var tags = await queries.TagsWithAncestorsAsync(ids, ct);
        Func<KeyValuePair<string, Dictionary<DicomTag, string>>, string> key = sortBy switch
        {
            nameof(PatientRow.PatientId) => p => p.Value.GetValueOrDefault(DicomTags.PatientID) ?? "",
            nameof(PatientRow.BirthDate) => p => p.Value.GetValueOrDefault(DicomTags.PatientBirthDate) ?? "",
            _ => p => p.Value.GetValueOrDefault(DicomTags.PatientName) ?? "",
        };
        var ordered = descending ? tags.OrderByDescending(key, StringComparer.OrdinalIgnoreCase) : tags.OrderBy(key, StringComparer.OrdinalIgnoreCase);
        var rows = new List<PatientRow>();
        foreach (var (id, t) in ordered.Skip(skip).Take(take))
        {
            var info = await queries.GetAsync(id, ResourceLevel.Patient, ct);
            var stats = await queries.ResourceStatisticsAsync(id, ResourceLevel.Patient, ct);
            if (info is null || stats is null) continue; // deleted meanwhile
            rows.Add(new PatientRow(id, t.GetValueOrDefault(DicomTags.PatientName) ?? "", t.GetValueOrDefault(DicomTags.PatientID) ?? "",
                t.GetValueOrDefault(DicomTags.PatientBirthDate) ?? "", t.GetValueOrDefault(DicomTags.PatientSex) ?? "",
                stats.CountStudies, stats.CountInstances, stats.DiskSize, info.IsProtected));
        }
        return (tags.Count, rows);
    }

    public Task<ResourceStatistics?> StatisticsAsync(ResourceInfo resource, CancellationToken ct = default) => queries.ResourceStatisticsAsync(resource.PublicId, resource.Level, ct);

    public Task<ResourceInfo?> GetAsync(string id, ResourceLevel? level = null, CancellationToken ct = default) => queries.GetAsync(id, level, ct);

    /// <summary>The children of a resource with their main tags, in index order.</summary>
    public async Task<IReadOnlyList<ResourceInfo>> ChildrenAsync(ResourceInfo parent, CancellationToken ct = default)
    {
        var result = new List<ResourceInfo>();
        foreach (var id in parent.ChildrenIds)
            if (await queries.GetAsync(id, parent.Level + 1, ct) is { } child) result.Add(child);
        return result;
    }

    /// <summary>
    /// One page of a series' instances in Instance Number order: the numbers of all instances come in one query, and
    /// only the page shown is loaded in full, so a 5,000-slice series opens as fast as a small one.
    /// </summary>
    public async Task<(int Total, IReadOnlyList<ResourceInfo> Rows)> InstancesPageAsync(ResourceInfo series, bool descending, int skip, int take, CancellationToken ct = default)
    {
        var tags = await queries.TagsWithAncestorsAsync(series.ChildrenIds, ct);
        var ordered = descending
            ? tags.OrderByDescending(t => InstanceNumber(t.Value)).ThenByDescending(t => t.Key, StringComparer.Ordinal)
            : tags.OrderBy(t => InstanceNumber(t.Value)).ThenBy(t => t.Key, StringComparer.Ordinal);
        var rows = new List<ResourceInfo>();
        foreach (var (id, _) in ordered.Skip(skip).Take(take))
            if (await queries.GetAsync(id, ResourceLevel.Instance, ct) is { } instance) rows.Add(instance);
        return (tags.Count, rows);
    }

    /// <summary>Instances of a series in slice order: Instance Number, then index in series.</summary>
    public async Task<IReadOnlyList<ResourceInfo>> SliceOrderAsync(ResourceInfo series, CancellationToken ct = default)
    {
        var instances = await ChildrenAsync(series, ct);
        return instances.OrderBy(i => InstanceNumber(i.MainDicomTags))
            .ThenBy(i => int.TryParse(i.Metadata.GetValueOrDefault("IndexInSeries"), out var n) ? n : 0).ToList();
    }

    public Task<Statistics> StatisticsAsync(CancellationToken ct = default) => queries.StatisticsAsync(ct);

    /// <summary>A name as typed: a prefix unless the user wrote wildcards (PS3.4 C.2.2.2.4 '*' and '?').</summary>
    private static string NamePattern(string typed)
    {
        var name = typed.Trim();
        return name.Length > 0 && !name.Contains('*') && !name.Contains('?') ? name + "*" : name;
    }

    /// <summary>Instance Number as a number, so that slice 10 follows slice 9; instances without one go last.</summary>
    private static int InstanceNumber(IReadOnlyDictionary<DicomTag, string> tags) =>
        int.TryParse(tags.GetValueOrDefault(DicomTags.InstanceNumber), out var n) ? n : int.MaxValue;
}
