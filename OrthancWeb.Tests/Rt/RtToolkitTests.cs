using System.Globalization;
using System.Text.Json;
using OrthancWeb.Dicom.Data;
using OrthancWeb.Dicom.Imaging;
using OrthancWeb.Dicom.IO;
using OrthancWeb.Dicom.Rt;
using OrthancWeb.Tests.Infrastructure;

namespace OrthancWeb.Tests.Rt;

/// <summary>
/// The toolkit's RT types on pydicom's RT files, checked against pydicom's own reading of them, and on a generated
/// CT + RTSTRUCT + RTDOSE set whose geometry is known (see <see cref="GeneratedRt"/>).
/// </summary>
public sealed class RtToolkitTests
{
    private static string Sample(string name) => Path.Combine(Peers.PydicomDir("test_files"), name);

    /// <summary>pydicom reads a file and prints what the script computes from it as JSON.</summary>
    private static JsonElement Pydicom(string file, string script)
    {
        var run = Peers.Run(Peers.DebianPython, "-c", "import json, sys, pydicom\nd = pydicom.dcmread(sys.argv[1], force=True)\n" + script, Sample(file));
        Assert.True(run.ExitCode == 0, run.Stderr);
        return JsonDocument.Parse(run.Stdout).RootElement;
    }

    private static ImagePlane Axial(double z) => ImagePlane.FromTags($"-126\\-126\\{z.ToString(CultureInfo.InvariantCulture)}", "1\\0\\0\\0\\1\\0", "4\\4", 64, 64)!;

    [Fact]
    public void Structure_set_reads_pydicoms_rtstruct_as_pydicom_does()
    {
        var set = RtStructureSet.Read(DicomFile.Open(Sample("rtstruct.dcm")).Dataset);
        var expected = Pydicom("rtstruct.dcm", """
            rois = []
            for r in d.StructureSetROISequence:
                c = next(c for c in d.ROIContourSequence if c.ReferencedROINumber == r.ROINumber)
                rois.append({"number": int(r.ROINumber), "name": r.ROIName, "colour": [int(v) for v in c.ROIDisplayColor],
                             "types": [x.ContourGeometricType for x in c.ContourSequence],
                             "points": [[float(v) for v in x.ContourData] for x in c.ContourSequence]})
            f = d.ReferencedFrameOfReferenceSequence[0]
            print(json.dumps({"rois": rois, "frame": f.FrameOfReferenceUID,
                              "series": f.RTReferencedStudySequence[0].RTReferencedSeriesSequence[0].SeriesInstanceUID}))
            """);
        Assert.Equal(expected.GetProperty("frame").GetString(), Assert.Single(set.FrameOfReferenceUids));
        Assert.Equal(expected.GetProperty("series").GetString(), Assert.Single(set.ReferencedSeries).SeriesInstanceUid);
        var rois = expected.GetProperty("rois").EnumerateArray().ToList();
        Assert.Equal(rois.Count, set.Rois.Count);
        foreach (var (roi, want) in set.Rois.Zip(rois))
        {
            Assert.Equal(want.GetProperty("number").GetInt32(), roi.Number);
            Assert.Equal(want.GetProperty("name").GetString(), roi.Name);
            var colour = want.GetProperty("colour").EnumerateArray().Select(v => v.GetInt32()).ToArray();
            Assert.Equal(new RtColour((byte)colour[0], (byte)colour[1], (byte)colour[2]), roi.Colour);
            Assert.Equal(want.GetProperty("types").EnumerateArray().Select(t => t.GetString()!.Replace("_", "")).ToArray(),
                roi.Contours.Select(c => c.Type.ToString().ToUpperInvariant()).ToArray());
            Assert.Equal(want.GetProperty("points").EnumerateArray().Select(p => p.EnumerateArray().Select(v => v.GetDouble()).ToArray()).ToArray(),
                roi.Contours.Select(c => c.Points.SelectMany(p => new[] { p.X, p.Y, p.Z }).ToArray()).ToArray());
        }
        Assert.Equal("#dca078", set.Rois[0].Colour.Hex); // 220, 160, 120
        Assert.True(set.References("1.2.826.0.1.3680043.8.498.2010020400001.2.1.1", null));
        Assert.True(set.References(null, "1.2.826.0.1.3680043.8.498.2010020400001.2"));
        Assert.False(set.References("1.2.3", "1.2.4"));
    }

