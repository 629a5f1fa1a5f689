using System.Globalization;
using OrthancWeb.Dicom.Data;

namespace OrthancWeb.Index;

/// <summary>One instance of a series, as its main tags give it, for <see cref="SliceOrdering"/>.</summary>
public sealed record SliceSource(string InstanceId, IReadOnlyDictionary<DicomTag, string> Tags, int IndexInSeries);

/// <summary>The instances of a series in slice order, and whether they make a volume (orthanc's ordered-slices).</summary>
public sealed record OrderedSlices(bool IsVolume, IReadOnlyList<(string InstanceId, int Frames)> Instances);

/// <summary>
/// Orders a series' instances as orthanc 1.10.1's deprecated GET /series/{id}/ordered-slices does (read from the
/// binary): several instances that share one slice orientation and lie at distinct positions are a "Volume", in
/// ascending position along the slice normal (the cross product of Image Orientation (Patient)'s row and column
/// directions, PS3.3 C.7.6.2.1.1); otherwise a "Sequence" in Instance Number order, then in arrival order. The main
/// tags hold every value needed (position, orientation, instance number, number of frames): no file is read.
/// </summary>
public static class SliceOrdering
{
    public static OrderedSlices Order(IReadOnlyList<SliceSource> instances)
    {
        if (instances.Count > 1 && AsVolume(instances) is { } volume)
            return new OrderedSlices(true, volume);
        var sequence = instances
            .OrderBy(i => Integer(i.Tags, DicomTags.InstanceNumber) ?? int.MaxValue)
            .ThenBy(i => i.IndexInSeries)
            .ThenBy(i => i.InstanceId, StringComparer.Ordinal)
            .Select(i => (i.InstanceId, Frames(i)))
            .ToList();
        return new OrderedSlices(false, sequence);
    }

    private static List<(string, int)>? AsVolume(IReadOnlyList<SliceSource> instances)
    {
        double[]? normal = null;
        var positions = new List<(SliceSource Instance, double Along)>(instances.Count);
        foreach (var instance in instances)
        {
            if (Vector(instance.Tags, DicomTags.ImageOrientationPatient, 6) is not { } orientation
                || Vector(instance.Tags, DicomTags.ImagePositionPatient, 3) is not { } position) return null;
            var n = Cross(orientation);
            if (normal is null) normal = n;
            else if (Math.Abs(Math.Abs(Dot(normal, n)) - 1) > 1e-6) return null; // not parallel slices
            positions.Add((instance, Dot(normal, position)));
        }
        if (positions.Select(p => Math.Round(p.Along, 6)).Distinct().Count() != positions.Count) return null;
        return positions.OrderBy(p => p.Along).Select(p => (p.Instance.InstanceId, Frames(p.Instance))).ToList();
    }

    private static int Frames(SliceSource i) => Integer(i.Tags, DicomTags.NumberOfFrames) is { } n and > 0 ? n : 1;

    private static int? Integer(IReadOnlyDictionary<DicomTag, string> tags, DicomTag tag) =>
        tags.TryGetValue(tag, out var text) && int.TryParse(text.Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) ? value : null;

    private static double[]? Vector(IReadOnlyDictionary<DicomTag, string> tags, DicomTag tag, int count)
    {
        if (!tags.TryGetValue(tag, out var text)) return null;
        var parts = text.Split('\\');
        if (parts.Length != count) return null;
        var values = new double[count];
        for (var i = 0; i < count; i++)
            if (!double.TryParse(parts[i].Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out values[i])) return null;
        return values;
    }

    /// <summary>The slice normal: row direction × column direction.</summary>
    private static double[] Cross(double[] o)
    {
        var n = new[] { o[1] * o[5] - o[2] * o[4], o[2] * o[3] - o[0] * o[5], o[0] * o[4] - o[1] * o[3] };
        var length = Math.Sqrt(Dot(n, n));
        return length == 0 ? n : [n[0] / length, n[1] / length, n[2] / length];
    }

    private static double Dot(double[] a, double[] b) => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
}
