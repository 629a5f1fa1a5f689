using System.Globalization;
using OrthancWeb.Audit;
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
    /// <summary>Only studies with this label (empty: any).</summary>
    public string Label { get; init; } = "";
}

/// <summary>One row of the studies grid: the study's and its patient's main tags, and what is stored below the study.</summary>
public sealed record StudyRow(string Id, string PatientName, string PatientId, string StudyDate, string Description, string AccessionNumber,
    string Modalities, long Series, long Instances, long DiskSize, string PatientPublicId, string StudyInstanceUid = "");

/// <summary>One row of the patients grid: main tags, what is stored below the patient, and its protection.</summary>
public sealed record PatientRow(string Id, string PatientName, string PatientId, string BirthDate, string Sex, long Studies, long Instances, long DiskSize, bool IsProtected);

/// <summary>One series of a study: Number sorts numerically (series 10 after series 9).</summary>
public sealed record SeriesRow(string Id, int? Number, string Modality, string Description, string BodyPart, long Instances, string? Preview);

/// <summary>One study on a patient's timeline: its main tags and its series (with previews), for finding the prior study.</summary>
public sealed record TimelineStudy(string Id, string StudyDate, string StudyTime, string Description, string AccessionNumber, IReadOnlyList<SeriesRow> Series)
{
    /// <summary>The distinct modalities of the study's series, in order of first appearance.</summary>
    public IReadOnlyList<string> Modalities { get; } = Series.Select(s => s.Modality).Where(m => m.Length > 0).Distinct().ToList();
    public long Instances => Series.Sum(s => s.Instances);
}

/// <summary>
/// A patient's timeline as <see cref="ExplorerService.PatientTimelineAsync"/> loads it: how many studies the patient
/// has, how many of them are shown (those of the chosen modalities), every modality among them, and the loaded studies.
/// </summary>
public sealed record PatientTimeline(ResourceInfo Patient, int TotalStudies, int ShownStudies, IReadOnlyList<string> Modalities, IReadOnlyList<TimelineStudy> Studies);

/// <summary>One instance of a series' list.</summary>
public sealed record InstanceRow(string Id, string InstanceNumber, string SopInstanceUid, string NumberOfFrames, long Size);

/// <summary>
/// What the explorer pages need, built only on the index services the REST API uses (no logic of its own, no HTTP
/// to itself): searches become <see cref="FindConstraint"/>s, and the index filters, sorts, counts and pages.
/// </summary>
public sealed class ExplorerService(IndexQueries queries, IAuditTrail? audit = null)
{
    /// <summary>
    /// Records that the current user saw <paramref name="resource"/> in the UI (who and from where: the circuit's
    /// actor). <paramref name="study"/>, when the page already holds it, names the study and patient of a series or
    /// instance; otherwise the study is looked up (a page view, not a hot path).
    /// </summary>
    public async Task RecordViewAsync(ResourceInfo resource, ResourceInfo? study = null, string? details = null, CancellationToken ct = default)
    {
        if (study is null && resource.Level is ResourceLevel.Series or ResourceLevel.Instance)
        {
            var seriesId = resource.Level == ResourceLevel.Series ? resource.PublicId : resource.ParentId;
            var series = resource.Level == ResourceLevel.Series ? resource : seriesId is null ? null : await queries.GetAsync(seriesId, ResourceLevel.Series, ct);
            if (series?.ParentId is { } studyId) study = await queries.GetAsync(studyId, ResourceLevel.Study, ct);
        }
        audit?.Record(ResourceAudit.For(AuditActions.View, resource, study, details: details) with { Source = AuditSources.Ui });
    }

    /// <summary>Records a view whose patient and study the page read from the instance's own data set.</summary>
    public void RecordView(ResourceLevel level, string id, DicomDataset dataset, string? details = null) =>
        audit?.Record(ResourceAudit.For(AuditActions.View, level, id, dataset, details: details) with { Source = AuditSources.Ui });

    /// <summary>Records a grid page of patients or studies shown (names and IDs are patient data too), as a query with its search.</summary>
    public void RecordList(string level, string search, int shown, int total) =>
        audit?.Record(new AuditEvent(AuditActions.Query, AuditOutcome.Success)
        {
            Source = AuditSources.Ui,
            ResourceLevel = level,
            Details = string.Create(CultureInfo.InvariantCulture, $"{shown} of {total} listed; search: {search}"),
        });