    [Fact]
    public void Dose_reads_pydicoms_rtdose_in_every_transfer_syntax_as_pydicom_does()
    {
        var expected = Pydicom("rtdose.dcm", """
            a = d.pixel_array * float(d.DoseGridScaling)
            print(json.dumps({"offsets": [float(v) for v in d.GridFrameOffsetVector], "max": float(a.max()),
                              "probe": float(a[1, 3, 5]), "last": float(a[14, 9, 9]), "units": d.DoseUnits}))
            """);
        // The same grid stored native (implicit and explicit big endian) and RLE-compressed.
        foreach (var name in new[] { "rtdose.dcm", "rtdose_expb.dcm", "rtdose_rle.dcm" })
        {
            var file = DicomFile.Open(Sample(name));
            var dose = RtDose.Read(file.Dataset, file.TransferSyntax);
            Assert.Equal(expected.GetProperty("offsets").EnumerateArray().Select(v => v.GetDouble()).ToArray(), dose.FrameOffsets.ToArray());
            Assert.Equal(expected.GetProperty("units").GetString(), dose.Units);
            Assert.Equal(expected.GetProperty("max").GetDouble(), dose.Maximum, 6);
            Assert.Equal(expected.GetProperty("probe").GetDouble(), dose[1, 5, 3], 6);
            Assert.Equal(expected.GetProperty("last").GetDouble(), dose[14, 9, 9], 6);
        }
    }

    [Fact]
    public void Plan_reads_pydicoms_rtplan_as_pydicom_does()
    {
        var plan = RtPlan.Read(DicomFile.Open(Sample("rtplan.dcm")).Dataset);
        var expected = Pydicom("rtplan.dcm", """
            b = d.BeamSequence[0]
            g = d.FractionGroupSequence[0]
            print(json.dumps({"label": d.RTPlanLabel, "date": d.RTPlanDate, "fractions": int(g.NumberOfFractionsPlanned),
                "prescription": float(d.DoseReferenceSequence[1].TargetPrescriptionDose), "beam": b.BeamName, "type": b.BeamType,
                "radiation": b.RadiationType, "machine": b.TreatmentMachineName, "points": int(b.NumberOfControlPoints),
                "energy": float(b.ControlPointSequence[0].NominalBeamEnergy), "gantry": float(b.ControlPointSequence[0].GantryAngle),
                "mu": float(g.ReferencedBeamSequence[0].BeamMeterset)}))
            """);
        Assert.Equal(expected.GetProperty("label").GetString(), plan.Label);
        Assert.Equal(DateOnly.ParseExact(expected.GetProperty("date").GetString()!, "yyyyMMdd", CultureInfo.InvariantCulture), plan.Date);
        Assert.Equal(expected.GetProperty("fractions").GetInt32(), Assert.Single(plan.FractionGroups).FractionsPlanned);
        Assert.Equal(2, plan.DoseReferences.Count);
        Assert.Equal(expected.GetProperty("prescription").GetDouble(), plan.DoseReferences[1].TargetPrescriptionDose);
        Assert.Equal("TARGET", plan.DoseReferences[1].Type);
        var beam = Assert.Single(plan.Beams);
        Assert.Equal((expected.GetProperty("beam").GetString(), expected.GetProperty("type").GetString(), expected.GetProperty("radiation").GetString(),
            expected.GetProperty("machine").GetString(), expected.GetProperty("points").GetInt32()),
            (beam.Name, beam.Type, beam.RadiationType, beam.MachineName, beam.ControlPoints));
        Assert.Equal([expected.GetProperty("energy").GetDouble()], beam.NominalEnergies);
        Assert.Equal([expected.GetProperty("gantry").GetDouble()], beam.GantryAngles);
        Assert.Equal(expected.GetProperty("mu").GetDouble(), plan.MetersetOf(beam.Number));
    }

    [Fact]
    public void Generated_contours_land_on_the_pixels_their_patient_coordinates_name()
    {
        var rt = GeneratedRt.Make();
        var set = RtStructureSet.Read(DicomFile.Open(rt.StructureSet.Bytes.AsMemory()).Dataset);
        Assert.Equal(["PTV", "MARKER"], set.Rois.Select(r => r.Name));
        Assert.Equal(["#ff0000", "#00ff00"], set.Rois.Select(r => r.Colour.Hex));
        Assert.True(set.References(rt.Ct[0].SeriesUid, null));

        // z = 10: the square and the point; (x + 126) / 4 + 0.5 in both directions.
        var on10 = set.ContoursOn(Axial(10), 2.5);
        Assert.Equal(2, on10.Count);
        Assert.Equal([(20.5, 20.5), (40.5, 20.5), (40.5, 40.5), (20.5, 40.5)], on10[0].Points);
        Assert.Equal((1, ContourGeometricType.ClosedPlanar), (on10[0].RoiNumber, on10[0].Type));
        Assert.Equal([(25.5, 35.5)], on10[1].Points);
        // z = 0 and 25 have no contour; one ROI only when asked for it.
        Assert.Empty(set.ContoursOn(Axial(0), 2.5));
        Assert.Empty(set.ContoursOn(Axial(25), 2.5));
        Assert.Single(set.ContoursOn(Axial(10), 2.5, new HashSet<int> { 2 }));
        // A sagittal slice through the square (x = -26) crosses no axial contour lying in it; the marker lies in it.
        var sagittal = ImagePlane.FromTags("-26\\-126\\126", "0\\1\\0\\0\\0\\-1", "4\\4", 64, 64)!;
        Assert.Equal(2, Assert.Single(set.ContoursOn(sagittal, 2.5)).RoiNumber);
    }

