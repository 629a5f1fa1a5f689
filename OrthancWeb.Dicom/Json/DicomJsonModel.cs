using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using OrthancWeb.Dicom.Data;

namespace OrthancWeb.Dicom.Json;

/// <summary>
/// The DICOM JSON model of PS3.18 Annex F, both directions. Binary values go inline as base64 unless a BulkDataURI
/// hook names where a client can fetch them (F.2.7); IS and DS become JSON numbers when they parse (F.2.3).
/// </summary>
public sealed class DicomJsonModel
{
    /// <summary>Given the element (and its path of tags), a URI to publish instead of its bytes; null keeps them inline.</summary>
    public Func<IReadOnlyList<DicomTag>, DicomItem, string?>? BulkDataUri { get; init; }

    /// <summary>
    /// Like <see cref="BulkDataUri"/>, given the element's location instead: its tags (8 hex digits) and the indexes of
    /// the items on its way, joined by '/' ("7FE00010", "00880200/0/7FE00010"), which names it in a data set uniquely.
    /// </summary>
    public Func<string, DicomItem, string?>? BulkDataLocation { get; init; }

    /// <summary>Resolves a BulkDataURI while reading; null leaves the element empty.</summary>
    public Func<string, byte[]?>? ResolveBulkData { get; init; }

    public string Serialize(DicomDataset dataset, bool indented = false)
    {
        using var ms = new MemoryStream();
        using (var writer = new Utf8JsonWriter(ms, new JsonWriterOptions { Indented = indented }))
            Write(writer, dataset, []);
        return Encoding.UTF8.GetString(ms.ToArray());
    }

    public void Write(Utf8JsonWriter w, DicomDataset ds, IReadOnlyList<DicomTag> path) => Write(w, ds, path, "");

    private void Write(Utf8JsonWriter w, DicomDataset ds, IReadOnlyList<DicomTag> path, string location)
    {
        w.WriteStartObject();
        foreach (var item in ds)
        {
            if (item.Tag.IsGroupLength) continue; // not part of the JSON model (F.2.1)
            var here = path.Append(item.Tag).ToArray();
            var key = item.Tag.ToJsonKey();
            var at = location.Length == 0 ? key : location + "/" + key;
            w.WritePropertyName(key);
            w.WriteStartObject();
            w.WriteString("vr", item.VR.Code);
            switch (item)
            {
                case DicomSequence s:
                    if (s.Items.Count > 0)
                    {
                        w.WriteStartArray("Value");
                        for (var i = 0; i < s.Items.Count; i++) Write(w, s.Items[i], here, at + "/" + i.ToString(CultureInfo.InvariantCulture));
                        w.WriteEndArray();
                    }
                    break;
                case DicomFragmentSequence f:
                    if (BulkUri(here, at, f) is { } fragUri) w.WriteString("BulkDataURI", fragUri);
                    break;
                case DicomElement e:
                    WriteValue(w, ds, e, here, at);
                    break;
            }
            w.WriteEndObject();
        }
        w.WriteEndObject();
    }

    private string? BulkUri(DicomTag[] path, string location, DicomItem item) =>
        BulkDataUri?.Invoke(path, item) ?? BulkDataLocation?.Invoke(location, item);

    private void WriteValue(Utf8JsonWriter w, DicomDataset ds, DicomElement e, DicomTag[] path, string location)
    {
        var vr = e.VR;
        if (vr.Kind == VRKind.Bytes)
        {
            // The hook decides, even for an empty value: a header read without its pixel data still announces them.
            if (BulkUri(path, location, e) is { } uri) w.WriteString("BulkDataURI", uri);
            else if (e.Length > 0) w.WriteString("InlineBinary", Convert.ToBase64String(e.Buffer.Memory.Span));
            return;
        }
        if (e.Length == 0) return;
        WriteValues(w, vr, ds.GetStrings(e.Tag));
    }

    /// <summary>
    /// One attribute from text values (as the index keeps them): <c>"gggggggg": {"vr": …, "Value": […]}</c>, with
    /// PN as component groups, IS/DS as numbers (F.2.3) and an attribute without a value as <c>{"vr": …}</c> (F.2.5).
    /// </summary>
    public static void WriteAttribute(Utf8JsonWriter w, DicomTag tag, DicomVR vr, IReadOnlyList<string> values)
    {
        w.WritePropertyName(tag.ToJsonKey());
        w.WriteStartObject();
        w.WriteString("vr", vr.Code);
        if (values.Count > 0 && !(values.Count == 1 && values[0].Length == 0)) WriteValues(w, vr, values);
        w.WriteEndObject();
    }