    public async Task<(int Total, IReadOnlyList<StudyRow> Rows)> SearchStudiesAsync(StudySearch search, string? sortBy, bool descending, int skip, int take, CancellationToken ct = default)
    {
        var constraints = new List<FindConstraint>();
        void Add(DicomTag tag, string value) { if (!string.IsNullOrWhiteSpace(value)) constraints.Add(new FindConstraint(tag, value.Trim())); }
        Add(DicomTags.PatientName, NamePattern(search.PatientName));
        Add(DicomTags.PatientID, search.PatientId);
        Add(DicomTags.AccessionNumber, search.AccessionNumber);
        Add(DicomTags.ModalitiesInStudy, search.Modality);
        Add(DicomTags.StudyDescription, search.Description.Length > 0 && !search.Description.Contains('*') ? "*" + search.Description + "*" : search.Description);
        // A DICOM DA range (PS3.5 6.2): Gregorian digits whatever the server's culture and calendar.
        if (search.From is not null || search.To is not null)
            Add(DicomTags.StudyDate, string.Create(CultureInfo.InvariantCulture, $"{search.From:yyyyMMdd}-{search.To:yyyyMMdd}"));
        var sort = sortBy switch
        {
            nameof(StudyRow.PatientName) => DicomTags.PatientName,
            nameof(StudyRow.PatientId) => DicomTags.PatientID,
            nameof(StudyRow.Description) => DicomTags.StudyDescription,
            nameof(StudyRow.AccessionNumber) => DicomTags.AccessionNumber,
            _ => DicomTags.StudyDate,
        };
        // Newest first until a column is chosen.
        var page = await queries.StudiesPageAsync(new PageRequest(constraints, sort, descending || sortBy is null, skip, take,
            string.IsNullOrWhiteSpace(search.Label) ? null : search.Label.Trim()), ct);
        return (page.Total, page.Items.Select(ToRow).ToList());
    }

    /// <summary>The studies that received an instance most recently, newest first, with when (UTC).</summary>
    public async Task<IReadOnlyList<(StudyRow Study, DateTime Received)>> RecentStudiesAsync(int take, CancellationToken ct = default) =>
        (await queries.RecentStudiesAsync(take, ct)).Select(s => (ToRow(s), s.LastUpdate)).ToList();

    private static StudyRow ToRow(StudySummary s)
    {
        string V(IReadOnlyDictionary<DicomTag, string> tags, DicomTag tag) => tags.GetValueOrDefault(tag) ?? "";
        return new StudyRow(s.PublicId, V(s.PatientMainDicomTags, DicomTags.PatientName), V(s.PatientMainDicomTags, DicomTags.PatientID),
            V(s.MainDicomTags, DicomTags.StudyDate), V(s.MainDicomTags, DicomTags.StudyDescription), V(s.MainDicomTags, DicomTags.AccessionNumber),
            string.Join(", ", s.ModalitiesInStudy), s.CountSeries, s.CountInstances, s.DiskSize, s.PatientPublicId, V(s.MainDicomTags, DicomTags.StudyInstanceUID));
    }

    /// <summary>Patients matching a name (wildcards, case-insensitive, a prefix when typed without any) and an ID.</summary>
    public async Task<(int Total, IReadOnlyList<PatientRow> Rows)> SearchPatientsAsync(string patientName, string patientId, string? sortBy, bool descending, int skip, int take, CancellationToken ct = default)
    {
        var constraints = new List<FindConstraint>();
        if (!string.IsNullOrWhiteSpace(patientName)) constraints.Add(new FindConstraint(DicomTags.PatientName, NamePattern(patientName)));
        if (!string.IsNullOrWhiteSpace(patientId)) constraints.Add(new FindConstraint(DicomTags.PatientID, patientId.Trim()));
        var sort = sortBy switch
        {
            nameof(PatientRow.PatientId) => DicomTags.PatientID,
            nameof(PatientRow.BirthDate) => DicomTags.PatientBirthDate,
            _ => DicomTags.PatientName,
        };
        var page = await queries.PatientsPageAsync(new PageRequest(constraints, sort, descending, skip, take), ct);
        return (page.Total, page.Items.Select(p =>
        {
            string V(DicomTag tag) => p.MainDicomTags.GetValueOrDefault(tag) ?? "";
            return new PatientRow(p.PublicId, V(DicomTags.PatientName), V(DicomTags.PatientID), V(DicomTags.PatientBirthDate), V(DicomTags.PatientSex),
                p.CountStudies, p.CountInstances, p.DiskSize, p.IsProtected);
        }).ToList());
    }

    public Task<ResourceStatistics?> StatisticsAsync(ResourceInfo resource, CancellationToken ct = default) => queries.ResourceStatisticsAsync(resource.PublicId, resource.Level, ct);

    public Task<ResourceInfo?> GetAsync(string id, ResourceLevel? level = null, CancellationToken ct = default) => queries.GetAsync(id, level, ct);

