using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;
using OrthancWeb.Dicom.Data;
using OrthancWeb.Dicom.IO;
using OrthancWeb.Tests.Infrastructure;
using static OrthancWeb.Tests.Server.Rest;

namespace OrthancWeb.Tests.Workflows;

/// <summary>POST /{level}/{id}/anonymize and /modify over REST, checked in the index, in the files and by dciodvfy.</summary>
public sealed class AnonymizeModifyTests(WorkflowFixture fx) : IClassFixture<WorkflowFixture>
{
    /// <summary>Uploads a study of <paramref name="count"/> instances made from one pydicom file, with its own UIDs.</summary>
    public static async Task<(string StudyId, string Folder)> UploadStudyAsync(HttpClient rest, string sample, int count)
    {
        var folder = Directory.CreateTempSubdirectory("ow-study-").FullName;
        var study = OrthancWeb.Dicom.Anonymization.UidMap.NewUid();
        var series = OrthancWeb.Dicom.Anonymization.UidMap.NewUid();
        string? studyId = null;
        for (var i = 0; i < count; i++)
        {
            var f = DicomFile.Open(Sample(sample));
            f.Dataset.Add(DicomTags.StudyInstanceUID, DicomVR.UI, study);
            f.Dataset.Add(DicomTags.SeriesInstanceUID, DicomVR.UI, series);
            f.Dataset.Add(DicomTags.SOPInstanceUID, DicomVR.UI, OrthancWeb.Dicom.Anonymization.UidMap.NewUid());
            f.Dataset.Add(DicomTags.InstanceNumber, DicomVR.IS, (i + 1).ToString(CultureInfo.InvariantCulture));
            f.UpdateFileMetaInfo();
            var path = Path.Combine(folder, $"{i:D4}.dcm");
            f.Save(path);
            studyId = (await UploadAsync(rest, path))["ParentStudy"]!.GetValue<string>();
        }
        return (studyId!, folder);
    }

    private static HashSet<string> Errors(string path)
    {
        var r = Peers.Run("dciodvfy", path);
        return (r.Stdout + r.Stderr).Split('\n').Where(l => l.StartsWith("Error", StringComparison.Ordinal))
            .Select(l => System.Text.RegularExpressions.Regex.Replace(l, @"\s+=\s+<[^>]*>|\[\d+\]", "").Trim()).ToHashSet();
    }

    [Fact]
    public async Task Anonymizing_a_study_makes_a_new_whole_study_and_keeps_the_original()
    {
        var (studyId, folder) = await UploadStudyAsync(fx.Rest, "CT_small.dcm", 3);
        try
        {
            var answer = await PostJsonAsync(fx.Rest, $"/studies/{studyId}/anonymize",
                new { Replace = new Dictionary<string, string> { ["PatientName"] = "TRIAL^SUBJECT", ["PatientID"] = "TRIAL-42" }, Keep = new[] { "StudyDescription" } });
            Assert.Equal("Study", answer["Type"]!.GetValue<string>());
            var newStudy = answer["ID"]!.GetValue<string>();
            Assert.NotEqual(studyId, newStudy);
            Assert.Equal($"/studies/{newStudy}", answer["Path"]!.GetValue<string>());

            var instances = (await GetJsonAsync(fx.Rest, $"/studies/{newStudy}/instances")).AsArray().Select(n => n!["ID"]!.GetValue<string>()).ToArray();
            Assert.Equal(3, instances.Length);
            var originals = Directory.GetFiles(folder).ToDictionary(f => DicomFile.Open(f).Dataset.GetString(DicomTags.SOPInstanceUID)!);
            var seriesUids = new HashSet<string>();
            foreach (var id in instances)
            {
                var bytes = await fx.Rest.GetByteArrayAsync($"/instances/{id}/file");
                var ds = DicomFile.Open(bytes.AsMemory()).Dataset;
                Assert.Equal("TRIAL^SUBJECT", ds.GetString(DicomTags.PatientName));
                Assert.Equal("TRIAL-42", ds.GetString(DicomTags.PatientID));
                Assert.Equal("YES", ds.GetString(DicomTags.PatientIdentityRemoved));
                Assert.Equal("", ds.GetString(DicomTags.StudyDate));
                Assert.False(originals.ContainsKey(ds.GetString(DicomTags.SOPInstanceUID)!));
                seriesUids.Add(ds.GetString(DicomTags.SeriesInstanceUID)!);
                var from = await (await fx.Rest.GetAsync($"/instances/{id}/metadata/AnonymizedFrom")).Content.ReadAsStringAsync();
                Assert.Matches("^[0-9a-f]{8}(-[0-9a-f]{8}){4}$", from); // the original instance's public ID
                // dciodvfy: nothing wrong that the original file did not have already.
                var path = Path.Combine(folder, id + ".anon");
                await File.WriteAllBytesAsync(path, bytes);
                Assert.Empty(Errors(path).Except(Errors(originals.Values.First())));
            }
            Assert.Single(seriesUids); // the hierarchy holds: one series, as before
            Assert.Equal(3, (await GetJsonAsync(fx.Rest, $"/studies/{studyId}/instances")).AsArray().Count); // KeepSource by default
            Assert.Equal(answer["PatientID"]!.GetValue<string>(), (await GetJsonAsync(fx.Rest, $"/studies/{newStudy}"))["ParentPatient"]!.GetValue<string>());
        }
        finally { Directory.Delete(folder, true); }
    }

