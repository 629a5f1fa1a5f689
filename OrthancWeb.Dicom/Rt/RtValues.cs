using System.Globalization;
using OrthancWeb.Dicom.Data;

namespace OrthancWeb.Dicom.Rt;

/// <summary>Reading the RT modules' DS and IS values leniently: a malformed optional value is absent, not a failure.</summary>
internal static class RtValues
{
    /// <summary>
    /// A text value, also when the file wrote it as UN (an explicit-VR writer that did not know the RT tags, as in
    /// pydicom's rtdose_rle.dcm): the bytes are then the value's text as the dictionary's VR would hold it (PS3.5 6.2.2).
    /// </summary>
    public static string? String(DicomDataset ds, DicomTag tag) =>
        ds[tag] is DicomElement e && e.VR == DicomVR.UN ? System.Text.Encoding.ASCII.GetString(e.Buffer.Memory.Span).TrimEnd('\0', ' ') : ds.GetString(tag);

    public static double? Decimal(DicomDataset ds, DicomTag tag) =>
        String(ds, tag) is { } text && double.TryParse(text.Split('\\')[0].Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && double.IsFinite(v) ? v : null;

    public static int? Integer(DicomDataset ds, DicomTag tag) =>
        String(ds, tag) is { } text && int.TryParse(text.Split('\\')[0].Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) ? v : null;

    public static string? Text(DicomDataset ds, DicomTag tag) => String(ds, tag)?.Trim() is { Length: > 0 } s ? s : null;

    /// <summary>Every value of a multi-valued DS; null when one is not a finite number.</summary>
    public static double[]? Decimals(DicomDataset ds, DicomTag tag)
    {
        if (String(ds, tag) is not { Length: > 0 } text) return [];
        var parts = text.Split('\\');
        var values = new double[parts.Length];
        for (var i = 0; i < parts.Length; i++)
            if (!double.TryParse(parts[i].Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out values[i]) || !double.IsFinite(values[i])) return null;
        return values;
    }

    public static IReadOnlyList<DicomDataset> Items(DicomDataset ds, DicomTag tag) => ds.GetSequence(tag)?.Items ?? [];
}
