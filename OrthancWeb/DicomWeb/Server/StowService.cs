using System.Text.Json;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Net.Http.Headers;
using OrthancWeb.Dicom.Data;
using OrthancWeb.Dicom.Json;
using OrthancWeb.Ingest;

namespace OrthancWeb.DicomWeb.Server;

/// <summary>What a STOW-RS request stored and what it did not (PS3.18 10.5.3): the HTTP status and the response data set.</summary>
public sealed record StowResult(int Status, byte[] Json, IReadOnlyList<string> Warnings);

/// <summary>
/// STOW-RS (PS3.18 10.5): the parts of a <c>multipart/related; type="application/dicom"</c> body, each streamed through
/// the one ingest path and acknowledged (listed in ReferencedSOPSequence) only once durable and indexed.
/// </summary>
public sealed class StowService(IngestService ingest, UploadService uploads)
{
    /// <summary>Failure Reasons (PS3.4 Annex B.2.3 statuses, as PS3.18 10.5.3 uses them).</summary>
    public const ushort ProcessingFailure = 0x0110, OutOfResources = 0xA700, CannotUnderstand = 0xC000;

    /// <summary>Part headers larger than this are not a STOW request's: refused, not buffered.</summary>
    private const int PartHeadersLimit = 16 * 1024;

    public async Task<StowResult> StoreAsync(HttpRequest request, string? studyUid, string root, CancellationToken ct)
    {
        if (!MediaTypeHeaderValue.TryParse(request.ContentType, out var contentType) || !contentType.MediaType.Equals("multipart/related", StringComparison.OrdinalIgnoreCase))
            throw new DicomWebException(StatusCodes.Status415UnsupportedMediaType, "STOW-RS takes multipart/related; type=\"application/dicom\"");
        var type = contentType.Parameters.FirstOrDefault(p => p.Name.Equals("type", StringComparison.OrdinalIgnoreCase))?.Value.ToString().Trim('"');
        if (type is not null && !type.Equals(DicomWebMedia.Dicom, StringComparison.OrdinalIgnoreCase))
            throw new DicomWebException(StatusCodes.Status415UnsupportedMediaType, $"Parts of type {type} are not accepted: send application/dicom (the JSON and XML metadata forms are not supported)");
        var boundary = HeaderUtilities.RemoveQuotes(contentType.Boundary).Value;
        // RFC 2046 5.1.1 says 70 characters at most; orthanc's DICOMweb client sends 73: be lenient, within a bound.
        if (string.IsNullOrEmpty(boundary) || boundary.Length > 256)
            throw DicomWebException.BadRequest("The multipart/related body has no valid boundary parameter");

        var source = new IngestSource(IngestOrigin.RestApi, request.HttpContext.Connection.RemoteIpAddress?.ToString())
        {
            Condition = studyUid is null ? null : ds =>
                ds.GetString(DicomTags.StudyInstanceUID) is var uid && uid == studyUid ? null : $"Study Instance UID {uid} is not the study of the request ({studyUid})",
        };
        var reader = new MultipartReader(boundary, request.Body) { HeadersLengthLimit = PartHeadersLimit, BodyLengthLimit = null };
        var results = new List<IngestResult>();
        var part = 0;
        try
        {
            while (await reader.ReadNextSectionAsync(ct) is { } section)
            {
                part++;
                // A part without a type is of the body's type (RFC 2387 3.1); one whose type does not parse is refused on its own.
                var partType = section.ContentType is null ? DicomWebMedia.Dicom
                    : MediaTypeHeaderValue.TryParse(section.ContentType, out var parsed) ? parsed.MediaType.ToString() : "an unreadable type";
                IngestResult result;
                if (!partType.Equals(DicomWebMedia.Dicom, StringComparison.OrdinalIgnoreCase))
                {
                    await section.Body.CopyToAsync(Stream.Null, ct); // read past it
                    result = new IngestResult(IngestStatus.Invalid, Reason: $"part {part} is {partType}, not application/dicom");
                }
                else result = await ingest.StoreAsync(section.Body, source, ct);
                uploads.Record(result, $"STOW-RS part {part}");
                results.Add(result);
            }
        }
        catch (IOException ex)
        {
            // A body cut short or not multipart at all: what was acknowledged stays (each part is on its own), the rest is refused.
            if (results.Count == 0) throw DicomWebException.BadRequest("The body is not a well-formed multipart/related message: " + ex.Message);
            results.Add(new IngestResult(IngestStatus.Invalid, Reason: "the body ends in the middle of a part: " + ex.Message));
        }
        catch (InvalidDataException ex)
        {
            if (results.Count == 0) throw DicomWebException.BadRequest("The body is not a well-formed multipart/related message: " + ex.Message);
            results.Add(new IngestResult(IngestStatus.Invalid, Reason: "malformed part: " + ex.Message));
        }
        if (results.Count == 0) throw DicomWebException.BadRequest("The multipart/related body holds no part");
        return Answer(results, studyUid, root);
    }

