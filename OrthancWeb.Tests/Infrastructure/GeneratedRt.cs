using System.Globalization;
using OrthancWeb.Dicom.Data;
using OrthancWeb.Dicom.IO;
using OrthancWeb.Dicom.Rt;
using OrthancWeb.Index;

namespace OrthancWeb.Tests.Infrastructure;

/// <summary>
/// A CT + RTSTRUCT + RTDOSE set whose geometry the tests know (PS3.3 C.7.6.2.1.1: x to the patient's left, y to
/// the back, z to the head):
/// - CT: six axial slices of 64 x 64 pixels of 4 mm, first pixel centre at (-126, -126, z), z = 0, 5, ..., 25
///   (<see cref="GeneratedInstances.VolumeSeries"/>): patient (x, y) is image ((x + 126) / 4 + 0.5, (y + 126) / 4 + 0.5).
/// - RTSTRUCT: "PTV" (red) a square from (-46, -46) to (34, 34) on z = 5, 10 and 15, image (20.5, 20.5) to (40.5, 40.5);
///   "MARKER" (green) a point at (-26, 14, 10), image (25.5, 35.5).
/// - RTDOSE: 32 x 32 voxels of 8 mm from (-124, -124), frames at z = 0 and z = 20 (Grid Frame Offset Vector 0\20),
///   dose 0.01 x (x + 126) Gy on the first and twice that on the second, so 0.015 x (x + 126) at z = 10 when
///   interpolated: the 1.5 Gy line is x = -26, image column 25.5, there; at z = 0 it is x = 24, column 38.
/// </summary>
public static class GeneratedRt
{
    public const string StructureSetSopUid = "2.25.1717.8.1";
    public const string DoseSopUid = "2.25.1717.9.1";

    public sealed record RtSet(IReadOnlyList<GeneratedInstance> Ct, GeneratedInstance StructureSet, GeneratedInstance Dose)
    {
        public string CtSeriesId => PublicIds.Series(Ct[0].PatientId, Ct[0].StudyUid, Ct[0].SeriesUid);
        public IEnumerable<GeneratedInstance> All => [.. Ct, StructureSet, Dose];
    }

    public static RtSet Make(string patientId = "RT-GEN", string studyUid = "2.25.1717", string frameOfReferenceUid = "2.25.1717.5")
    {
        var ctSeries = studyUid + ".1";
        var ct = GeneratedInstances.VolumeSeries(patientId, studyUid, ctSeries, frameOfReferenceUid, GeneratedInstances.Plane.Axial, 6, 0, 5, 1, "RT CT");
        return new RtSet(ct, StructureSet(patientId, studyUid, ctSeries, frameOfReferenceUid, ct), Dose(patientId, studyUid, frameOfReferenceUid));
    }

    private static DicomDataset Common(string patientId, string studyUid, string seriesUid, string sopClass, string sopUid, string modality, string frameOfReferenceUid)
    {
        var ds = new DicomDataset();
        ds.Add(DicomTags.SpecificCharacterSet, "ISO_IR 100");
        ds.Add(DicomTags.SOPClassUID, sopClass);
        ds.Add(DicomTags.SOPInstanceUID, sopUid);
        ds.Add(DicomTags.PatientName, $"VOLUME^{patientId}");
        ds.Add(DicomTags.PatientID, patientId);
        ds.Add(DicomTags.StudyInstanceUID, studyUid);
        ds.Add(DicomTags.StudyDate, "20260301");
        ds.Add(DicomTags.SeriesInstanceUID, seriesUid);
        ds.Add(DicomTags.SeriesNumber, modality == "RTSTRUCT" ? "2" : "3");
        ds.Add(DicomTags.Modality, modality);
        ds.Add(DicomTags.FrameOfReferenceUID, frameOfReferenceUid);
        ds.Add(DicomTags.InstanceNumber, "1");
        return ds;
    }

    private static GeneratedInstance Instance(DicomDataset ds)
    {
        var file = new DicomFile(ds, TransferSyntax.ExplicitVRLittleEndian);
        file.UpdateFileMetaInfo();
        return new GeneratedInstance(ds.GetString(DicomTags.PatientID)!, ds.GetString(DicomTags.StudyInstanceUID)!, ds.GetString(DicomTags.SeriesInstanceUID)!,
            ds.GetString(DicomTags.SOPInstanceUID)!, file.ToBytes());
    }

    private static string N(double v) => v.ToString("0.###", CultureInfo.InvariantCulture);

    private static DicomDataset Contour(string type, IReadOnlyList<(double X, double Y, double Z)> points, string? imageUid)
    {
        var item = new DicomDataset();
        if (imageUid is not null)
            item.AddSequence(DicomTags.ContourImageSequence, new DicomDataset()
                .Add(DicomTags.ReferencedSOPClassUID, "1.2.840.10008.5.1.4.1.1.2").Add(DicomTags.ReferencedSOPInstanceUID, imageUid));
        item.Add(DicomTags.ContourGeometricType, type);
        item.Add(DicomTags.NumberOfContourPoints, points.Count.ToString(CultureInfo.InvariantCulture));
        item.Add(DicomTags.ContourData, [.. points.SelectMany(p => new[] { N(p.X), N(p.Y), N(p.Z) })]);
        return item;
    }

