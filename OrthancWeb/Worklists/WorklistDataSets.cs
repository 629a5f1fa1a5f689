using System.Globalization;
using System.Numerics;
using System.Text.Json.Nodes;
using OrthancWeb.Dicom;
using OrthancWeb.Dicom.Data;
using OrthancWeb.Dicom.Json;

namespace OrthancWeb.Worklists;

/// <summary>A worklist body that cannot be an item (HTTP 400 with the reason).</summary>
public sealed class WorklistValidationException(string message) : DicomValidationException(message);

/// <summary>
/// Worklist items to and from JSON: Orthanc's shape ({"Tags": {"PatientName": ..., "ScheduledProcedureStepSequence":
/// [{...}]}}, keywords or "gggg,eeee" keys, as its worklists plugin takes them), the same without "Tags", or a DICOM
/// JSON data set (PS3.18 F). Checked against the value representations before anything is kept.
/// </summary>
public static class WorklistDataSets
{
    private static readonly DicomJsonModel Model = new();

    public static DicomDataset FromJson(JsonNode? body)
    {
        if (body is not JsonObject o) throw new WorklistValidationException("The body must be a JSON object");
        if (o["Tags"] is { } tags)
            return Validate(FromOrthanc(tags as JsonObject ?? throw new WorklistValidationException("\"Tags\" must be an object")));
        if (o.Count > 0 && o.All(p => p.Key.Length == 8 && p.Key.All(char.IsAsciiHexDigit)))
        {
            try { return Validate(Model.Deserialize(o.ToJsonString())); }
            catch (Exception ex) when (ex is FormatException or InvalidOperationException or ArgumentException)
            {
                throw new WorklistValidationException("Not a DICOM JSON data set: " + ex.Message);
            }
        }
        return Validate(FromOrthanc(o));
    }

    /// <summary>
    /// A worklist query in Orthanc's shape (keywords or "gggg,eeee" to strings, an empty one a return key; sequences as
    /// arrays of objects): as an item is read, without an item's checks.
    /// </summary>
    public static DicomDataset QueryFromJson(JsonObject query) => FromOrthanc(query);

    public static string ToDicomJson(DicomDataset ds) => Model.Serialize(ds);

    public static DicomDataset FromDicomJson(string json) => Model.Deserialize(json);

    /// <summary>Orthanc's simplified tags: keywords (or tags) to strings, sequences as arrays of objects.</summary>
    private static DicomDataset FromOrthanc(JsonObject o)
    {
        var ds = new DicomDataset();
        // The character set first, so the text after it is encoded in it; UTF-8 when a value needs more than ASCII.
        var needsUtf8 = o.ToJsonString().Any(c => c > 127);
        if (o.FirstOrDefault(p => Is(p.Key, DicomTags.SpecificCharacterSet)).Value is JsonValue cs)
            ds.Add(DicomTags.SpecificCharacterSet, DicomVR.CS, Text(cs, "SpecificCharacterSet").Split('\\'));
        else if (needsUtf8)
            ds.Add(DicomTags.SpecificCharacterSet, DicomVR.CS, "ISO_IR 192");
        Fill(ds, o);
        return ds;
    }

    private static bool Is(string key, DicomTag tag) => DicomTag.TryParse(key, out var t) && t == tag;

    private static void Fill(DicomDataset ds, JsonObject o)
    {
        foreach (var (key, node) in o)
        {
            if (!DicomTag.TryParse(key, out var tag) || tag.IsPrivate)
                throw new WorklistValidationException($"'{key}' is neither a DICOM keyword nor a public tag");
            if (tag == DicomTags.SpecificCharacterSet) continue;
            var vr = ds.FindEntry(tag) is { VRs.Count: > 0 } entry ? entry.DefaultVR : DicomVR.UN;
            if (vr == DicomVR.SQ)
            {
                if (node is not JsonArray items || items.Any(i => i is not JsonObject))
                    throw new WorklistValidationException($"{key} is a sequence: an array of objects");
                // The items join the sequence first: their text is then encoded in the character set of the data set.
                var children = items.Select(_ => new DicomDataset()).ToArray();
                ds.AddSequence(tag, children);
                for (var i = 0; i < children.Length; i++) Fill(children[i], (JsonObject)items[i]!);
                continue;
            }
            if (!vr.IsString || vr == DicomVR.UN)
                throw new WorklistValidationException($"{key} ({vr}) cannot be given as text");
            ds.Add(tag, vr, node is null ? "" : Text(node, key));
        }
    }

