namespace OrthancWeb.Index;

/// <summary>A patient, study, series or instance; children point at their parent.</summary>
public sealed class Resource
{
    public long Id { get; set; }
    public ResourceLevel Level { get; set; }
    /// <summary>Orthanc-compatible public ID (see <see cref="PublicIds"/>).</summary>
    public string PublicId { get; set; } = "";
    public long? ParentId { get; set; }
    public Resource? Parent { get; set; }
    public List<Resource> Children { get; set; } = [];
    /// <summary>Last time an instance arrived below this resource (UTC); drives StableAge and recycling order.</summary>
    public DateTime LastUpdate { get; set; }
    public bool IsStable { get; set; }
    /// <summary>Patients only: never recycled.</summary>
    public bool IsProtected { get; set; }
    public List<MainDicomTag> Tags { get; set; } = [];
    public List<ResourceMetadata> Metadata { get; set; } = [];
    public List<Attachment> Attachments { get; set; } = [];
    public List<ResourceLabel> Labels { get; set; } = [];
}

/// <summary>One main DICOM tag value of a resource; indexed on (Tag, Value) and (Tag, ValueUpper, ResourceId) for finds and sorted grids.</summary>
public sealed class MainDicomTag
{
    public long ResourceId { get; set; }
    /// <summary>Group in the high 16 bits, element in the low 16 (as <c>DicomTag.Value</c>).</summary>
    public int Tag { get; set; }
    public string Value { get; set; } = "";
    /// <summary>Upper-cased copy for case-insensitive matching without provider-specific collations.</summary>
    public string ValueUpper { get; set; } = "";
}

/// <summary>
/// A patient's main tag copied onto each of its studies, for the studies grid sorted by it: the grid then walks one
/// index, (Tag, ValueUpper, ParentId, ResourceId), in the order it shows, and a deep page skips index entries instead
/// of joining every study to its patient's tag (PostgreSQL hashed every study: 50 ms a page at 100,000 studies).
/// Written by database triggers only (migration StudySortKeys, both providers), in the transaction that writes the
/// study or the patient's tags, whatever writes them: ingest, an overwrite, a reconstruction, another server.
/// </summary>
public sealed class StudySortKey
{
    /// <summary>The patient tags the studies grid sorts by; the triggers name the same ones.</summary>
    public static readonly IReadOnlyList<OrthancWeb.Dicom.Data.DicomTag> Tags = [OrthancWeb.Dicom.Data.DicomTags.PatientName, OrthancWeb.Dicom.Data.DicomTags.PatientID];

    /// <summary>The study.</summary>
    public long ResourceId { get; set; }
    public int Tag { get; set; }
    /// <summary>The patient's <see cref="MainDicomTag.ValueUpper"/>.</summary>
    public string ValueUpper { get; set; } = "";
    /// <summary>The patient (the study's parent), the sort's tie-break before the study.</summary>
    public long ParentId { get; set; }
}

public sealed class ResourceMetadata
{
    public long ResourceId { get; set; }
    public string Name { get; set; } = "";
    public string Value { get; set; } = "";
    /// <summary>Bumped by each change through the REST API or the UI: Orthanc's revision, the first half of the ETag.</summary>
    public long Revision { get; set; }
}

/// <summary>A label on a resource (Orthanc 1.12's labels): letters, digits, '_' and '-'; see <see cref="Annotations.LabelName"/>.</summary>
public sealed class ResourceLabel
{
    public long ResourceId { get; set; }
    public string Label { get; set; } = "";
}

/// <summary>A file in the storage area attached to a resource (content type 1 is the DICOM file).</summary>
public sealed class Attachment
{
    public long ResourceId { get; set; }
    public int ContentType { get; set; }
    public string Uuid { get; set; } = "";
    public long UncompressedSize { get; set; }
    public long CompressedSize { get; set; }
    /// <summary>The <see cref="Storage.FileChecksum"/> of the file on disk, recorded before the instance is acknowledged.</summary>
    public string Checksum { get; set; } = "";
    /// <summary>Orthanc's MD5s (of the DICOM file, of the bytes on disk): empty until first asked for.</summary>
    public string UncompressedMd5 { get; set; } = "";
    public string CompressedMd5 { get; set; } = "";
    /// <summary>0 none, 1 zlib (Orthanc's CompressionType).</summary>
    public int CompressionType { get; set; }
    /// <summary>Orthanc's revision of the attachment, bumped by each replacement, compression or uncompression.</summary>
    public long Revision { get; set; }

    public const int DicomContentType = 1;
}

/// <summary>The changes log that /changes pages through.</summary>
public sealed class ChangeEntry
{
    public long Seq { get; set; }
    public string ChangeType { get; set; } = "";
    public ResourceLevel Level { get; set; }
    public string PublicId { get; set; } = "";
    public DateTime Date { get; set; }
}

public sealed class GlobalProperty
{
    public string Name { get; set; } = "";
    public string Value { get; set; } = "";
}

/// <summary>
/// A measurement a user drew on one frame in the viewer (a length, an angle, a rectangle or an ellipse), kept for that
/// user only. <see cref="Points"/> are image coordinates ("x,y;x,y", invariant culture); what they measure is computed
/// from the pixels when shown, so nothing derived is stored.
/// </summary>
public sealed class Measurement
{
    public long Id { get; set; }
    public long InstanceId { get; set; }
    public int Frame { get; set; }
    /// <summary>The account's ID, not its name: a new account given a deleted one's name does not inherit its measurements.</summary>
    public string UserId { get; set; } = "";
    public string Kind { get; set; } = "";
    public string Points { get; set; } = "";
    public DateTime Created { get; set; }
}

/// <summary>
/// An instance's attributes in the DICOM JSON model (PS3.18 F), deflated, as WADO-RS metadata and QIDO-RS serve them:
/// built once at ingest from the header already parsed, so that a series' metadata is one indexed read, not a parse of
/// every file. See <see cref="InstanceMetadataJson"/>.
/// </summary>
public sealed class InstanceJson
{
    public long ResourceId { get; set; }
    public byte[] Data { get; set; } = [];
}

/// <summary>
/// A Modality Worklist item (PS3.4 Annex K): the whole data set as DICOM JSON (PS3.18 F), with the keys a worklist query
/// or the page filters on copied out of it (the first Scheduled Procedure Step's, K.6.1.2.2), so that neither parses
/// every item to list a day's work. Not a resource: it belongs to no patient row, since the patient may not be here yet.
/// </summary>
public sealed class WorklistItem
{
    public long Id { get; set; }
    /// <summary>A UUID, as the IDs of Orthanc's worklists plugin.</summary>
    public string PublicId { get; set; } = "";
    public string DataSet { get; set; } = "";
    public string PatientId { get; set; } = "";
    public string PatientName { get; set; } = "";
    public string AccessionNumber { get; set; } = "";
    public string StudyInstanceUid { get; set; } = "";
    public string RequestedProcedureId { get; set; } = "";
    public string Modality { get; set; } = "";
    public string StationAet { get; set; } = "";
    /// <summary>Scheduled Procedure Step Start Date and Time, as DICOM writes them (YYYYMMDD, HHMMSS).</summary>
    public string ScheduledDate { get; set; } = "";
    public string ScheduledTime { get; set; } = "";
    /// <summary>When images of the procedure arrived (its accession number or study), null while it is scheduled.</summary>
    public DateTime? Performed { get; set; }
    public DateTime Created { get; set; }
    public DateTime Updated { get; set; }
}