    /// <summary>The series of a study in Series Number order, each with its instance count and a preview instance.</summary>
    public async Task<IReadOnlyList<SeriesRow>> SeriesOfStudyAsync(string studyId, CancellationToken ct = default) =>
        (await queries.SeriesOfStudyAsync(studyId, ct) ?? []).Select(s =>
        {
            string V(DicomTag tag) => s.MainDicomTags.GetValueOrDefault(tag) ?? "";
            return new SeriesRow(s.PublicId, int.TryParse(V(DicomTags.SeriesNumber), CultureInfo.InvariantCulture, out var n) ? n : null,
                V(DicomTags.Modality), V(DicomTags.SeriesDescription), V(DicomTags.BodyPartExamined), s.CountInstances, s.MiddleInstanceId);
        }).ToList();

    /// <summary>
    /// A patient's timeline: its studies newest first (by Study Date, then Study Time; undated last), those with a
    /// series of one of <paramref name="modalities"/> when any are given, <paramref name="take"/> of them from
    /// <paramref name="skip"/> loaded with their series and previews. The counts and Modalities are over all the
    /// patient's studies, so a patient of thousands of studies opens on one page and loads the next on demand.
    /// </summary>
    public async Task<PatientTimeline?> PatientTimelineAsync(string patientId, IReadOnlyCollection<string>? modalities = null, int take = TimelinePage,
        int skip = 0, CancellationToken ct = default)
    {
        if (await queries.GetAsync(patientId, ResourceLevel.Patient, ct) is not { } patient) return null;
        var all = await queries.PatientStudiesAsync(patientId, ct) ?? [];
        var shown = all.Where(s => modalities is not { Count: > 0 } || s.Modalities.Any(modalities.Contains))
            .OrderBy(s => s.StudyDate.Length == 0)
            .ThenByDescending(s => s.StudyDate, StringComparer.Ordinal)
            .ThenByDescending(s => s.StudyTime, StringComparer.Ordinal)
            .ThenBy(s => s.PublicId, StringComparer.Ordinal)
            .ToList();
        var studies = new List<TimelineStudy>();
        foreach (var key in shown.Skip(Math.Max(0, skip)).Take(Math.Clamp(take, 1, MaximumTimelinePage)))
        {
            if (await queries.GetAsync(key.PublicId, ResourceLevel.Study, ct) is not { } study) continue; // deleted meanwhile
            string V(DicomTag tag) => study.MainDicomTags.GetValueOrDefault(tag) ?? "";
            studies.Add(new TimelineStudy(key.PublicId, V(DicomTags.StudyDate), V(DicomTags.StudyTime), V(DicomTags.StudyDescription), V(DicomTags.AccessionNumber),
                await SeriesOfStudyAsync(key.PublicId, ct)));
        }
        return new PatientTimeline(patient, all.Count, shown.Count, [.. all.SelectMany(s => s.Modalities).Distinct().Order(StringComparer.Ordinal)], studies);
    }

    /// <summary>Studies a timeline loads at once, and at most in one call (each costs a few queries for its series).</summary>
    public const int TimelinePage = 50, MaximumTimelinePage = 1000;

    /// <summary>One page of a series' instances in slice order (Instance Number, then index in series).</summary>
    public async Task<(int Total, IReadOnlyList<InstanceRow> Rows)> InstancesPageAsync(string seriesId, bool descending, int skip, int take, CancellationToken ct = default)
    {
        var page = await queries.InstancesPageAsync(seriesId, descending, skip, take, ct);
        return (page.Total, page.Items.Select(i =>
        {
            string V(DicomTag tag) => i.MainDicomTags.GetValueOrDefault(tag) ?? "";
            return new InstanceRow(i.PublicId, V(DicomTags.InstanceNumber), V(DicomTags.SOPInstanceUID), i.MainDicomTags.GetValueOrDefault(DicomTags.NumberOfFrames) ?? "1", i.UncompressedSize);
        }).ToList());
    }

    /// <summary>Instances of a series in slice order: Instance Number, then index in series.</summary>
    public async Task<IReadOnlyList<ResourceInfo>> SliceOrderAsync(ResourceInfo series, CancellationToken ct = default)
    {
        var result = new List<ResourceInfo>();
        foreach (var id in await queries.SliceOrderAsync(series.PublicId, ct))
            if (await queries.GetAsync(id, ResourceLevel.Instance, ct) is { } instance) result.Add(instance);
        return result;
    }

    public Task<Statistics> StatisticsAsync(CancellationToken ct = default) => queries.StatisticsAsync(ct);

    /// <summary>A name as typed: a prefix unless the user wrote wildcards (PS3.4 C.2.2.2.4 '*' and '?').</summary>
    private static string NamePattern(string typed)
    {
        var name = typed.Trim();
        return name.Length > 0 && !name.Contains('*') && !name.Contains('?') ? name + "*" : name;
    }
}
