using OrthancWeb.Audit;
using OrthancWeb.Dicom.Data;
using OrthancWeb.Index;

namespace OrthancWeb.Explorer;

/// <summary>
/// Audit events about a stored resource, with the patient and study named from tags the caller already holds (a
/// page's resource, a controller's data set): no extra query on the path that reads the data.
/// </summary>
public static class ResourceAudit
{
    /// <summary>From an index resource: a patient has its PatientID, a study its own UID and its patient's tags.</summary>
    public static AuditEvent For(string action, ResourceInfo r, ResourceInfo? study = null, AuditOutcome outcome = AuditOutcome.Success, string? details = null)
    {
        var studyTags = r.Level == ResourceLevel.Study ? r : study;
        var patientId = r.Level == ResourceLevel.Patient
            ? r.MainDicomTags.GetValueOrDefault(DicomTags.PatientID)
            : studyTags?.PatientMainDicomTags?.GetValueOrDefault(DicomTags.PatientID);
        return new AuditEvent(action, outcome)
        {
            PatientId = patientId,
            StudyInstanceUid = studyTags?.MainDicomTags.GetValueOrDefault(DicomTags.StudyInstanceUID),
            ResourceLevel = r.Level.ToString(),
            ResourceId = r.PublicId,
            Details = details,
        };
    }

    /// <summary>From a data set read from storage: its PatientID and StudyInstanceUID.</summary>
    public static AuditEvent For(string action, ResourceLevel level, string id, DicomDataset? dataset, AuditOutcome outcome = AuditOutcome.Success, string? details = null) =>
        new(action, outcome)
        {
            PatientId = dataset?.GetString(DicomTags.PatientID),
            StudyInstanceUid = dataset?.GetString(DicomTags.StudyInstanceUID),
            ResourceLevel = level.ToString(),
            ResourceId = id,
            Details = details,
        };
}
