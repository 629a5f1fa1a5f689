using OrthancWeb.Dicom.Data;
using OrthancWeb.Dicom.IO;
using OrthancWeb.Tests.Infrastructure;

namespace OrthancWeb.Tests.Dicom;

/// <summary>The data set API reads like the standard: typed values, keywords, private blocks, the dictionary.</summary>
public sealed class DatasetApiTests
{
    private static DicomDataset Ct() => DicomFile.Open(Path.Combine(Peers.PydicomDir("test_files"), "CT_small.dcm")).Dataset;

    [Fact]
    public void Dictionary_covers_the_standard_and_the_command_group()
    {
        Assert.True(DicomDictionary.Entries.Count > 4500, $"only {DicomDictionary.Entries.Count} entries");
        var pn = DicomDictionary.Find(DicomTags.PatientName)!;
        Assert.Equal(("PatientName", "Patient's Name", "1", false), (pn.Keyword, pn.Name, pn.VM, pn.IsRetired));
        Assert.Equal(DicomVR.PN, pn.DefaultVR);
        Assert.Equal("MoveDestination", DicomDictionary.Find(new DicomTag(0x0000, 0x0600))!.Keyword);
        // Repeating groups (PS3.6 §7.6): any overlay group 60xx.
        Assert.Equal("OverlayData", DicomDictionary.Find(new DicomTag(0x6002, 0x3000))!.Keyword);
        Assert.True(DicomDictionary.Find(new DicomTag(0x0008, 0x0001))!.IsRetired);
        Assert.Equal([DicomVR.US, DicomVR.SS], DicomDictionary.Find(DicomTags.SmallestImagePixelValue)!.VRs);
        Assert.Equal(DicomVR.OV, DicomDictionary.Find(DicomTags.ExtendedOffsetTable)!.DefaultVR);
        Assert.Equal("CT Image Storage", DicomUids.Find("1.2.840.10008.5.1.4.1.1.2")!.Name);
        Assert.True(DicomUids.Find("1.2.840.10008.1.2.4.50")!.IsTransferSyntax);
        Assert.Equal(DicomTags.PatientName, DicomTag.Parse("PatientName"));
        Assert.Equal(DicomTags.PatientName, DicomTag.Parse("0010,0010"));
        Assert.Equal(DicomTags.PatientName, DicomTag.Parse("(0010,0010)"));
    }

    [Fact]
    public void Typed_values_of_a_real_file()
    {
        var ds = Ct();
        Assert.Equal(128, ds.GetValue<int>(DicomTags.Rows));
        Assert.Equal(["ORIGINAL", "PRIMARY", "AXIAL"], ds.GetStrings(DicomTags.ImageType));
        Assert.Equal(3, ds.GetValueCount(DicomTags.ImageType));
        Assert.Equal(new DateOnly(2004, 1, 19), ds.GetDate(DicomTags.StudyDate));
        Assert.Equal(new TimeOnly(7, 27, 30), ds.GetTime(DicomTags.StudyTime));
        Assert.Equal(new DateTime(2004, 1, 19, 7, 27, 30), ds.GetDateTime(DicomTags.StudyDate, DicomTags.StudyTime));
        Assert.Equal("CompressedSamples^CT1", ds.GetString("PatientName"));
        Assert.Equal("CompressedSamples", ds.GetPersonName(DicomTags.PatientName)!.FamilyName);
        Assert.Equal("CT1", ds.GetPersonName(DicomTags.PatientName)!.GivenName);
        var position = ds.GetValues<double>(DicomTags.ImagePositionPatient);
        Assert.Equal(3, position.Length);
        Assert.Equal(-158.135803, position[0], 6);
        Assert.Equal(1.0m, ds.GetValue<decimal>(DicomTags.RescaleSlope));
        Assert.Equal("1.3.6.1.4.1.5962.1.1.1.1.1.20040119072730.12322", ds.GetString(DicomTags.SOPInstanceUID));
    }