    private static void WriteValues(Utf8JsonWriter w, DicomVR vr, IReadOnlyList<string> values)
    {
        w.WriteStartArray("Value");
        foreach (var v in values)
        {
            if (vr == DicomVR.PN)
            {
                if (v.Length == 0) { w.WriteNullValue(); continue; }
                var pn = new DicomPersonName(v);
                w.WriteStartObject();
                if (pn.Alphabetic.Value.Length > 0) w.WriteString("Alphabetic", pn.Alphabetic.Value);
                if (pn.Ideographic.Value.Length > 0) w.WriteString("Ideographic", pn.Ideographic.Value);
                if (pn.Phonetic.Value.Length > 0) w.WriteString("Phonetic", pn.Phonetic.Value);
                w.WriteEndObject();
            }
            else if (vr == DicomVR.AT)
                w.WriteStringValue(DicomTag.Parse(v).ToJsonKey());
            else if (vr.Kind is VRKind.Binary or VRKind.DecimalString or VRKind.IntegerString)
            {
                if (v.Length == 0) w.WriteNullValue();
                else if (vr == DicomVR.UV || vr == DicomVR.SV || vr == DicomVR.IS) WriteInteger(w, v);
                else if (double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && double.IsFinite(d)) w.WriteNumberValue(d);
                else w.WriteStringValue(v);
            }
            else if (v.Length == 0) w.WriteNullValue();
            else w.WriteStringValue(v);
        }
        w.WriteEndArray();
    }

    private static void WriteInteger(Utf8JsonWriter w, string v)
    {
        if (long.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out var l)) w.WriteNumberValue(l);
        else if (ulong.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out var u)) w.WriteNumberValue(u);
        else w.WriteStringValue(v);
    }

    // ---- reading ----

    public DicomDataset Deserialize(string json) =>
        Read(JsonNode.Parse(json, documentOptions: new JsonDocumentOptions { MaxDepth = MaximumJsonDepth }) as JsonObject ?? throw new FormatException("DICOM JSON must be an object"), null);

    /// <summary>
    /// JSON nesting allowed when reading: each sequence level is three JSON levels (attribute, Value array, item), and
    /// the reader accepts 32 of them (DicomReadOptions.MaxDepth), more than System.Text.Json's default of 64 allows.
    /// </summary>
    public const int MaximumJsonDepth = 3 * 32 + 8;

    /// <summary>A PN value's component groups in their order in the DICOM value, named as in PS3.18 F.2.2.</summary>
    private static readonly string[] PersonNameGroups = ["Alphabetic", "Ideographic", "Phonetic"];

    private DicomDataset Read(JsonObject obj, DicomDataset? parent)
    {
        var ds = new DicomDataset();
        if (parent is not null) ds.Parent = parent;
        // Specific Character Set first, so the text values after it are encoded in it.
        foreach (var (key, node) in obj.OrderBy(p => p.Key == "00080005" ? 0 : 1))
        {
            if (!DicomTag.TryParse(key, out var tag) || node is not JsonObject attr)
                throw new FormatException($"'{key}' is not a DICOM JSON attribute");
            var vr = DicomVR.FromCode(attr["vr"]?.GetValue<string>() ?? "") ?? DicomValuesVR(tag, ds);
            if (vr == DicomVR.SQ)
            {
                var items = (attr["Value"] as JsonArray ?? []).Select(n => Read(n as JsonObject ?? [], ds)).ToArray();
                ds.AddSequence(tag, items);
                continue;
            }
            if (attr["InlineBinary"] is { } inline)
            {
                ds.AddBytes(tag, vr, Convert.FromBase64String(inline.GetValue<string>()));
                continue;
            }
            if (attr["BulkDataURI"] is { } bulk)
            {
                ds.AddBytes(tag, vr, ResolveBulkData?.Invoke(bulk.GetValue<string>()) ?? []);
                continue;
            }
            var values = attr["Value"] as JsonArray ?? [];
            var texts = values.Select(v => v switch
            {
                null => "",
                JsonObject pn => string.Join('=', PersonNameGroups.Select(k => pn[k]?.GetValue<string>() ?? "")).TrimEnd('='),
                JsonValue jv when jv.TryGetValue<string>(out var s) => s,
                JsonValue jv => jv.ToJsonString(),
                _ => "",
            }).ToArray();
            if (vr == DicomVR.AT)
                ds.Add(tag, vr, texts.Select(DicomTag.Parse).ToArray());
            else if (vr.Kind == VRKind.Binary)
                ds.Add(tag, vr, texts.Select(t => double.Parse(t, CultureInfo.InvariantCulture)).ToArray());
            else
                ds.Add(tag, vr, texts);
        }
        return ds;
    }

    private static DicomVR DicomValuesVR(DicomTag tag, DicomDataset ds) => DicomValues.DefaultVR(tag, ds);
}
