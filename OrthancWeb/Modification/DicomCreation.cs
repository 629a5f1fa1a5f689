using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using OrthancWeb.Dicom;
using OrthancWeb.Dicom.Anonymization;
using OrthancWeb.Dicom.Data;
using OrthancWeb.Dicom.Imaging;
using OrthancWeb.Dicom.IO;
using OrthancWeb.Index;
using OrthancWeb.Ingest;

namespace OrthancWeb.Modification;

/// <summary>
/// Orthanc's POST /tools/create-dicom: a new instance from tags, optionally with a PDF (Encapsulated PDF Storage,
/// PS3.3 A.45.1) or a PNG or JPEG picture (decoded to native pixels, Secondary Capture Image Storage, PS3.3 A.8.1), and
/// optionally under an existing patient, study or series ("Parent") whose modules it copies. Stored through the one
/// ingest path, as an upload is.
/// </summary>
public sealed class DicomCreation(IndexQueries queries, InstanceFiles files, IngestService ingest, TimeProvider time)
{
    public const string SecondaryCaptureImageStorage = "1.2.840.10008.5.1.4.1.1.7";
    public const string EncapsulatedPdfStorage = "1.2.840.10008.5.1.4.1.1.104.1";

    /// <summary>A picture past this many bytes of pixels is refused before it is decoded (one PNG header can claim 64k x 64k).</summary>
    private const long MaximumPixelBytes = 1L << 30;

    // The modules a child inherits from its parent (PS3.3 C.7.1.1 Patient, C.7.2.1 General Study, C.7.3.1 General
    // Series): copied from one instance of the parent, and not to be set by the body unless "Force".
    private static readonly DicomTag[] PatientModule =
    [
        DicomTags.PatientName, DicomTags.PatientID, DicomTags.IssuerOfPatientID, DicomTags.PatientBirthDate, DicomTags.PatientBirthTime,
        DicomTags.PatientSex, DicomTags.OtherPatientIDsSequence, DicomTags.OtherPatientNames, DicomTags.EthnicGroup, DicomTags.PatientComments,
    ];

    private static readonly DicomTag[] StudyModule =
    [
        DicomTags.StudyInstanceUID, DicomTags.StudyDate, DicomTags.StudyTime, DicomTags.ReferringPhysicianName, DicomTags.StudyID,
        DicomTags.AccessionNumber, DicomTags.StudyDescription,
    ];

    private static readonly DicomTag[] SeriesModule =
    [
        DicomTags.Modality, DicomTags.SeriesInstanceUID, DicomTags.SeriesNumber, DicomTags.Laterality, DicomTags.SeriesDate, DicomTags.SeriesTime,
        DicomTags.ProtocolName, DicomTags.SeriesDescription, DicomTags.BodyPartExamined, DicomTags.PatientPosition,
    ];

    public async Task<IngestResult> CreateAsync(CreateDicomRequest request, IngestSource source, CancellationToken ct)
    {
        var ds = await BuildAsync(request, ct);
        var file = new DicomFile(ds, TransferSyntax.ExplicitVRLittleEndian);
        file.UpdateFileMetaInfo();
        return await ingest.StoreAsync(file.ToBytes(), source, ct);
    }

