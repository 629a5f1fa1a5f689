using System.Globalization;
using OrthancWeb.Dicom.Data;
using OrthancWeb.Dicom.IO;
using OrthancWeb.Index;

namespace OrthancWeb.Tests.Infrastructure;

/// <summary>A generated CT instance, its UIDs and the public IDs the server gives it (Orthanc's SHA-1 scheme).</summary>
public sealed record GeneratedInstance(string PatientId, string StudyUid, string SeriesUid, string SopUid, byte[] Bytes)
{
    public string Id => PublicIds.Instance(PatientId, StudyUid, SeriesUid, SopUid);
    public string StudyId => PublicIds.Study(PatientId, StudyUid);
}

/// <summary>
/// Instances with UIDs of the caller's choosing, made in microseconds: load and fault tests need thousands of distinct
/// instances (a resent copy is "already stored" and would not exercise the store path).
/// </summary>
public static class GeneratedInstances
{
    /// <summary>A small CT image (128 columns of 16-bit pixels, <paramref name="pixelBytes"/> in all) in Explicit VR Little Endian.</summary>
    public static GeneratedInstance Ct(string patientId, string studyUid, string seriesUid, string sopUid, int index,
        int pixelBytes = 16 * 1024, string studyDate = "20260101", string description = "GENERATED", string modality = "CT")
    {
        var ds = new DicomDataset();
        ds.Add(DicomTags.SpecificCharacterSet, "ISO_IR 100");
        ds.Add(DicomTags.SOPClassUID, "1.2.840.10008.5.1.4.1.1.2");
        ds.Add(DicomTags.SOPInstanceUID, sopUid);
        ds.Add(DicomTags.PatientName, $"GEN^{patientId}");
        ds.Add(DicomTags.PatientID, patientId);
        ds.Add(DicomTags.StudyInstanceUID, studyUid);
        ds.Add(DicomTags.StudyDate, studyDate);
        ds.Add(DicomTags.StudyDescription, description);
        ds.Add(DicomTags.SeriesInstanceUID, seriesUid);
        ds.Add(DicomTags.Modality, modality);
        ds.Add(DicomTags.InstanceNumber, index.ToString(CultureInfo.InvariantCulture));
        ds.Add(DicomTags.SamplesPerPixel, (ushort)1);
        ds.Add(DicomTags.PhotometricInterpretation, "MONOCHROME2");
        ds.Add(DicomTags.Rows, (ushort)(pixelBytes / 256));
        ds.Add(DicomTags.Columns, (ushort)128);
        ds.Add(DicomTags.BitsAllocated, (ushort)16);
        ds.Add(DicomTags.BitsStored, (ushort)12);
        ds.Add(DicomTags.HighBit, (ushort)11);
        ds.Add(DicomTags.PixelRepresentation, (ushort)0);
        var pixels = new byte[pixelBytes];
        var rng = new Random(index);
        for (var i = 0; i < pixels.Length; i += 2) { pixels[i] = (byte)(i / 256 + rng.Next(4)); pixels[i + 1] = (byte)(i % 16); }
        ds.AddBytes(DicomTags.PixelData, DicomVR.OW, pixels);
        var file = new DicomFile(ds, TransferSyntax.ExplicitVRLittleEndian);
        file.UpdateFileMetaInfo();
        return new GeneratedInstance(patientId, studyUid, seriesUid, sopUid, file.ToBytes());
    }

    /// <summary>Writes the instances as files named by their SOP Instance UID into <paramref name="folder"/> (made if need be), for storescu.</summary>
    public static List<string> WriteFiles(string folder, IEnumerable<GeneratedInstance> instances)
    {
        Directory.CreateDirectory(folder);
        return instances.Select(i =>
        {
            var path = Path.Combine(folder, i.SopUid + ".dcm");
            File.WriteAllBytes(path, i.Bytes);
            return path;
        }).ToList();
    }

    /// <summary><paramref name="count"/> instances of one new series of one new study, UIDs under <paramref name="uidRoot"/>.</summary>
    public static IReadOnlyList<GeneratedInstance> Series(string patientId, string uidRoot, int count, int pixelBytes = 16 * 1024,
        string studyDate = "20260101", string description = "GENERATED") =>
        Enumerable.Range(1, count)
            .Select(i => Ct(patientId, uidRoot + ".1", uidRoot + ".2", $"{uidRoot}.3.{i}", i, pixelBytes, studyDate, description))
            .ToList();

    /// <summary>The planes of <see cref="VolumeSeries"/>: axial slices go up z, sagittal ones across x (PS3.3 C.7.6.2.1.1).</summary>
    public enum Plane { Axial, Sagittal }