    private static StowResult Answer(List<IngestResult> results, string? studyUid, string root)
    {
        var stored = results.Where(r => r.Status is IngestStatus.Success or IngestStatus.AlreadyStored).ToList();
        var failed = results.Except(stored).ToList();
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            var study = studyUid ?? (stored.Select(r => r.StudyInstanceUid).Distinct().Count() == 1 ? stored[0].StudyInstanceUid : null);
            if (study is not null && stored.Count > 0) DicomJsonModel.WriteAttribute(w, DicomTags.RetrieveURL, DicomVR.UR, [$"{root}studies/{study}"]);
            if (failed.Count > 0)
            {
                w.WritePropertyName(DicomTags.FailedSOPSequence.ToJsonKey());
                w.WriteStartObject();
                w.WriteString("vr", "SQ");
                w.WriteStartArray("Value");
                foreach (var f in failed)
                {
                    w.WriteStartObject();
                    DicomJsonModel.WriteAttribute(w, DicomTags.ReferencedSOPClassUID, DicomVR.UI, [f.SopClassUid ?? ""]);
                    DicomJsonModel.WriteAttribute(w, DicomTags.ReferencedSOPInstanceUID, DicomVR.UI, [f.SopInstanceUid ?? ""]);
                    var reason = f.Status switch { IngestStatus.StorageFull => OutOfResources, IngestStatus.Invalid => CannotUnderstand, _ => ProcessingFailure };
                    DicomJsonModel.WriteAttribute(w, DicomTags.FailureReason, DicomVR.US, [Numbers.Text(reason)]);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
                w.WriteEndObject();
            }
            if (stored.Count > 0)
            {
                w.WritePropertyName(DicomTags.ReferencedSOPSequence.ToJsonKey());
                w.WriteStartObject();
                w.WriteString("vr", "SQ");
                w.WriteStartArray("Value");
                foreach (var s in stored)
                {
                    w.WriteStartObject();
                    DicomJsonModel.WriteAttribute(w, DicomTags.ReferencedSOPClassUID, DicomVR.UI, [s.SopClassUid ?? ""]);
                    DicomJsonModel.WriteAttribute(w, DicomTags.ReferencedSOPInstanceUID, DicomVR.UI, [s.SopInstanceUid ?? ""]);
                    DicomJsonModel.WriteAttribute(w, DicomTags.RetrieveURL, DicomVR.UR, [$"{root}studies/{s.StudyInstanceUid}/series/{SeriesUidOf(s)}/instances/{s.SopInstanceUid}"]);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
                w.WriteEndObject();
            }
            w.WriteEndObject();
        }
        var warnings = failed.Select(f => DicomWebMedia.Warning($"{(f.SopInstanceUid is { Length: > 0 } uid ? uid + ": " : "")}{f.Reason}")).Take(20).ToList();
        // 200 all stored, 202 some not, 409 none (PS3.18 10.5.3).
        var status = failed.Count == 0 ? StatusCodes.Status200OK : stored.Count > 0 ? StatusCodes.Status202Accepted : StatusCodes.Status409Conflict;
        return new StowResult(status, buffer.ToArray(), warnings);
    }

    private static string SeriesUidOf(IngestResult r) => r.SeriesInstanceUid ?? "";
}
