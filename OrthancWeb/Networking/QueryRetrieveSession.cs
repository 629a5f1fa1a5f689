using OrthancWeb.Dicom.Data;
using OrthancWeb.Index;

namespace OrthancWeb.Networking;

/// <summary>
/// What the Query/Retrieve page last did, kept for the circuit (scoped): leaving the page and coming back shows the same
/// search, answers, expanded studies and retrieve jobs. The answers are held here, not only their query's ID, so the
/// /queries limit (QueryRetrieveSize) cannot empty the page.
/// </summary>
public sealed class QueryRetrieveSession
{
    public string? Modality { get; set; }
    public StudySearch Search { get; } = new();
    public ModalityQuery? Studies { get; set; }
    /// <summary>The series of each expanded study, by the study's answer index.</summary>
    public Dictionary<int, ModalityQuery> Series { get; } = [];
    public HashSet<int> SelectedStudies { get; } = [];
    public HashSet<(int Study, int Series)> SelectedSeries { get; } = [];
    /// <summary>Retrieve jobs started from the page, newest first, with the studies they bring back.</summary>
    public List<RetrieveJob> Jobs { get; } = [];

    public void NewResults(ModalityQuery studies)
    {
        Studies = studies;
        Series.Clear();
        SelectedStudies.Clear();
        SelectedSeries.Clear();
    }
}

/// <summary>A retrieve started from the page: its job, and the studies (patient ID, study UID) it brings.</summary>
public sealed record RetrieveJob(string JobId, string Method, IReadOnlyList<(string PatientId, string StudyUid, string Label)> Studies);

/// <summary>The study-level search of the Query/Retrieve page, as C-FIND matching keys (PS3.4 C.2.2.2).</summary>
public sealed class StudySearch
{
    public string PatientName { get; set; } = "";
    public string PatientId { get; set; } = "";
    public DateTime? From { get; set; }
    public DateTime? To { get; set; }
    public string Modality { get; set; } = "";
    public string AccessionNumber { get; set; } = "";
    public string StudyDescription { get; set; } = "";

    /// <summary>
    /// The identifier: wildcards (* and ?) as typed, a date range as YYYYMMDD-YYYYMMDD (C.2.2.2.5), the modality
    /// through Modalities in Study; empty keys are return keys.
    /// </summary>
    public DicomDataset ToQuery()
    {
        var ds = new DicomDataset();
        ds.Add(DicomTags.PatientName, PatientName.Trim());
        ds.Add(DicomTags.PatientID, PatientId.Trim());
        var range = From is null && To is null ? "" : $"{From:yyyyMMdd}-{To:yyyyMMdd}";
        ds.Add(DicomTags.StudyDate, range);
        ds.Add(DicomTags.ModalitiesInStudy, Modality.Trim());
        ds.Add(DicomTags.AccessionNumber, AccessionNumber.Trim());
        ds.Add(DicomTags.StudyDescription, StudyDescription.Trim());
        ds.Add(DicomTags.StudyInstanceUID, "");
        ds.Add(DicomTags.PatientBirthDate, "");
        ds.Add(DicomTags.NumberOfStudyRelatedSeries, "");
        ds.Add(DicomTags.NumberOfStudyRelatedInstances, "");
        return ds;
    }

    /// <summary>The series-level return keys asked for when a study is expanded.</summary>
    public static DicomDataset SeriesQuery()
    {
        var ds = new DicomDataset();
        foreach (var tag in new[] { DicomTags.SeriesInstanceUID, DicomTags.Modality, DicomTags.SeriesNumber, DicomTags.SeriesDescription, DicomTags.NumberOfSeriesRelatedInstances })
            ds.Add(tag, "");
        return ds;
    }
}