    [Fact]
    public void Values_of_every_vr_round_trip_through_every_uncompressed_syntax()
    {
        var ds = new DicomDataset();
        ds.Add(DicomTags.SpecificCharacterSet, "ISO_IR 192");
        ds.Add(DicomTags.PatientName, "Müller^Jürgen=ミュラー^ユルゲン");
        ds.Add(DicomTags.PatientBirthDate, new DateOnly(1970, 5, 31));
        ds.Add(DicomTags.StudyTime, new TimeOnly(13, 45, 1, 250));
        ds.Add(DicomTags.Rows, (ushort)512);
        // US-or-SS elements in implicit VR take their VR from Pixel Representation (PS3.5 Annex A.1).
        ds.Add(DicomTags.PixelRepresentation, (ushort)1);
        ds.Add(DicomTags.PixelPaddingValue, DicomVR.SS, (short)-2000);
        ds.Add(DicomTags.SliceThickness, 1.25);
        ds.Add(DicomTags.SeriesNumber, 42);
        ds.Add(DicomTags.FrameIncrementPointer, DicomTags.FrameTime);
        ds.Add(DicomTags.SelectorSVValue, DicomVR.SV, -9_000_000_000_000L);
        ds.Add(DicomTags.SelectorUVValue, DicomVR.UV, 18_000_000_000_000_000_000UL);
        ds.Add(DicomTags.SelectorOVValue, DicomVR.OV, 7UL);
        ds.Add(DicomTags.SelectorUCValue, DicomVR.UC, "unlimited characters");
        ds.Add(DicomTags.RetrieveURL, DicomVR.UR, "https://pacs.example/wado?x=1");
        ds.Add(DicomTags.TextValue, DicomVR.UT, "  leading spaces are kept in UT");
        ds.Add(DicomTags.RealWorldValueFirstValueMapped, DicomVR.SS, (short)-5);
        var item = new DicomDataset().Add(DicomTags.ReferencedSOPInstanceUID, "1.2.3");
        ds.AddSequence(DicomTags.ReferencedImageSequence, item);
        var creatorTag = ds.GetPrivateTag(0x0029, "OrthancWeb Test", 0x01);
        ds.Add(creatorTag, DicomVR.LO, "private value");

        foreach (var syntax in new[] { TransferSyntax.ImplicitVRLittleEndian, TransferSyntax.ExplicitVRLittleEndian, TransferSyntax.ExplicitVRBigEndian, TransferSyntax.DeflatedExplicitVRLittleEndian })
        {
            var copy = DicomReader.ReadDataset(DicomWriter.ToBytes(ds, syntax), syntax);
            Assert.Equal("Müller^Jürgen=ミュラー^ユルゲン", copy.GetString(DicomTags.PatientName));
            Assert.Equal(new DateOnly(1970, 5, 31), copy.GetDate(DicomTags.PatientBirthDate));
            Assert.Equal(new TimeOnly(13, 45, 1, 250), copy.GetTime(DicomTags.StudyTime));
            Assert.Equal(512, copy.GetValue<int>(DicomTags.Rows));
            Assert.Equal(-2000, copy.GetValue<int>(DicomTags.PixelPaddingValue));
            Assert.Equal(1.25, copy.GetValue<double>(DicomTags.SliceThickness));
            Assert.Equal(42, copy.GetValue<int>(DicomTags.SeriesNumber));
            Assert.Equal(DicomTags.FrameTime, copy.GetValue<DicomTag>(DicomTags.FrameIncrementPointer));
            Assert.Equal(-9_000_000_000_000L, copy.GetValue<long>(DicomTags.SelectorSVValue));
            Assert.Equal(18_000_000_000_000_000_000UL, copy.GetValue<ulong>(DicomTags.SelectorUVValue));
            Assert.Equal("unlimited characters", copy.GetString(DicomTags.SelectorUCValue));
            Assert.Equal("https://pacs.example/wado?x=1", copy.GetString(DicomTags.RetrieveURL));
            Assert.Equal("  leading spaces are kept in UT", copy.GetString(DicomTags.TextValue));
            Assert.Equal("1.2.3", copy.GetSequence(DicomTags.ReferencedImageSequence)!.Items[0].GetString(DicomTags.ReferencedSOPInstanceUID));
            var privateTag = copy.GetPrivateTag(0x0029, "OrthancWeb Test", 0x01, reserve: false);
            if (syntax.IsExplicitVR)
                Assert.Equal("private value", copy.GetString(privateTag));
            else // implicit VR: a creator no dictionary knows leaves the element UN, its bytes intact
                Assert.Equal("private value "u8.ToArray(), copy.GetBytes(privateTag).ToArray());
            Assert.Equal("OrthancWeb Test", copy.GetPrivateCreator(creatorTag));
        }
    }

    [Fact]
    public void Private_elements_resolve_through_their_creator()
    {
        var ds = new DicomDataset();
        ds.Add(new DicomTag(0x0029, 0x0010), DicomVR.LO, "SIEMENS CSA HEADER");
        var entry = ds.FindEntry(new DicomTag(0x0029, 0x1010));
        Assert.NotNull(entry);
        Assert.Equal("SIEMENS CSA HEADER", entry!.PrivateCreator);
        Assert.Null(ds.FindEntry(new DicomTag(0x0029, 0x1110))); // block 0x11 has no creator here
    }

    [Fact]
    public void Stop_before_pixel_data_and_lazy_values_keep_large_files_out_of_memory()
    {
        // A 64 MB multi-frame file: indexing its header must not read its pixels.
        var path = Path.Combine(Path.GetTempPath(), $"ow-large-{Guid.NewGuid():N}.dcm");
        try
        {
            var ds = new DicomDataset();
            ds.Add(DicomTags.SOPClassUID, "1.2.840.10008.5.1.4.1.1.7");
            ds.Add(DicomTags.SOPInstanceUID, "1.2.3.4");
            ds.Add(DicomTags.PatientID, "LARGE");
            ds.Add(DicomTags.NumberOfFrames, "256");
            ds.AddBytes(DicomTags.PixelData, DicomVR.OW, new byte[64 << 20]);
            var file = new DicomFile(ds, TransferSyntax.ExplicitVRLittleEndian);
            file.UpdateFileMetaInfo();
            file.Save(path);

            var before = GC.GetAllocatedBytesForCurrentThread();
            var header = DicomFile.Open(path, new DicomReadOptions { StopBeforeTag = DicomTags.PixelData });
            Assert.Equal("LARGE", header.Dataset.GetString(DicomTags.PatientID));
            Assert.False(header.Dataset.Contains(DicomTags.PixelData));

            var lazy = DicomFile.Open(path);
            var pixels = lazy.Dataset.Get<DicomElement>(DicomTags.PixelData)!;
            Assert.IsType<FileRangeBuffer>(pixels.Buffer);
            Assert.Equal(64 << 20, pixels.Length);
            Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 1 << 20, "reading the header must not load the pixels");
            Assert.Equal(64 << 20, pixels.Buffer.Memory.Length); // loaded on demand

            // Writing a lazily read file streams the pixels from the source.
            using var ms = new MemoryStream();
            lazy.Save(ms);
            Assert.Equal(new FileInfo(path).Length, ms.Length);
        }
        finally { File.Delete(path); }
    }
}
