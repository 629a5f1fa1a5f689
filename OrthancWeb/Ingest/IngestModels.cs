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

    /// <summary>The user who uploaded it over REST (Orthanc's origin "Username"); null otherwise.</summary>
    public string? Username { get; init; }

    /// <summary>More instance metadata to record, e.g. ModifiedFrom / AnonymizedFrom.</summary>
    public IReadOnlyList<(string Name, string Value)> Metadata { get; init; } = [];

    /// <summary>
    /// Metadata of the series, study and patient this instance creates, kept only by a parent it creates (Orthanc
    /// 1.10.1 sets ModifiedFrom / AnonymizedFrom on each new resource of a copy, none on an existing one).
    /// </summary>
    public IReadOnlyList<(OrthancWeb.Index.ResourceLevel Level, string Name, string Value)> ParentMetadata { get; init; } = [];

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
    /// <summary>
    /// Refused by a filter (Lua's ReceivedInstanceFilter); nothing stored. As in Orthanc 1.10 the sender is told
    /// "FilteredOut" (REST, HTTP 200) or Success (C-STORE) unless the filter chose a DIMSE status of its own.
    /// </summary>
    FilteredOut,
}

/// <summary>What a filter decided about an instance about to be stored.</summary>
/// <param name="CStoreStatus">For a refused C-STORE, the DIMSE status to answer (PS3.4 Annex B.2.3); null answers Success as Orthanc does.</param>
public readonly record struct FilterVerdict(bool Accepted, ushort? CStoreStatus = null)
{
    public static FilterVerdict Accept => new(true);
}

/// <summary>
/// A decision on every instance before it is stored (Orthanc's ReceivedInstanceFilter), taken on the parsed header.
/// The Scripting capability provides one; Ingest knows only this interface.
/// </summary>
public interface IReceivedInstanceFilter
{
    /// <summary>Cheap: whether there is anything to ask (the ingest path skips the call otherwise).</summary>
    bool IsActive { get; }

    /// <param name="header">The data set up to the pixel data.</param>
    /// <param name="hasPixelData">Whether the file goes on with pixel data.</param>
    ValueTask<FilterVerdict> FilterAsync(Dicom.Data.DicomDataset header, IngestSource source, string transferSyntaxUid, bool hasPixelData, CancellationToken ct);
}

/// <summary>Where a REST request comes from when it is not an HTTP client: set by in-process callers (Lua scripts).</summary>
public sealed record RequestOriginFeature(IngestOrigin Origin);

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
    string? SeriesInstanceUid = null)
{
    /// <summary>For <see cref="IngestStatus.FilteredOut"/>: the DIMSE status a filter chose for a C-STORE, if any.</summary>
    public ushort? CStoreStatus { get; init; }
}
