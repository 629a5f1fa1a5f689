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
public sealed record StudyRow(string Id, string PatientName, string PatientId, string StudyDate, string Description, string AccessionNumber, IReadOnlyDictionary<DicomTag, string> Tags);

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
        Add(DicomTags.PatientName, search.PatientName.Length > 0 && !search.PatientName.Contains('*') && !search.PatientName.Contains('?') ? search.PatientName + "*" : search.PatientName);
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
        return (sorted.Count, sorted.Skip(skip).Take(take).ToList());
    }

    public Task<ResourceInfo?> GetAsync(string id, ResourceLevel? level = null, CancellationToken ct = default) => queries.GetAsync(id, level, ct);

    /// <summary>The children of a resource with their main tags, in index order.</summary>
    public async Task<IReadOnlyList<ResourceInfo>> ChildrenAsync(ResourceInfo parent, CancellationToken ct = default)
    {
        var result = new List<ResourceInfo>();
        foreach (var id in parent.ChildrenIds)
            if (await queries.GetAsync(id, parent.Level + 1, ct) is { } child) result.Add(child);
        return result;
    }

    /// <summary>Instances of a series in slice order: Instance Number, then index in series.</summary>
    public async Task<IReadOnlyList<ResourceInfo>> SliceOrderAsync(ResourceInfo series, CancellationToken ct = default)
    {
        var instances = await ChildrenAsync(series, ct);
        return instances.OrderBy(i => int.TryParse(i.MainDicomTags.GetValueOrDefault(DicomTags.InstanceNumber), out var n) ? n : int.MaxValue)
            .ThenBy(i => int.TryParse(i.Metadata.GetValueOrDefault("IndexInSeries"), out var n) ? n : 0).ToList();
    }

    public Task<Statistics> StatisticsAsync(CancellationToken ct = default) => queries.StatisticsAsync(ct);
}
