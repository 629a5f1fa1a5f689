using OrthancWeb.Dicom.Data;
using OrthancWeb.Dicom.IO;
using OrthancWeb.Dicom.Media;
using OrthancWeb.Tests.Infrastructure;

namespace OrthancWeb.Tests.Media;

/// <summary>A DICOMDIR built from pydicom's files, checked by dcmdump, dicom3tools' dciodvfy and dcdirdmp (which follows the offsets).</summary>
public sealed class DicomDirectoryTests
{
    [Fact]
    public void A_file_set_of_real_files_reads_back_in_dcmdump_dciodvfy_and_dcdirdmp()
    {
        var dir = Directory.CreateTempSubdirectory("dicomdir-");
        try
        {
            var directory = new DicomDirectory();
            var samples = new[] { "CT_small.dcm", "MR_small.dcm", "rtdose.dcm", "rtplan.dcm", "test-SR.dcm", "JPEG2000.dcm" };
            var n = 0;
            foreach (var name in samples)
            {
                var f = DicomFile.Open(Path.Combine(Peers.PydicomDir("test_files"), name));
                var fileId = new[] { "IMAGES", $"IM{++n:D6}" };
                Directory.CreateDirectory(Path.Combine(dir.FullName, "IMAGES"));
                File.Copy(Path.Combine(Peers.PydicomDir("test_files"), name), Path.Combine(dir.FullName, "IMAGES", fileId[1]));
                directory.Add(f.Dataset, fileId, f.TransferSyntax.Uid);
            }
            var path = Path.Combine(dir.FullName, "DICOMDIR");
            directory.ToFile("OWTEST").Save(path);

            Assert.Equal(0, Peers.Run("dcmdump", "-q", path).ExitCode);
            var vfy = Peers.Run("dciodvfy", path);
            Assert.False((vfy.Stdout + vfy.Stderr).Contains("Error"), vfy.Stdout + vfy.Stderr);
            var walk = Peers.Run("dcdirdmp", path);
            var text = walk.Stdout + walk.Stderr;
            Assert.True(walk.ExitCode == 0, text);
            // dcdirdmp reaches every record by following the offsets: each file under its patient, study and series.
            for (var i = 1; i <= samples.Length; i++)
                Assert.Contains($"-> IMAGES\\IM{i:D6}", text);
            Assert.Equal(samples.Length, text.Split('\n').Count(l => l.StartsWith("PATIENT", StringComparison.Ordinal)));
            Assert.Contains("RT DOSE", text);
            Assert.Contains("SR DOCUMENT", text);

            // Our reader agrees: the root offset points at the first record, a PATIENT.
            var back = DicomFile.Open(path);
            var records = back.Dataset.GetSequence(DicomTags.DirectoryRecordSequence)!.Items;
            Assert.Equal(samples.Length, records.Count(r => r.GetString(DicomTags.ReferencedFileID) is not null));
            Assert.Equal("PATIENT", records[0].GetString(DicomTags.DirectoryRecordType));
            Assert.Equal(DicomDirectory.MediaStorageDirectoryStorage, back.FileMetaInfo.GetString(DicomTags.MediaStorageSOPClassUID));
        }
        finally { dir.Delete(true); }
    }

    [Fact]
    public void File_ids_follow_the_general_purpose_profile_rules()
    {
        Assert.True(DicomDirectory.IsValidFileId(["IMAGES", "IM000001"]));
        Assert.False(DicomDirectory.IsValidFileId(["images"]));
        Assert.False(DicomDirectory.IsValidFileId(["TOOLONGNAME"]));
        Assert.False(DicomDirectory.IsValidFileId(Enumerable.Repeat("A", 9).ToArray()));
        Assert.Throws<ArgumentException>(() => new DicomDirectory().Add(new DicomDataset(), ["a.dcm"], "1.2.840.10008.1.2.1"));
    }
}
