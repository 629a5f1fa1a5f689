using System.Text.Json.Nodes;
using OrthancWeb.Dicom.IO;
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

    /// <summary>Pixel data's value is left out unless asked for (with binary values): Orthanc shows it as "Null".</summary>
    public bool IncludePixelData { get; init; }

    public bool IncludePrivateTags { get; init; } = true;

    /// <summary>Tags whose values are shown whole however long (Orthanc's "ignore-length" option).</summary>
    public IReadOnlySet<DicomTag> LongValuesShown { get; init; } = new HashSet<DicomTag>();

    /// <summary>
    /// The shapes of a file read up to its pixel data: the pixel data is there, and shown as Orthanc shows it, even
    /// when the read stopped before it.
    /// </summary>
    public JsonObject ToFull(DicomFile file) => WithPixelData(ToFull(file.Dataset), file, new JsonObject { ["Name"] = "PixelData", ["Type"] = "Null", ["Value"] = null });

    public JsonObject ToSimplified(DicomFile file) => WithPixelData(ToSimplified(file.Dataset), file, null, "PixelData");

    public JsonObject ToShort(DicomFile file) => WithPixelData(ToShort(file.Dataset), file, null);

    private static JsonObject WithPixelData(JsonObject shape, DicomFile file, JsonNode? placeholder, string? key = null)
    {
        if (file.StoppedAt == DicomTags.PixelData) shape[key ?? DicomTags.PixelData.ToOrthancKey()] = placeholder;
        return shape;
    }

    public JsonObject ToFull(DicomDataset ds)
    {
        var result = new JsonObject();
        foreach (var item in Items(ds))
        {
            var entry = new JsonObject { ["Name"] = NameOf(ds, item.Tag) };
            if (ds.GetPrivateCreator(item.Tag) is { } creator) entry["PrivateCreator"] = creator;
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
            // Keyed by name as Orthanc keys them, private and unknown ones too: "PrivateCreator", "Unknown" and
            // "Unknown Tag & Data" repeat and the last one wins, as in Orthanc (the full shape keeps them all).
            var key = NameOf(ds, item.Tag);
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

    // Group lengths stay when the file has them, as Orthanc shows them (DCMTK keeps what it read).
    private IEnumerable<DicomItem> Items(DicomDataset ds) => ds.Where(i =>
        (IncludePrivateTags || !i.Tag.IsPrivate));

    private (string Type, JsonNode? Value) Scalar(DicomDataset ds, DicomItem item)
    {
        // A UN element the dictionary knows shows its value, as the data set reads it (see DicomDataset.GetString).
        var vr = ds.ValueVR(item);
        if (item is DicomFragmentSequence || vr.Kind == VRKind.Bytes)
        {
            if (!IncludeBinary || item is not DicomElement b || (b.Tag == DicomTags.PixelData && !IncludePixelData)) return ("Null", null);
            return ("Binary", "data:application/octet-stream;base64," + Convert.ToBase64String(b.Buffer.Memory.Span));
        }
        // An element present with no value is an empty "String" in Orthanc: a script tells it apart from an absent one.
        var text = item is DicomElement { Length: > 0 } element ? OrthancText(ds, element) : "";
        if (MaximumStringLength > 0 && text.Length > MaximumStringLength && !LongValuesShown.Contains(item.Tag)) return ("TooLong", null);
        return ("String", text);
    }

    /// <summary>
    /// Values as Orthanc writes them, so that a script's comparisons hold: binary floats with 17 significant digits
    /// (a float widened to a double, as C++'s lexical cast prints it) and an attribute tag as "gggg,eeee" (its first).
    /// </summary>
    private static string OrthancText(DicomDataset ds, DicomElement element)
    {
        var vr = ds.ValueVR(element);
        if (vr == DicomVR.FL || vr == DicomVR.FD)
            return string.Join('\\', ds.GetValues<double>(element.Tag).Select(v => v.ToString("G17", System.Globalization.CultureInfo.InvariantCulture)));
        if (vr == DicomVR.AT)
            return ds.GetValues<DicomTag>(element.Tag) is [var first, ..] ? first.ToOrthancKey() : "";
        return ds.GetString(element.Tag) ?? "";
    }

    private static string NameOf(DicomDataset ds, DicomTag tag)
    {
        if (tag.IsPrivateCreator) return "PrivateCreator";
        if (tag.IsPrivate) return ds.FindEntry(tag) is { } p ? PrivateName(p) : Unknown;
        // Orthanc names a retired attribute with a prefix that warns of it (not group lengths, retired as a class).
        return DicomDictionary.Find(tag) is { Keyword.Length: > 0 } e ? (e.IsRetired && !tag.IsGroupLength ? "RETIRED_" + e.Keyword : e.Keyword) : Unknown;
    }

    private const string Unknown = "Unknown Tag & Data";

    /// <summary>
    /// A private element's name: a declared one as given, a built-in one by DCMTK's keyword (the names Orthanc shows,
    /// "Unknown" included). A tag only GDCM's dictionary names is unknown to Orthanc, and shown so.
    /// </summary>
    private static string PrivateName(DicomDictionaryEntry entry) => entry.Keyword.Length > 0 ? entry.Keyword : Unknown;
}