    private static string Text(JsonNode node, string key) => node switch
    {
        JsonValue v when v.TryGetValue<string>(out var s) => s,
        JsonValue v when v.TryGetValue<double>(out _) => v.ToJsonString(),
        _ => throw new WorklistValidationException($"{key} must be a string"),
    };

    /// <summary>
    /// The checks of an item: the values fit their VR (PS3.5 Table 6.2-1: lengths, dates, times), a Scheduled Procedure
    /// Step Sequence with one item at least (PS3.4 K.6.1.2.2: Type 1), and a Study Instance UID, made if missing, which
    /// the modality copies into the images (how an arrival finds its item).
    /// </summary>
    public static DicomDataset Validate(DicomDataset ds)
    {
        Check(ds, "");
        var steps = ds.GetSequence(DicomTags.ScheduledProcedureStepSequence);
        if (steps is null || steps.Items.Count == 0)
            throw new WorklistValidationException("A worklist item needs a ScheduledProcedureStepSequence with one item at least");
        if (string.IsNullOrWhiteSpace(ds.GetString(DicomTags.PatientName)) && string.IsNullOrWhiteSpace(ds.GetString(DicomTags.PatientID)))
            throw new WorklistValidationException("A worklist item needs a PatientName or a PatientID");
        if (string.IsNullOrWhiteSpace(ds.GetString(DicomTags.StudyInstanceUID)))
            ds.Add(DicomTags.StudyInstanceUID, DicomVR.UI, NewUid());
        return ds;
    }

    private static void Check(DicomDataset ds, string path)
    {
        foreach (var item in ds)
        {
            var name = path + (DicomDictionary.Find(item.Tag)?.Keyword ?? item.Tag.ToString());
            if (item is DicomSequence s)
            {
                foreach (var sub in s.Items) Check(sub, name + ".");
                continue;
            }
            var text = ds.GetString(item.Tag) ?? "";
            foreach (var value in text.Split('\\'))
            {
                var v = value.Trim();
                if (v.Length == 0) continue;
                var problem = item.VR.Code switch
                {
                    "DA" when !DateOnly.TryParseExact(v, "yyyyMMdd", CultureInfo.InvariantCulture, DateTimeStyles.None, out _) => "a date YYYYMMDD",
                    "TM" when !IsTime(v) => "a time HHMMSS[.FFFFFF]",
                    "AE" or "CS" or "SH" when v.Length > 16 => "16 characters at most",
                    "LO" when v.Length > 64 => "64 characters at most",
                    "UI" when v.Length > 64 || !v.All(c => char.IsAsciiDigit(c) || c == '.') => "a UID (digits and dots, 64 at most)",
                    "PN" when v.Split('=').Any(g => g.Length > 64) => "64 characters per component group at most",
                    _ => null,
                };
                if (problem is not null) throw new WorklistValidationException($"{name} '{v}' must be {problem}");
            }
        }
    }

    private static bool IsTime(string v)
    {
        var digits = v.Split('.')[0];
        return digits.Length is 2 or 4 or 6 && digits.All(char.IsAsciiDigit) && v.Split('.').Length <= 2
            && int.Parse(digits[..2], CultureInfo.InvariantCulture) < 24
            && (digits.Length < 4 || int.Parse(digits[2..4], CultureInfo.InvariantCulture) < 60);
    }

    /// <summary>A UID from a random UUID under the 2.25 root (PS3.5 B.2).</summary>
    public static string NewUid() => "2.25." + new BigInteger(Guid.NewGuid().ToByteArray(), isUnsigned: true, isBigEndian: true).ToString(CultureInfo.InvariantCulture);

    /// <summary>The value of a key in the item or in its first Scheduled Procedure Step.</summary>
    public static string Step(DicomDataset ds, DicomTag tag) =>
        ds.GetSequence(DicomTags.ScheduledProcedureStepSequence)?.Items.FirstOrDefault()?.GetString(tag)?.Trim() ?? "";
}