    [Fact]
    public void Isodose_line_is_where_the_interpolated_dose_crosses_the_level()
    {
        var rt = GeneratedRt.Make();
        var file = DicomFile.Open(rt.Dose.Bytes.AsMemory());
        var dose = RtDose.Read(file.Dataset, file.TransferSyntax);
        Assert.Equal([0.0, 20.0], dose.FrameOffsets);
        Assert.Equal(0.02 * 250, dose[1, 31, 0], 4); // x = -124 + 8 x 31 = 124
        Assert.Equal(0.015 * (-124 + 126), dose.SectionAt(Axial(10))!.ValueAt(0, 0), 4);

        // z = 10, halfway between the frames: 1.5 Gy at x = -26, column 25.5, from row 1 (y = -124) to 63 (y = 124).
        var line = Assert.Single(dose.IsodoseLines(Axial(10), [1.5]));
        Assert.Equal(31, line.Segments.Count);
        Assert.All(line.Segments, s => { Assert.Equal(25.5, s.X1, 4); Assert.Equal(25.5, s.X2, 4); });
        Assert.Equal(1, line.Segments.Min(s => Math.Min(s.Y1, s.Y2)), 6);
        Assert.Equal(63, line.Segments.Max(s => Math.Max(s.Y1, s.Y2)), 6);
        // On the first frame itself, x = 24: column 38; past the last frame, nothing.
        Assert.All(Assert.Single(dose.IsodoseLines(Axial(0), [1.5])).Segments, s => Assert.Equal(38, s.X1, 4));
        Assert.Empty(dose.IsodoseLines(Axial(25), [1.5]));
        // A level no voxel reaches draws nothing.
        Assert.Empty(Assert.Single(dose.IsodoseLines(Axial(10), [50])).Segments);

        // The wash at 1.5 and 3 Gy on z = 10: per row, one run from the first voxel at or above 1.5 Gy
        // (column 12: x = -28 gives 1.47, column 13: x = -20 gives 1.59) and one from 3 Gy (x + 126 >= 200: column 25).
        var wash = dose.Wash(Axial(10), [3, 1.5]);
        Assert.Equal(2 * 32, wash.Count);
        var first = wash.Where(r => r.Band == 0).OrderBy(r => r.Corners[0].Y).First();
        // Voxel 13's left edge is x = -124 + 8 x 12.5 = -24, image (-24 + 126) / 4 + 0.5 = 26; voxel 24's right edge x = 72, 50.
        Assert.Equal([(26, 0), (50, 0), (50, 2), (26, 2)], first.Corners.Select(p => (Math.Round(p.X, 6), Math.Round(p.Y, 6))));
    }

    [Fact]
    public void Hostile_rt_objects_are_refused_with_a_reason()
    {
        // A structure set past the point bound: refused before its values are parsed.
        var ds = new DicomDataset();
        var points = string.Join('\\', Enumerable.Repeat("0", 3 * 1000));
        var contours = Enumerable.Range(0, RtLimits.MaximumContourPoints / 1000 + 1)
            .Select(_ => new DicomDataset().Add(DicomTags.ContourGeometricType, "CLOSED_PLANAR").Add(DicomTags.ContourData, DicomVR.DS, points)).ToArray();
        ds.AddSequence(DicomTags.StructureSetROISequence, new DicomDataset().Add(DicomTags.ROINumber, "1"));
        ds.AddSequence(DicomTags.ROIContourSequence, new DicomDataset().Add(DicomTags.ReferencedROINumber, "1").AddSequence(DicomTags.ContourSequence, contours));
        Assert.Contains("contour points", Assert.Throws<RtObjectException>(() => RtStructureSet.Read(ds)).Message);
        Assert.Contains("Structure Set ROI Sequence", Assert.Throws<RtObjectException>(() => RtStructureSet.Read(new DicomDataset())).Message);

        // A dose grid that claims a billion voxels is refused from its header.
        var dose = DicomFile.Open(GeneratedRt.Make().Dose.Bytes.AsMemory());
        dose.Dataset.Add(DicomTags.NumberOfFrames, "1000000");
        Assert.Contains("voxels", Assert.Throws<RtObjectException>(() => RtDose.Read(dose.Dataset, dose.TransferSyntax)).Message);
        // A frame offset vector that does not match the frames.
        var mismatch = DicomFile.Open(GeneratedRt.Make().Dose.Bytes.AsMemory());
        mismatch.Dataset.Add(DicomTags.GridFrameOffsetVector, "0", "10", "20");
        Assert.Contains("3 values for 2 frames", Assert.Throws<RtObjectException>(() => RtDose.Read(mismatch.Dataset, mismatch.TransferSyntax)).Message);
    }
}
