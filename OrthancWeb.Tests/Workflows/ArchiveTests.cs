using System.IO.Compression;
using System.Net;
using OrthancWeb.Dicom.Data;
using OrthancWeb.Dicom.IO;
using OrthancWeb.Tests.Infrastructure;
using static OrthancWeb.Tests.Server.Rest;

namespace OrthancWeb.Tests.Workflows;

/// <summary>ZIP and DICOMDIR exports, unzipped by Python's zipfile and checked file by file, and by dcmdump, dciodvfy and dcdirdmp.</summary>
public sealed class ArchiveTests(WorkflowFixture fx) : IClassFixture<WorkflowFixture>
{
    private static void PythonZipTest(string zip)
    {
        var r = Peers.Run(Peers.DebianPython, "-m", "zipfile", "-t", zip);
        Assert.True(r.ExitCode == 0, r.Stdout + r.Stderr);
    }

    [Fact]
    public async Task Study_archive_holds_every_instance_byte_for_byte_in_named_folders()
    {
        var (studyId, folder) = await AnonymizeModifyTests.UploadStudyAsync(fx.Rest, "CT_small.dcm", 5);
        try
        {
            var response = await fx.Rest.GetAsync($"/studies/{studyId}/archive");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("application/zip", response.Content.Headers.ContentType!.MediaType);
            var bytes = await response.Content.ReadAsByteArrayAsync();
            var path = Path.Combine(folder, "study.zip");
            await File.WriteAllBytesAsync(path, bytes);
            PythonZipTest(path);

            using var zip = new ZipArchive(new MemoryStream(bytes));
            Assert.Equal(5, zip.Entries.Count);
            var originals = Directory.GetFiles(folder, "*.dcm").ToDictionary(f => DicomFile.Open(f).Dataset.GetString(DicomTags.SOPInstanceUID)!, File.ReadAllBytes);
            foreach (var entry in zip.Entries)
            {
                // Patient "ID Name" / study "date description" / series "modality+number description" / file.
                var parts = entry.FullName.Split('/');
                Assert.Equal(4, parts.Length);
                Assert.StartsWith("1CT1 CompressedSamples CT1", parts[0]);
                Assert.StartsWith("CT", parts[2]);
                Assert.EndsWith(".dcm", parts[3]);
                using var ms = new MemoryStream();
                using (var s = entry.Open()) s.CopyTo(ms);
                var sop = DicomFile.Open(ms.ToArray().AsMemory()).Dataset.GetString(DicomTags.SOPInstanceUID)!;
                Assert.Equal(originals[sop], ms.ToArray());
            }
            Assert.Equal(HttpStatusCode.NotFound, (await fx.Rest.GetAsync("/studies/00000000-00000000-00000000-00000000-00000000/archive")).StatusCode);
        }
        finally { Directory.Delete(folder, true); }
    }

    [Fact]
    public async Task Media_is_a_valid_file_set_with_a_DICOMDIR_in_explicit_little_endian()
    {
        var (studyId, folder) = await AnonymizeModifyTests.UploadStudyAsync(fx.Rest, "MR_small.dcm", 3);
        var j2k = await UploadAsync(fx.Rest, Sample("JPEG2000.dcm"));
        try
        {
            var response = await fx.Rest.PostAsync("/tools/create-media",
                new StringContent($$"""{"Resources": ["{{studyId}}", "{{j2k["ParentStudy"]}}"]}"""));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var zipPath = Path.Combine(folder, "media.zip");
            await File.WriteAllBytesAsync(zipPath, await response.Content.ReadAsByteArrayAsync());
            PythonZipTest(zipPath);
            var root = Path.Combine(folder, "cd");
            ZipFile.ExtractToDirectory(zipPath, root);

            var dicomdir = Path.Combine(root, "DICOMDIR");
            Assert.Equal(0, Peers.Run("dcmdump", "-q", dicomdir).ExitCode);
            var vfy = Peers.Run("dciodvfy", dicomdir);
            Assert.False((vfy.Stdout + vfy.Stderr).Contains("Error"), vfy.Stdout + vfy.Stderr);
            var walk = Peers.Run("dcdirdmp", dicomdir);
            Assert.Equal(0, walk.ExitCode);
            var referenced = (walk.Stdout + walk.Stderr).Split('\n').Where(l => l.Contains("->")).Select(l => l.Split("->")[1].Trim()).ToList();
            Assert.Equal(4, referenced.Count);
            foreach (var fileId in referenced)
            {
                var file = Path.Combine(root, fileId.Replace('\\', '/'));
                Assert.True(File.Exists(file), fileId);
                var f = DicomFile.Open(file);
                Assert.Equal(TransferSyntax.ExplicitVRLittleEndian, f.TransferSyntax); // decoded from JPEG 2000 where needed
                Assert.Equal(0, Peers.Run("dcmdump", "-q", file).ExitCode);
            }
        }
        finally { Directory.Delete(folder, true); }
    }

    [Fact]
    public async Task A_large_archive_can_be_built_as_a_job_then_downloaded()
    {
        var (studyId, folder) = await AnonymizeModifyTests.UploadStudyAsync(fx.Rest, "CT_small.dcm", 3);
        try
        {
            var missing = await fx.Rest.PostAsync("/tools/create-archive", new StringContent("""{"Resources": ["nope"]}"""));
            Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
            var bad = await fx.Rest.PostAsync("/tools/create-archive", new StringContent("""{"Nothing": 1}"""));
            Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);

            var submitted = await PostJsonAsync(fx.Rest, "/tools/create-archive", new { Resources = new[] { studyId }, Asynchronous = true });
            var id = submitted["ID"]!.GetValue<string>();
            var job = await JobsTests.WaitForStateAsync(fx.Rest, id, "Success", "Failure");
            Assert.Equal("Success", job["State"]!.GetValue<string>());
            Assert.Equal(3, job["Content"]!["InstancesCount"]!.GetValue<int>());
            var bytes = await fx.Rest.GetByteArrayAsync($"/jobs/{id}/archive");
            using var zip = new ZipArchive(new MemoryStream(bytes));
            Assert.Equal(3, zip.Entries.Count);
        }
        finally { Directory.Delete(folder, true); }
    }
}
