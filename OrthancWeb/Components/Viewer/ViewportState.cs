using System.Globalization;
using OrthancWeb.Dicom.Imaging;
using OrthancWeb.Index;
using OrthancWeb.Reading;

namespace OrthancWeb.Components.Viewer;

/// <summary>What a drag on a viewport does.</summary>
public enum ViewerTool
{
    WindowLevel,
    Pan,
    Length,
    Angle,
    Rectangle,
    Ellipse,
}

/// <summary>
/// One viewport of the reading viewer: its series, the slice shown, window, zoom and pan, and the user's measurements
/// on its frames. The page owns the viewports' states, so that one can follow another (synchronised scrolling,
/// reference lines); <see cref="SeriesViewport"/> draws one and turns the user's gestures into changes here.
/// </summary>
public sealed class ViewportState(ViewerSeries series)
{
    public ViewerSeries Series { get; } = series;
    public int Index { get; private set; }
    public double? Center { get; set; }
    public double? Width { get; set; }
    public double Zoom { get; set; } = 1;
    public double PanX { get; set; }
    public double PanY { get; set; }

    public ViewerSlice Slice => Series.Slices[Index];

    /// <summary>The RT structures and dose drawn over this series (none until they are looked up).</summary>
    public RtViewState Rt { get; set; } = new(RtOverlay.None);

    /// <summary>
    /// Half the distance along the normal from the slice shown to its nearest neighbour: a contour within it lies on
    /// this slice (1 mm for a lone slice).
    /// </summary>
    public double HalfSliceGap()
    {
        if (Slice.Plane is not { } plane) return 1;
        var gaps = new[] { Index - 1, Index + 1 }.Where(i => i >= 0 && i < Count).Select(i => Series.Slices[i].Plane)
            .OfType<ImagePlane>().Select(p => Math.Abs(plane.DistanceTo(p.Origin))).Where(d => d > 1e-6).ToList();
        return gaps.Count == 0 ? 1 : gaps.Min() / 2;
    }
    public int Count => Series.Slices.Count;

    /// <summary>The user's measurements of this series by frame, as stored.</summary>
    public Dictionary<(string Instance, int Frame), List<StoredMeasurement>> Measurements { get; } = [];

    /// <summary>What those measurements measure, once computed (by measurement ID).</summary>
    public Dictionary<long, MeasurementResult> Results { get; } = [];

    /// <summary>Measurements whose results were asked for (each is measured once per viewport).</summary>
    public HashSet<long> Measuring { get; } = [];

    /// <summary>Shows slice <paramref name="index"/> (clamped); true when that changed the slice.</summary>
    public bool Show(int index)
    {
        var next = Math.Clamp(index, 0, Count - 1);
        if (next == Index) return false;
        Index = next;
        return true;
    }

    public bool Move(int delta) => Show(Index + delta);

    public void Reset() => (Zoom, PanX, PanY, Center, Width) = (1, 0, 0, null, null);

    /// <summary>The slice's URL: the frame at its own size (the browser scales it), with the window when one is set.</summary>
    public string Url(int i)
    {
        var slice = Series.Slices[i];
        var window = Center is { } c && Width is { } w ? string.Create(CultureInfo.InvariantCulture, $"?window-center={c:0.#}&window-width={w:0.#}") : "";
        return $"instances/{slice.InstanceId}/frames/{slice.Frame}/rendered{window}";
    }

    /// <summary>The stored measurements on the slice shown.</summary>
    public IReadOnlyList<StoredMeasurement> MeasurementsHere =>
        Measurements.TryGetValue((Slice.InstanceId, Slice.Frame), out var list) ? list : [];

    public void Remember(StoredMeasurement m)
    {
        if (!Measurements.TryGetValue((m.InstanceId, m.Frame), out var list)) Measurements[(m.InstanceId, m.Frame)] = list = [];
        list.Add(m);
    }

    public void Forget(long id)
    {
        foreach (var list in Measurements.Values) list.RemoveAll(m => m.Id == id);
        Results.Remove(id);
    }

    /// <summary>
    /// Follows another viewport's slice: shows the slice of this series nearest to the centre of <paramref name="other"/>'s
    /// frame, when both series share a frame of reference (PS3.3 C.7.4.1: positions are then comparable) and have
    /// parallel slices. True when the slice changed.
    /// </summary>
    public bool Follow(ViewportState other)
    {
        if (!SharesFrameOfReferenceWith(other) || other.Slice.Plane is not { } plane) return false;
        var centre = plane.ToPatient(plane.Columns / 2.0, plane.Rows / 2.0);
        return Series.NearestSlice(plane, centre) is { } nearest && Show(nearest);
    }

    public bool SharesFrameOfReferenceWith(ViewportState other) =>
        Series.FrameOfReferenceUid is { } mine && mine == other.Series.FrameOfReferenceUid;

    /// <summary>Where another viewport's slice cuts this one's, when they share a frame of reference and are not parallel.</summary>
    public (double X1, double Y1, double X2, double Y2)? ReferenceLineOf(ViewportState other) =>
        SharesFrameOfReferenceWith(other) && Slice.Plane is { } mine && other.Slice.Plane is { } theirs ? mine.ReferenceLineOf(theirs) : null;

    /// <summary>The study and series this viewport shows, for its overlay.</summary>
    public string SeriesText => $"{Series.Series.MainDicomTags.GetValueOrDefault(Dicom.Data.DicomTags.Modality)} {Series.Series.MainDicomTags.GetValueOrDefault(Dicom.Data.DicomTags.SeriesDescription)}";

    public string StudyText => Series.Study is { } s
        ? $"{s.MainDicomTags.GetValueOrDefault(Dicom.Data.DicomTags.StudyDescription)} {s.MainDicomTags.GetValueOrDefault(Dicom.Data.DicomTags.StudyDate)}"
        : "";

    public string PatientText => Series.Study?.PatientMainDicomTags is { } p
        ? $"{p.GetValueOrDefault(Dicom.Data.DicomTags.PatientName)} ({p.GetValueOrDefault(Dicom.Data.DicomTags.PatientID)})"
        : "";

    public EdgeLetters? Orientation => Slice.Orientation;
}

/// <summary>A measurement the user drew: on which slice (the one shown when the drawing began), what, and its points.</summary>
public sealed record DrawnMeasurement(ViewerSlice Slice, MeasurementKind Kind, IReadOnlyList<ImagePoint> Points);
