using System.Globalization;
using OrthancWeb.Dicom;
using OrthancWeb.Dicom.Rt;
using OrthancWeb.Reading;

namespace OrthancWeb.Components.Viewer;

/// <summary>How a dose is drawn over the slices.</summary>
public enum DoseDisplay
{
    Off,
    /// <summary>Isodose lines at the chosen levels.</summary>
    Lines,
    /// <summary>Each dose voxel filled with the colour of the highest level it reaches.</summary>
    Wash,
}

/// <summary>A structure's contour on the slice shown, with its ROI's colour and a key for its toggle.</summary>
public sealed record ShownContour(string Roi, string Colour, RtSliceContour Contour);

/// <summary>An isodose level as drawn: its dose in Gy (or the dose's units), its label and colour.</summary>
public sealed record DoseLevel(double Dose, string Label, string Colour);

/// <summary>
/// What a viewport draws of the RT objects over its series: which ROIs are shown, how the dose is drawn and at which
/// levels, and, per slice, the contours and isodose lines already projected (a zoom, a pan or a window change redraws
/// from these without computing again; the parsed objects themselves are cached by <see cref="RtService"/>).
/// </summary>
public sealed class RtViewState(RtOverlay overlay)
{
    /// <summary>Colours of the levels, highest first (the hottest for the prescription).</summary>
    private static readonly string[] LevelColours = ["#ff1744", "#ff9100", "#ffea00", "#00e676", "#00b0ff", "#d500f9", "#ffffff", "#795548"];

    /// <summary>Levels a user may ask for at once.</summary>
    public const int MaximumLevels = 8;

    private readonly Dictionary<int, IReadOnlyList<ShownContour>> _contours = [];
    private readonly Dictionary<(int Slice, string Key), (IReadOnlyList<IsodoseLine> Lines, IReadOnlyList<DoseWashRun> Wash)> _dose = [];

    public RtOverlay Overlay { get; } = overlay;

    /// <summary>ROIs the user turned off, by <see cref="RoiKey"/>.</summary>
    public HashSet<string> Hidden { get; } = [];

    public DoseDisplay Display { get; set; } = overlay.Doses.Count > 0 ? DoseDisplay.Lines : DoseDisplay.Off;

    /// <summary>The levels, in percent of <see cref="ReferenceDose"/>.</summary>
    public IReadOnlyList<double> LevelPercents { get; private set; } = [100, 95, 80, 50, 20];

    /// <summary>100 %: the plan's prescription when the dose's plan is in the study, else the dose's maximum.</summary>
    public double ReferenceDose { get; set; } = overlay.Doses is [var d, ..] ? d.PrescriptionGy ?? Math.Round(d.Dose.Maximum, 2) : 0;

    /// <summary>Why a slice's dose could not be drawn (a grid past the drawing bounds), or null.</summary>
    public string? DoseProblem { get; private set; }

    public RtDoseSource? Dose => Overlay.Doses.Count > 0 ? Overlay.Doses[0] : null;

    public static string RoiKey(RtStructureSource source, RtRoi roi) => source.Instance.PublicId + "/" + roi.Number.ToString(CultureInfo.InvariantCulture);

    /// <summary>Reads levels typed as "95, 80, 50": positive numbers, at most <see cref="MaximumLevels"/>; false (nothing changed) otherwise.</summary>
    public bool SetLevels(string text)
    {
        var levels = new List<double>();
        foreach (var part in text.Split([',', ';', ' '], StringSplitOptions.RemoveEmptyEntries))
        {
            if (!double.TryParse(part.TrimEnd('%'), NumberStyles.Float, CultureInfo.InvariantCulture, out var v) || !double.IsFinite(v) || v <= 0 || v > 1000) return false;
            levels.Add(v);
        }
        if (levels.Count is 0 or > MaximumLevels) return false;
        LevelPercents = [.. levels.Distinct().OrderDescending()];
        return true;
    }

    public string LevelsText => string.Join(", ", LevelPercents.Select(p => p.ToString("0.##", CultureInfo.InvariantCulture)));

    /// <summary>The levels in dose units, highest first, with their colours.</summary>
    public IReadOnlyList<DoseLevel> Levels => [.. LevelPercents.Select((p, i) => new DoseLevel(ReferenceDose * p / 100,
        string.Create(CultureInfo.InvariantCulture, $"{p:0.##}% ({ReferenceDose * p / 100:0.##} {Dose?.Dose.Units switch { "GY" => "Gy", { } u => u, null => "" }})"),
        LevelColours[i % LevelColours.Length]))];

    /// <summary>The shown ROIs' contours on a slice, projected once per slice.</summary>
    public IReadOnlyList<ShownContour> ContoursOn(ViewportState state)
    {
        if (Overlay.StructureSets.Count == 0 || state.Slice.Plane is not { } plane) return [];
        if (!_contours.TryGetValue(state.Index, out var all))
        {
            var tolerance = state.HalfSliceGap();
            var found = new List<ShownContour>();
            foreach (var source in Overlay.StructureSets)
            {
                var rois = source.Structures.Rois.ToDictionary(r => r.Number);
                foreach (var contour in source.Structures.ContoursOn(plane, tolerance))
                    found.Add(new ShownContour(RoiKey(source, rois[contour.RoiNumber]), rois[contour.RoiNumber].Colour.Hex, contour));
            }
            _contours[state.Index] = all = found;
        }
        return Hidden.Count == 0 ? all : [.. all.Where(c => !Hidden.Contains(c.Roi))];
    }

    /// <summary>The dose on a slice as the display asks (lines or wash), computed once per slice and levels.</summary>
    public (IReadOnlyList<IsodoseLine> Lines, IReadOnlyList<DoseWashRun> Wash) DoseOn(ViewportState state)
    {
        if (Display == DoseDisplay.Off || Dose is not { } dose || state.Slice.Plane is not { } plane || ReferenceDose <= 0) return ([], []);
        var levels = Levels.Select(l => l.Dose).ToList();
        var key = Display + ":" + string.Join(',', levels.Select(l => l.ToString("R", CultureInfo.InvariantCulture)));
        if (_dose.TryGetValue((state.Index, key), out var drawn)) return drawn;
        try
        {
            drawn = Display == DoseDisplay.Lines ? (dose.Dose.IsodoseLines(plane, levels), []) : ([], dose.Dose.Wash(plane, levels));
            DoseProblem = null;
        }
        catch (DicomException ex)
        {
            (drawn, DoseProblem) = (([], []), ex.Message);
        }
        if (_dose.Count > 256) _dose.Clear(); // one entry per slice and setting: a long session keeps few
        return _dose[(state.Index, key)] = drawn;
    }
}