    /// <summary>
    /// One series of a synthetic CT volume: 64 x 64 slices of 4 mm pixels centred on the patient's axis, in the frame
    /// of reference <paramref name="frameOfReferenceUid"/>, slice k at <paramref name="first"/> + k x <paramref name="step"/> mm
    /// along the plane's normal. Every pixel is 40 HU (stored 1064, intercept -1024) but for a 1000 HU block in the
    /// first 16 x 16 pixels, so a region anywhere else measures 40 HU exactly.
    /// </summary>
    public static IReadOnlyList<GeneratedInstance> VolumeSeries(string patientId, string studyUid, string seriesUid, string frameOfReferenceUid,
        Plane plane, int count, double first, double step, int seriesNumber, string description)
    {
        var instances = new List<GeneratedInstance>();
        for (var k = 0; k < count; k++)
        {
            var at = (first + k * step).ToString("0.###", CultureInfo.InvariantCulture);
            var ds = new DicomDataset();
            ds.Add(DicomTags.SpecificCharacterSet, "ISO_IR 100");
            ds.Add(DicomTags.SOPClassUID, "1.2.840.10008.5.1.4.1.1.2");
            var sopUid = $"{seriesUid}.{k + 1}";
            ds.Add(DicomTags.SOPInstanceUID, sopUid);
            ds.Add(DicomTags.PatientName, $"VOLUME^{patientId}");
            ds.Add(DicomTags.PatientID, patientId);
            ds.Add(DicomTags.StudyInstanceUID, studyUid);
            ds.Add(DicomTags.StudyDate, "20260301");
            ds.Add(DicomTags.StudyDescription, "VOLUME");
            ds.Add(DicomTags.SeriesInstanceUID, seriesUid);
            ds.Add(DicomTags.SeriesNumber, seriesNumber.ToString(CultureInfo.InvariantCulture));
            ds.Add(DicomTags.SeriesDescription, description);
            ds.Add(DicomTags.Modality, "CT");
            ds.Add(DicomTags.FrameOfReferenceUID, frameOfReferenceUid);
            ds.Add(DicomTags.InstanceNumber, (k + 1).ToString(CultureInfo.InvariantCulture));
            if (plane == Plane.Axial)
            {
                ds.Add(DicomTags.ImagePositionPatient, "-126", "-126", at);
                ds.Add(DicomTags.ImageOrientationPatient, "1", "0", "0", "0", "1", "0");
            }
            else
            {
                ds.Add(DicomTags.ImagePositionPatient, at, "-126", "126");
                ds.Add(DicomTags.ImageOrientationPatient, "0", "1", "0", "0", "0", "-1");
            }
            ds.Add(DicomTags.PixelSpacing, "4", "4");
            AddCtImage(ds, 64, 64, (x, y) => x < 16 && y < 16 ? 1000 : 40);
            var file = new DicomFile(ds, TransferSyntax.ExplicitVRLittleEndian);
            file.UpdateFileMetaInfo();
            instances.Add(new GeneratedInstance(patientId, studyUid, seriesUid, sopUid, file.ToBytes()));
        }
        return instances;
    }

    /// <summary>
    /// The image of a CT slice: 16-bit monochrome, 12 bits stored, rescaled to HU (intercept -1024), a soft-tissue
    /// window, and pixels of the HU that <paramref name="hu"/> gives at each (x, y).
    /// </summary>
    public static void AddCtImage(DicomDataset ds, int rows, int columns, Func<int, int, double> hu)
    {
        ds.Add(DicomTags.SamplesPerPixel, (ushort)1);
        ds.Add(DicomTags.PhotometricInterpretation, "MONOCHROME2");
        ds.Add(DicomTags.Rows, (ushort)rows);
        ds.Add(DicomTags.Columns, (ushort)columns);
        ds.Add(DicomTags.BitsAllocated, (ushort)16);
        ds.Add(DicomTags.BitsStored, (ushort)12);
        ds.Add(DicomTags.HighBit, (ushort)11);
        ds.Add(DicomTags.PixelRepresentation, (ushort)0);
        ds.Add(DicomTags.RescaleIntercept, "-1024");
        ds.Add(DicomTags.RescaleSlope, "1");
        ds.Add(DicomTags.WindowCenter, "40");
        ds.Add(DicomTags.WindowWidth, "400");
        var pixels = new byte[rows * columns * 2];
        for (var y = 0; y < rows; y++)
            for (var x = 0; x < columns; x++)
            {
                var stored = (ushort)Math.Clamp(hu(x, y) + 1024, 0, 4095);
                pixels[2 * (y * columns + x)] = (byte)stored;
                pixels[2 * (y * columns + x) + 1] = (byte)(stored >> 8);
            }
        ds.AddBytes(DicomTags.PixelData, DicomVR.OW, pixels);
    }
}