    /// <summary>The data set of the new instance, or a <see cref="DicomValidationException"/> saying what in the body is wrong.</summary>
    public async Task<DicomDataset> BuildAsync(CreateDicomRequest request, CancellationToken ct)
    {
        var tags = request.Tags ?? [];
        var ds = new DicomDataset();
        // The character set first, so that the text after it is encoded in it (Orthanc: its DefaultEncoding, Latin-1).
        if (tags.FirstOrDefault(p => Is(p.Key, DicomTags.SpecificCharacterSet)).Value is JsonValue cs)
            ds.Add(DicomTags.SpecificCharacterSet, DicomVR.CS, Text(cs, "SpecificCharacterSet").Split('\\'));
        else
            ds.Add(DicomTags.SpecificCharacterSet, DicomVR.CS, tags.ToJsonString().Any(c => c > 255) ? "ISO_IR 192" : "ISO_IR 100");

        var inherited = new HashSet<DicomTag>();
        if (request.Parent is { Length: > 0 } parentId)
        {
            var parent = await queries.GetAsync(parentId, null, ct) ?? throw new KeyNotFoundException($"Unknown resource: {parentId}");
            if (parent.Level == ResourceLevel.Instance) throw new DicomValidationException("Parent must be a patient, a study or a series, not an instance");
            var children = await queries.InstanceFilesAsync(parentId, ct);
            if (children.Count == 0) throw new KeyNotFoundException($"Resource {parentId} has no instance to copy its modules from");
            var model = files.Read(children[0].File).Dataset;
            var modules = PatientModule.AsEnumerable();
            if (parent.Level is ResourceLevel.Study or ResourceLevel.Series) modules = modules.Concat(StudyModule);
            if (parent.Level == ResourceLevel.Series) modules = modules.Concat(SeriesModule);
            foreach (var tag in modules)
            {
                inherited.Add(tag);
                if (model[tag] is { } item) ds.AddOrUpdate(item);
            }
        }

        Fill(ds, tags, request.Force, request.PrivateCreator, inherited);

        if (!ds.Contains(DicomTags.PatientID)) ds.Add(DicomTags.PatientID, Guid.NewGuid().ToString()); // as Orthanc: a patient of its own
        foreach (var uid in new[] { DicomTags.StudyInstanceUID, DicomTags.SeriesInstanceUID, DicomTags.SOPInstanceUID })
            if (string.IsNullOrEmpty(ds.GetString(uid))) ds.Add(uid, DicomVR.UI, UidMap.NewUid());

        // Dates and times of now where the body and the parent gave none (as Orthanc).
        var now = time.GetLocalNow();
        var date = now.ToString("yyyyMMdd", CultureInfo.InvariantCulture);
        var clock = now.ToString("HHmmss.ffffff", CultureInfo.InvariantCulture);
        foreach (var (d, t) in new[]
        {
            (DicomTags.StudyDate, DicomTags.StudyTime), (DicomTags.SeriesDate, DicomTags.SeriesTime), (DicomTags.AcquisitionDate, DicomTags.AcquisitionTime),
            (DicomTags.ContentDate, DicomTags.ContentTime), (DicomTags.InstanceCreationDate, DicomTags.InstanceCreationTime),
        })
        {
            if (!ds.Contains(d)) ds.Add(d, DicomVR.DA, date);
            if (!ds.Contains(t)) ds.Add(t, DicomVR.TM, clock);
        }

        switch (request.Content)
        {
            case null: break;
            case JsonValue v when v.TryGetValue<string>(out var uri): AddContent(ds, uri); break;
            case JsonArray: throw new DicomValidationException("\"Content\" as an array of frames (multi-frame) is not supported: give one data URI");
            default: throw new DicomValidationException("\"Content\" must be a data URI (data:<MIME type>;base64,...)");
        }
        return ds;
    }

    private static void AddContent(DicomDataset ds, string uri)
    {
        // RFC 2397: data:[<mediatype>][;base64],<data>
        var comma = uri.IndexOf(',', StringComparison.Ordinal);
        if (!uri.StartsWith("data:", StringComparison.OrdinalIgnoreCase) || comma < 0 || !uri[..comma].EndsWith(";base64", StringComparison.OrdinalIgnoreCase))
            throw new DicomValidationException("\"Content\" must be a base64 data URI (data:<MIME type>;base64,...)");
        var mime = uri[5..comma].Split(';')[0].Trim().ToLowerInvariant();
        byte[] bytes;
        try { bytes = Convert.FromBase64String(uri[(comma + 1)..]); }
        catch (FormatException) { throw new DicomValidationException("\"Content\" is not valid base64"); }
        switch (mime)
        {
            case "application/pdf":
                if (bytes.Length < 5 || !bytes.AsSpan(0, 5).SequenceEqual("%PDF-"u8)) throw new DicomValidationException("\"Content\" says application/pdf but is not a PDF file");
                SetIfAbsent(ds, DicomTags.SOPClassUID, DicomVR.UI, EncapsulatedPdfStorage);
                SetIfAbsent(ds, DicomTags.Modality, DicomVR.CS, "OT");
                SetIfAbsent(ds, DicomTags.ConversionType, DicomVR.CS, "WSD");
                ds.Add(DicomTags.MIMETypeOfEncapsulatedDocument, DicomVR.LO, "application/pdf");
                // OB of even length (PS3.5 §7.1.1): a PDF ends at its %%EOF, a trailing 0 does not change it.
                ds.AddBytes(DicomTags.EncapsulatedDocument, DicomVR.OB, bytes.Length % 2 == 0 ? bytes : [.. bytes, 0]);
                break;
            case "image/png" or "image/jpeg":
                ImportedImage image;
                try { image = mime == "image/png" ? ImageImport.DecodePng(bytes) : ImageImport.DecodeJpeg(bytes); }
                catch (Exception ex) when (ex is ImagingException or InvalidDataException or EndOfStreamException)
                {
                    throw new DicomValidationException($"\"Content\" is not a {mime} picture we can read: {ex.Message}");
                }
                if ((long)image.Pixels.Length > MaximumPixelBytes) throw new DicomValidationException("The picture is too large");
                SetIfAbsent(ds, DicomTags.SOPClassUID, DicomVR.UI, SecondaryCaptureImageStorage);
                SetIfAbsent(ds, DicomTags.ConversionType, DicomVR.CS, "WSD");
                image.AddTo(ds);
                break;
            default:
                throw new DicomValidationException($"\"Content\" of MIME type {mime} is not supported: application/pdf, image/png or image/jpeg");
        }
    }

