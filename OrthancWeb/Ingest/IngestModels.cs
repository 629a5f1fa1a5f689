namespace OrthancWeb.Ingest;

/// <summary>Where an instance came from: Orthanc's "Origin" metadata values.</summary>
public enum IngestOrigin
{
    RestApi,
    DicomProtocol,
    WebUI,
    Plugins,
    Lua,
    Unknown,
}

/// <summary>Who sent it, recorded as metadata (RemoteAET, RemoteIP, CalledAET).</summary>
public sealed record IngestSource(IngestOrigin Origin, string? RemoteIp = null, string? RemoteAet = null, string? CalledAet = null)
{
    /// <summary>Replace an instance already stored with the same SOP Instance UID, whatever OverwriteInstances says (in-place modification).</summary>
    public bool Overwrite { get; init; }

    /// <summary>More instance metadata to record, e.g. ModifiedFrom / AnonymizedFrom.</summary>
    public IReadOnlyList<(string Name, string Value)> Metadata { get; init; } = [];

    /// <summary>
    /// A condition of the request itself on the parsed header, checked before anything is stored (STOW-RS to a study
    /// refuses instances of another, PS3.18 10.5.1): a reason refuses the instance as <see cref="IngestStatus.Mismatch"/>.
    /// </summary>
    public Func<OrthancWeb.Dicom.Data.DicomDataset, string?>? Condition { get; init; }
}

public enum IngestStatus
{
    Success,
    AlreadyStored,
    /// <summary>The input is not an acceptable DICOM instance (HTTP 400, DIMSE 0xC000-series).</summary>
    Invalid,
    /// <summary>Storage limits reached and nothing could be recycled (DIMSE 0xA700 Out of Resources).</summary>
    StorageFull,
    /// <summary>A valid instance that the request's <see cref="IngestSource.Condition"/> refused; nothing stored.</summary>
    Mismatch,
}

/// <summary>The answer of the one ingest path, shaped like Orthanc's POST /instances reply.</summary>
public sealed record IngestResult(
    IngestStatus Status,
    string? InstanceId = null,
    string? SeriesId = null,
    string? StudyId = null,
    string? PatientId = null,
    string? Reason = null,
    string? SopInstanceUid = null,
    string? SopClassUid = null,
    string? DicomPatientId = null,
    string? StudyInstanceUid = null,
    string? SeriesInstanceUid = null);
