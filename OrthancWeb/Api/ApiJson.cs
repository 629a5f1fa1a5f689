using System.Globalization;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Mvc;
using OrthancWeb.Dicom.Data;
using OrthancWeb.Dicom.Json;
using OrthancWeb.Index;
using OrthancWeb.Ingest;

namespace OrthancWeb.Api;

/// <summary>Orthanc's JSON shapes for resources, errors and upload answers.</summary>
public static class ApiJson
{
    /// <summary>Orthanc's answer to work submitted as a job: its ID and where to follow it.</summary>
    public static JsonObject JobSubmitted(Jobs.Job job) => new() { ["ID"] = job.Id, ["Path"] = $"/jobs/{job.Id}" };

    /// <summary>Main tags keyed by keyword (Orthanc's default), by "gggg,eeee" (Short), or by "gggg,eeee" with name, type and value (Full).</summary>
    public static JsonObject Tags(IReadOnlyDictionary<DicomTag, string> tags, TagFormat format = TagFormat.Simplify)
    {
        var o = new JsonObject();
        foreach (var (tag, value) in tags.OrderBy(t => t.Key))
        {
            var keyword = DicomDictionary.Find(tag)?.Keyword;
            switch (format)
            {
                case TagFormat.TagNumbers: o[tag.ToOrthancKey()] = value; break;
                case TagFormat.Full: o[tag.ToOrthancKey()] = new JsonObject { ["Name"] = keyword ?? "Unknown Tag & Data", ["Type"] = "String", ["Value"] = value }; break;
                default: o[keyword is { Length: > 0 } k ? k : tag.ToOrthancKey()] = value; break;
            }
        }
        return o;
    }

    public static JsonObject Resource(ResourceInfo r, TagFormat format = TagFormat.Simplify)
    {
        JsonObject Tags(IReadOnlyDictionary<DicomTag, string> tags) => ApiJson.Tags(tags, format);
        var o = new JsonObject
        {
            ["ID"] = r.PublicId,
            ["Type"] = r.Level.ToOrthancType(),
            ["MainDicomTags"] = Tags(r.MainDicomTags),
        };
        JsonArray Children() => new(r.ChildrenIds.Select(c => (JsonNode)c).ToArray());
        switch (r.Level)
        {
            case ResourceLevel.Patient:
                o["Studies"] = Children();
                o["IsStable"] = r.IsStable;
                o["IsProtected"] = r.IsProtected;
                o["LastUpdate"] = OrthancTime.Format(r.LastUpdate);
                break;
            case ResourceLevel.Study:
                o["ParentPatient"] = r.ParentId;
                o["PatientMainDicomTags"] = Tags(r.PatientMainDicomTags ?? new Dictionary<DicomTag, string>());
                o["Series"] = Children();
                o["IsStable"] = r.IsStable;
                o["LastUpdate"] = OrthancTime.Format(r.LastUpdate);
                break;
            case ResourceLevel.Series:
                o["ParentStudy"] = r.ParentId;
                o["Instances"] = Children();
                o["IsStable"] = r.IsStable;
                o["LastUpdate"] = OrthancTime.Format(r.LastUpdate);
                o["ExpectedNumberOfInstances"] = null;
                o["Status"] = "Unknown";
                break;
            case ResourceLevel.Instance:
                o["ParentSeries"] = r.ParentId;
                o["FileSize"] = r.File?.UncompressedSize ?? 0;
                o["FileUuid"] = r.File?.Uuid;
                o["IndexInSeries"] = r.Metadata.TryGetValue("IndexInSeries", out var idx) && int.TryParse(idx, CultureInfo.InvariantCulture, out var i) ? i : null;
                break;
        }
        return o;
    }

    /// <summary>
    /// Orthanc 1.11's "RequestedTags" object, in the shape of the answer's main tags (keywords, "gggg,eeee", or full
    /// entries): what the index holds, then what the file gave, each tag once.
    /// </summary>
    public static JsonObject RequestedTags(RequestedValues values, TagFormat format)
    {
        var o = Tags(values.Main, format);
        if (values.FromFile is { } ds)
        {
            var json = new OrthancJson();
            var shape = format switch { TagFormat.Full => json.ToFull(ds), TagFormat.TagNumbers => json.ToShort(ds), _ => json.ToSimplified(ds) };
            foreach (var (key, value) in shape) o[key] = value?.DeepClone();
        }
        return o;
    }

    public static JsonObject Ingest(IngestResult r)
    {
        var o = new JsonObject { ["Status"] = r.Status.ToString() };
        if (r.InstanceId is not null && r.Status is IngestStatus.Success or IngestStatus.AlreadyStored or IngestStatus.FilteredOut)
        {
            o["ID"] = r.InstanceId;
            o["Path"] = "/instances/" + r.InstanceId;
            o["ParentPatient"] = r.PatientId;
            o["ParentStudy"] = r.StudyId;
            o["ParentSeries"] = r.SeriesId;
        }
        if (r.Reason is not null) o["Message"] = r.Reason;
        return o;
    }

    /// <summary>An error in Orthanc's shape, with the Orthanc error code Orthanc uses for this HTTP status.</summary>
    public static ObjectResult Error(HttpContext http, int status, string message) =>
        Error(http, new ApiError(status, ApiError.CodeFor(status), message));

    public static ObjectResult Error(HttpContext http, ApiError error) =>
        new(ErrorBody(http, error)) { StatusCode = error.HttpStatus };

    /// <summary>
    /// Orthanc's error fields (HttpError, HttpStatus, Method, Uri, OrthancError, OrthancStatus, Details). "Message" holds
    /// the reason, as it always has here (Orthanc 1.10 repeats OrthancError there and keeps the reason in Details).
    /// </summary>
    public static JsonObject ErrorBody(HttpContext http, ApiError error) => new()
    {
        ["Details"] = error.Details,
        ["HttpError"] = ReasonPhrase(error.HttpStatus),
        ["HttpStatus"] = error.HttpStatus,
        ["Message"] = error.Details,
        ["Method"] = http.Request.Method,
        ["OrthancError"] = error.OrthancError,
        ["OrthancStatus"] = (int)error.Code,
        ["Uri"] = http.Request.Path.Value,
    };

    private static string ReasonPhrase(int status) => Microsoft.AspNetCore.WebUtilities.ReasonPhrases.GetReasonPhrase(status);
}

/// <summary>How main tags are keyed in an answer: Orthanc's "simplify" (keywords, the default), "short" or "full".</summary>
public enum TagFormat { Simplify, TagNumbers, Full }
