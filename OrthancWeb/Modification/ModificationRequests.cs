using System.Text.Json.Nodes;
using OrthancWeb.Dicom.Anonymization;
using OrthancWeb.Dicom.Data;
using OrthancWeb.Index;

namespace OrthancWeb.Modification;

/// <summary>Orthanc's JSON request bodies for /anonymize and /modify, turned into the toolkit's options (and back for jobs).</summary>
public static class ModificationRequests
{
    public static AnonymizationOptions Anonymization(JsonObject body)
    {
        var replace = Replace(body);
        string? Take(DicomTag tag) => replace.Remove(tag, out var v) ? v : null;
        return new AnonymizationOptions
        {
            PatientName = Take(DicomTags.PatientName),
            PatientId = Take(DicomTags.PatientID),
            Replace = replace,
            Keep = Tags(body, "Keep"),
            Remove = Tags(body, "Remove"),
            KeepPrivateTags = Bool(body, "KeepPrivateTags", false),
            RetainLongFullDates = Bool(body, "RetainLongFullDates", false),
            RetainDeviceIdentity = Bool(body, "RetainDeviceIdentity", false),
            RetainPatientCharacteristics = Bool(body, "RetainPatientCharacteristics", false),
        };
    }

    public static ModificationOptions Modification(JsonObject body, ResourceLevel level) => new()
    {
        Level = level switch
        {
            ResourceLevel.Patient => ModificationLevel.Patient,
            ResourceLevel.Study => ModificationLevel.Study,
            ResourceLevel.Series => ModificationLevel.Series,
            _ => ModificationLevel.Instance,
        },
        Replace = Replace(body),
        Remove = Tags(body, "Remove"),
        Keep = Tags(body, "Keep"),
        RemovePrivateTags = Bool(body, "RemovePrivateTags", false),
        Force = Bool(body, "Force", false),
    };

    public static JsonObject ToJson(ModifiedResource r) =>
        new() { ["ID"] = r.Id, ["Path"] = r.Path, ["PatientID"] = r.PatientId, ["Type"] = r.Type };

    public static bool Bool(JsonObject body, string name, bool fallback) => body[name] switch
    {
        null => fallback,
        JsonValue v when v.TryGetValue<bool>(out var b) => b,
        JsonValue v when v.TryGetValue<string>(out var s) && bool.TryParse(s, out var b) => b,
        _ => throw new FormatException($"\"{name}\" must be true or false"),
    };

    public static int Int(JsonObject body, string name, int fallback) => body[name] switch
    {
        null => fallback,
        JsonValue v when v.TryGetValue<int>(out var i) => i,
        _ => throw new FormatException($"\"{name}\" must be an integer"),
    };

    private static DicomTag Tag(string key) =>
        DicomTag.TryParse(key, out var tag) ? tag : throw new FormatException($"Unknown DICOM tag: \"{key}\"");

    private static Dictionary<DicomTag, string> Replace(JsonObject body)
    {
        var result = new Dictionary<DicomTag, string>();
        if (body["Replace"] is null) return result;
        if (body["Replace"] is not JsonObject replace) throw new FormatException("\"Replace\" must be an object of tag: value");
        foreach (var (key, value) in replace)
            result[Tag(key)] = value switch
            {
                JsonValue v when v.TryGetValue<string>(out var s) => s,
                JsonValue v => v.ToJsonString(),
                _ => throw new FormatException($"\"Replace\": the value of {key} must be a string (sequences are not supported)"),
            };
        return result;
    }

    private static HashSet<DicomTag> Tags(JsonObject body, string name)
    {
        if (body[name] is null) return [];
        if (body[name] is not JsonArray list) throw new FormatException($"\"{name}\" must be an array of tags");
        return list.Select(n => Tag(n?.GetValue<string>() ?? "")).ToHashSet();
    }
}