    /// <summary>An RT Structure Set with the given ROIs (number, name, colour, contours); <see cref="Make"/>'s when none are given.</summary>
    public static GeneratedInstance StructureSet(string patientId, string studyUid, string ctSeriesUid, string frameOfReferenceUid,
        IReadOnlyList<GeneratedInstance> ct, IReadOnlyList<(int Number, string Name, string[] Colour, DicomDataset[] Contours)>? rois = null)
    {
        var ds = Common(patientId, studyUid, studyUid + ".2", RtStructureSet.SopClassUid, StructureSetSopUid, "RTSTRUCT", frameOfReferenceUid);
        ds.Add(DicomTags.StructureSetLabel, "GENERATED");
        ds.AddSequence(DicomTags.ReferencedFrameOfReferenceSequence, new DicomDataset()
            .Add(DicomTags.FrameOfReferenceUID, frameOfReferenceUid)
            .AddSequence(DicomTags.RTReferencedStudySequence, new DicomDataset()
                .Add(DicomTags.ReferencedSOPClassUID, "1.2.840.10008.3.1.2.3.1").Add(DicomTags.ReferencedSOPInstanceUID, studyUid)
                .AddSequence(DicomTags.RTReferencedSeriesSequence, new DicomDataset().Add(DicomTags.SeriesInstanceUID, ctSeriesUid))));
        rois ??=
        [
            (1, "PTV", ["255", "0", "0"], [.. new[] { 5.0, 10, 15 }.Select(z => Contour("CLOSED_PLANAR", [(-46, -46, z), (34, -46, z), (34, 34, z), (-46, 34, z)], ct[(int)(z / 5)].SopUid))]),
            (2, "MARKER", ["0", "255", "0"], [Contour("POINT", [(-26, 14, 10)], ct[2].SopUid)]),
        ];
        ds.AddSequence(DicomTags.StructureSetROISequence, [.. rois.Select(r => new DicomDataset()
            .Add(DicomTags.ROINumber, r.Number.ToString(CultureInfo.InvariantCulture))
            .Add(DicomTags.ReferencedFrameOfReferenceUID, frameOfReferenceUid)
            .Add(DicomTags.ROIName, r.Name)
            .Add(DicomTags.ROIGenerationAlgorithm, "MANUAL"))]);
        ds.AddSequence(DicomTags.ROIContourSequence, [.. rois.Select(r => new DicomDataset()
            .Add(DicomTags.ROIDisplayColor, r.Colour)
            .AddSequence(DicomTags.ContourSequence, r.Contours)
            .Add(DicomTags.ReferencedROINumber, r.Number.ToString(CultureInfo.InvariantCulture)))]);
        return Instance(ds);
    }

    /// <summary>The dose of <see cref="Make"/>: 0.01 x (k + 1) x (x + 126) Gy on frame k, stored in units of 0.1 mGy (Dose Grid Scaling 0.0001).</summary>
    public static GeneratedInstance Dose(string patientId, string studyUid, string frameOfReferenceUid)
    {
        const int Size = 32;
        var ds = Common(patientId, studyUid, studyUid + ".3", RtDose.SopClassUid, DoseSopUid, "RTDOSE", frameOfReferenceUid);
        ds.Add(DicomTags.ImagePositionPatient, "-124", "-124", "0");
        ds.Add(DicomTags.ImageOrientationPatient, "1", "0", "0", "0", "1", "0");
        ds.Add(DicomTags.PixelSpacing, "8", "8");
        ds.Add(DicomTags.SamplesPerPixel, (ushort)1);
        ds.Add(DicomTags.PhotometricInterpretation, "MONOCHROME2");
        ds.Add(DicomTags.NumberOfFrames, "2");
        ds.Add(DicomTags.FrameIncrementPointer, DicomTags.GridFrameOffsetVector);
        ds.Add(DicomTags.Rows, (ushort)Size);
        ds.Add(DicomTags.Columns, (ushort)Size);
        ds.Add(DicomTags.BitsAllocated, (ushort)32);
        ds.Add(DicomTags.BitsStored, (ushort)32);
        ds.Add(DicomTags.HighBit, (ushort)31);
        ds.Add(DicomTags.PixelRepresentation, (ushort)0);
        ds.Add(DicomTags.DoseUnits, "GY");
        ds.Add(DicomTags.DoseType, "PHYSICAL");
        ds.Add(DicomTags.DoseSummationType, "PLAN");
        ds.Add(DicomTags.GridFrameOffsetVector, "0", "20");
        ds.Add(DicomTags.DoseGridScaling, "0.0001");
        var pixels = new byte[2 * Size * Size * 4];
        for (var k = 0; k < 2; k++)
            for (var r = 0; r < Size; r++)
                for (var c = 0; c < Size; c++)
                    BitConverter.TryWriteBytes(pixels.AsSpan(((k * Size + r) * Size + c) * 4), (uint)((k + 1) * 100 * (2 + 8 * c)));
        ds.AddBytes(DicomTags.PixelData, DicomVR.OW, pixels);
        return Instance(ds);
    }
}