    [Fact]
    public async Task Anonymizing_an_instance_returns_the_file_without_storing_it()
    {
        var up = await UploadAsync(fx.Rest, Sample("MR_small.dcm"));
        var before = (await GetJsonAsync(fx.Rest, "/statistics"))["CountInstances"]!.GetValue<int>();
        var response = await fx.Rest.PostAsync($"/instances/{up["ID"]}/anonymize", new StringContent("{}"));
        Assert.Equal("application/dicom", response.Content.Headers.ContentType!.MediaType);
        var ds = DicomFile.Open((await response.Content.ReadAsByteArrayAsync()).AsMemory()).Dataset;
        Assert.Equal("YES", ds.GetString(DicomTags.PatientIdentityRemoved));
        Assert.NotEqual(DicomFile.Open(Sample("MR_small.dcm")).Dataset.GetString(DicomTags.SOPInstanceUID), ds.GetString(DicomTags.SOPInstanceUID));
        Assert.Equal(before, (await GetJsonAsync(fx.Rest, "/statistics"))["CountInstances"]!.GetValue<int>());
    }

    [Fact]
    public async Task Modifying_a_series_without_keeping_the_source_replaces_it()
    {
        var (studyId, folder) = await UploadStudyAsync(fx.Rest, "MR_small.dcm", 2);
        try
        {
            var series = Ids((await GetJsonAsync(fx.Rest, $"/studies/{studyId}"))["Series"]!)[0];
            var answer = await PostJsonAsync(fx.Rest, $"/series/{series}/modify",
                new { Replace = new Dictionary<string, string> { ["SeriesDescription"] = "Re-labelled" }, Remove = new[] { "StationName" }, KeepSource = false });
            var newSeries = answer["ID"]!.GetValue<string>();
            Assert.Equal(HttpStatusCode.NotFound, (await fx.Rest.GetAsync($"/series/{series}")).StatusCode);
            var info = await GetJsonAsync(fx.Rest, $"/series/{newSeries}");
            Assert.Equal("Re-labelled", info["MainDicomTags"]!["SeriesDescription"]!.GetValue<string>());
            Assert.Equal(studyId, info["ParentStudy"]!.GetValue<string>()); // same study: only the series got new UIDs
            Assert.Equal(2, info["Instances"]!.AsArray().Count);
        }
        finally { Directory.Delete(folder, true); }
    }

    [Fact]
    public async Task Modify_refuses_identifier_changes_without_force_and_bad_bodies()
    {
        var up = await UploadAsync(fx.Rest, Sample("CT_small.dcm"));
        var study = up["ParentStudy"]!.GetValue<string>();
        var noForce = await fx.Rest.PostAsync($"/studies/{study}/modify", new StringContent("""{"Replace": {"StudyInstanceUID": "1.2.3"}}"""));
        Assert.Equal(HttpStatusCode.BadRequest, noForce.StatusCode);
        Assert.Contains("Force", await noForce.Content.ReadAsStringAsync());
        var badTag = await fx.Rest.PostAsync($"/studies/{study}/anonymize", new StringContent("""{"Keep": ["NoSuchKeyword"]}"""));
        Assert.Equal(HttpStatusCode.BadRequest, badTag.StatusCode);
        var notJson = await fx.Rest.PostAsync($"/studies/{study}/anonymize", new StringContent("{"));
        Assert.Equal(HttpStatusCode.BadRequest, notJson.StatusCode);
        var unknown = await fx.Rest.PostAsync("/studies/00000000-00000000-00000000-00000000-00000000/anonymize", new StringContent("{}"));
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);

        // In place: every UID kept with Force, KeepSource false: the same instance, changed.
        var inPlace = await PostJsonAsync(fx.Rest, $"/studies/{study}/modify", new
        {
            Replace = new Dictionary<string, string> { ["StudyDescription"] = "Fixed in place" },
            Keep = new[] { "StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID" },
            Force = true,
            KeepSource = false,
        });
        Assert.Equal(study, inPlace["ID"]!.GetValue<string>());
        Assert.Equal("Fixed in place", (await GetJsonAsync(fx.Rest, $"/studies/{study}"))["MainDicomTags"]!["StudyDescription"]!.GetValue<string>());
        Assert.Single((await GetJsonAsync(fx.Rest, $"/studies/{study}/instances")).AsArray());
    }
}
