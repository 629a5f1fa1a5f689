using System.Text.Json.Nodes;
using OrthancWeb.Dicom.Data;

namespace OrthancWeb.Dicom.Json;

/// <summary>
/// Orthanc's two REST shapes of a data set, so scripts written for Orthanc read our output unchanged:
/// "tags" (<c>{"0010,0010": {"Name": "PatientName", "Type": "String", "Value": "DOE^JOHN"}}</c>) and
/// "simplified-tags" (<c>{"PatientName": "DOE^JOHN"}</c>), and the "Short" form keyed by tag.
/// </summary>
public sealed class OrthancJson
{
    /// <summary>Longer text values are reported as "TooLong" with a null value (Orthanc's default is 256).</summary>
    public int MaximumStringLength { get; init; } = 256;

    /// <summary>Binary values as "Binary" data URIs instead of "Null".</summary>
    public bool IncludeBinary { get; init; }

    /// <summary>Pixel data is left out unless asked for, as Orthanc does.</summary>
    public bool IncludePixelData { get; init; }

    public bool IncludePrivateTags { get; init; } = true;

    public JsonObject ToFull(DicomDataset ds)
    {
        var result = new JsonObject();
        foreach (var item in Items(ds))
        {
            var entry = new JsonObject { ["Name"] = NameOf(ds, item.Tag) };
            switch (item)
            {
                case DicomSequence s:
                    entry["Type"] = "Sequence";
                    entry["Value"] = new JsonArray(s.Items.Select(i => (JsonNode)ToFull(i)).ToArray());
                    break;
                default:
                    var (type, value) = Scalar(ds, item);
                    entry["Type"] = type;
                    entry["Value"] = value;
                    break;
            }
            result[item.Tag.ToOrthancKey()] = entry;
        }
        return result;
    }

    public JsonObject ToSimplified(DicomDataset ds)
    {
        var result = new JsonObject();
        foreach (var item in Items(ds))
        {
            var key = DicomDictionary.Find(item.Tag) is { Keyword.Length: > 0 } e && !item.Tag.IsPrivate ? e.Keyword : item.Tag.ToOrthancKey();
            result[key] = item is DicomSequence s
                ? new JsonArray(s.Items.Select(i => (JsonNode)ToSimplified(i)).ToArray())
                : Scalar(ds, item).Value;
        }
        return result;
    }

    /// <summary>Orthanc's "Short" shape: <c>{"0010,0010": "DOE^JOHN"}</c>, sequences as arrays of such objects.</summary>
    public JsonObject ToShort(DicomDataset ds)
    {
        var result = new JsonObject();
        foreach (var item in Items(ds))
            result[item.Tag.ToOrthancKey()] = item is DicomSequence s
                ? new JsonArray(s.Items.Select(i => (JsonNode)ToShort(i)).ToArray())
                : Scalar(ds, item).Value;
        return result;
    }

    private IEnumerable<DicomItem> Items(DicomDataset ds) => ds.Where(i =>
        !i.Tag.IsGroupLength &&
        (IncludePixelData || i.Tag != DicomTags.PixelData) &&
        (IncludePrivateTags || !i.Tag.IsPrivate));

    private (string Type, JsonNode? Value) Scalar(DicomDataset ds, DicomItem item)
    {
        if (item is DicomFragmentSequence || item.VR.Kind == VRKind.Bytes)
        {
            if (!IncludeBinary || item is not DicomElement b) return ("Null", null);
            return ("Binary", "data:application/octet-stream;base64," + Convert.ToBase64String(b.Buffer.Memory.Span));
        }
        // An empty element is "Null" in Orthanc (DCMTK hands it no string), not an empty "String".
        var text = ds.GetString(item.Tag);
        if (string.IsNullOrEmpty(text)) return ("Null", null);
        if (MaximumStringLength > 0 && text.Length > MaximumStringLength) return ("TooLong", null);
        return ("String", text);
    }

    private static string NameOf(DicomDataset ds, DicomTag tag)
    {
        if (tag.IsPrivateCreator) return "PrivateCreator";
        if (tag.IsPrivate) return "Unknown Tag & Data";
        return DicomDictionary.Find(tag) is { Keyword.Length: > 0 } e ? e.Keyword : "Unknown Tag & Data";
    }
}