    private static void SetIfAbsent(DicomDataset ds, DicomTag tag, DicomVR vr, string value)
    {
        if (string.IsNullOrEmpty(ds.GetString(tag))) ds.Add(tag, vr, value);
    }

    private static bool Is(string key, DicomTag tag) => DicomTag.TryParse(key, out var t) && t == tag;

    /// <summary>Keywords or "gggg,eeee" to strings, sequences as arrays of objects (Orthanc's simplified tags).</summary>
    private static void Fill(DicomDataset ds, JsonObject o, bool force, string? privateCreator, ISet<DicomTag> inherited, bool top = true)
    {
        foreach (var (key, node) in o)
        {
            if (!DicomTag.TryParse(key, out var tag)) throw new DicomValidationException($"Unknown DICOM tag: {key}");
            if (tag == DicomTags.SpecificCharacterSet && top) continue;
            // Identifiers and what a parent gives are not the body's to set, unless it says so (Orthanc's "Force").
            if (top && !force && (inherited.Contains(tag) || tag == DicomTags.SOPInstanceUID || tag == DicomTags.SeriesInstanceUID || tag == DicomTags.StudyInstanceUID))
                throw new DicomValidationException($"Trying to override a value inherited from a parent module: {key} (\"Force\": true allows it)");
            if (tag.IsPrivate && !tag.IsPrivateCreator && ds[tag.PrivateCreatorTag] is null)
            {
                if (privateCreator is not { Length: > 0 }) throw new DicomValidationException($"Private tag {key} needs its private creator: \"PrivateCreator\" or the creator tag");
                ds.Add(tag.PrivateCreatorTag, DicomVR.LO, privateCreator);
            }
            var vr = tag.IsPrivate ? DicomVR.LO : ds.FindEntry(tag) is { VRs.Count: > 0 } entry ? entry.DefaultVR : DicomVR.UN;
            if (vr == DicomVR.SQ)
            {
                if (node is not JsonArray items || items.Any(i => i is not JsonObject))
                    throw new DicomValidationException($"{key} is a sequence: an array of objects");
                var children = items.Select(_ => new DicomDataset()).ToArray();
                ds.AddSequence(tag, children);
                for (var i = 0; i < children.Length; i++) Fill(children[i], (JsonObject)items[i]!, force, privateCreator, inherited, top: false);
                continue;
            }
            if (node is JsonArray or JsonObject) throw new DicomValidationException($"{key} ({vr}) takes a string");
            var text = node is null ? "" : Text(node, key);
            try { ds.Add(tag, vr, vr.IsString ? text.Split('\\') : [text]); }
            catch (Exception ex) when (ex is FormatException or ArgumentException or OverflowException)
            {
                throw new DicomValidationException($"{key} ({vr}): \"{text}\" is not a value of this VR: {ex.Message}");
            }
        }
    }

    private static string Text(JsonNode node, string key) => node switch
    {
        JsonValue v when v.TryGetValue<string>(out var s) => s,
        JsonValue v when v.TryGetValue<double>(out _) => v.ToJsonString(),
        JsonValue v when v.TryGetValue<bool>(out var b) => b ? "1" : "0",
        _ => throw new DicomValidationException($"{key} must be a string"),
    };
}

/// <summary>
/// POST /tools/create-dicom (Orthanc 1.10): {"Tags": {...}, "Content": "data:...;base64,...", "Parent": id, "Force",
/// "PrivateCreator"}; a body without "Tags" is the tags themselves (Orthanc's first form).
/// </summary>
public sealed record CreateDicomRequest
{
    public JsonObject? Tags { get; init; }
    public JsonNode? Content { get; init; }
    public string? Parent { get; init; }
    public bool Force { get; init; }
    public string? PrivateCreator { get; init; }
    /// <summary>Orthanc 1.9.3's switch for binary tags given as data URIs; accepted, binary VRs are read from text here.</summary>
    public bool InterpretBinaryTags { get; init; } = true;

    private static readonly HashSet<string> Fields = new(StringComparer.OrdinalIgnoreCase)
        { nameof(Tags), nameof(Content), nameof(Parent), nameof(Force), nameof(PrivateCreator), nameof(InterpretBinaryTags) };

    /// <summary>The request a body stands for: the object form, or Orthanc's older form where the body is the tags.</summary>
    public static CreateDicomRequest From(JsonObject body)
    {
        if (body.Count > 0 && !body.Any(p => Fields.Contains(p.Key)))
            return new CreateDicomRequest { Tags = (JsonObject)body.DeepClone() };
        return body.Deserialize<CreateDicomRequest>(OrthancWeb.Requests.RequestJson.Options) ?? new CreateDicomRequest();
    }
}
