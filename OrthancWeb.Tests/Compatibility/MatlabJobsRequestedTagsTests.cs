using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using OrthancWeb.Tests.Infrastructure;
using OrthancWeb.Tests.Server;

namespace OrthancWeb.Tests.Compatibility;

/// <summary>
/// Both servers with pydicom's samples (signed 16-bit CT and MR, 32-bit RT dose), five more of its files (big-endian
/// RGB of 60 x 80, RGB in RLE over two frames, 1-bit, 8-bit deflated, native YBR_FULL_422), a signed 16-bit image of
/// three 5 x 7 frames with negative values, and an unsigned 16-bit one of 64 x 128 (12 bits stored).
/// </summary>
public sealed class MatlabJobsRequestedTagsFixture : OrthancDifferentialFixture, IAsyncLifetime
{
    public string Folder { get; } = Directory.CreateTempSubdirectory("ow-matlab-").FullName;

    protected override async Task LoadAsync()
    {
        await base.LoadAsync();
        var made = Peers.Run(Peers.DebianPython, "-c", $$"""
            import pydicom, pydicom.data, numpy as np, warnings
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(pydicom.data.get_testdata_file('MR_small.dcm'))
            ds.Rows, ds.Columns, ds.NumberOfFrames = 5, 7, 3
            ds.PixelData = (np.arange(105).reshape(3, 5, 7) * 37 - 2000).astype('<i2').tobytes()
            ds.SOPInstanceUID = '1.2.826.0.1.3680043.8.498.951'; ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
            ds.save_as('{{Folder}}/signed-frames.dcm')
            """);
        if (made.ExitCode != 0) throw new InvalidOperationException(made.Stderr);
        var files = new[] { "ExplVR_BigEnd.dcm", "SC_rgb_rle_2frame.dcm", "liver_1frame.dcm", "image_dfl.dcm", "SC_ybr_full_422_uncompressed.dcm" }
            .Select(Rest.Sample).Append(Path.Combine(Folder, "signed-frames.dcm")).Select(File.ReadAllBytes)
            .Append(GeneratedInstances.Ct("UNSIGNED", "1.2.826.0.1.3680043.8.498.952", "1.2.826.0.1.3680043.8.498.953", "1.2.826.0.1.3680043.8.498.954", 1).Bytes);
        foreach (var bytes in files)
            foreach (var client in new[] { OursClient, OrthancClient })
                (await client.PostAsync("/instances", new ByteArrayContent(bytes))).EnsureSuccessStatusCode();
    }

    public new async Task DisposeAsync()
    {
        await base.DisposeAsync();
        Directory.Delete(Folder, true);
    }
}

/// <summary>
/// The MATLAB export against orthanc 1.10.1; DELETE /jobs/{id} (Orthanc 1.12) and RequestedTags (Orthanc 1.11), which
/// orthanc 1.10.1 lacks, against their documented behaviour, with values checked against orthanc's reading of the file.
/// </summary>
public sealed class MatlabJobsRequestedTagsTests(MatlabJobsRequestedTagsFixture fx) : IClassFixture<MatlabJobsRequestedTagsFixture>
{
    [Fact]
    public async Task Matlab_text_is_orthancs_byte_for_byte()
    {
        var compared = 0;
        foreach (var id in Rest.Ids(await Rest.GetJsonAsync(fx.OrthancClient, "/instances")))
        {
            foreach (var query in new[] { "matlab", "frames/0/matlab", "frames/1/matlab", "frames/2/matlab", "frames/3/matlab" })
            {
                var path = $"/instances/{id}/{query}";
                var (ours, orthanc) = await fx.SendBothAsync(HttpMethod.Get, path);
                Assert.True(orthanc.Status == ours.Status, $"{path}: orthanc {orthanc.Status} {orthanc.Body[..Math.Min(200, orthanc.Body.Length)]}, ours {ours.Status}: {ours.Body[..Math.Min(200, ours.Body.Length)]}");
                if (orthanc.Status != 200)
                {
                    Assert.True(orthanc.Json!["OrthancStatus"]!.GetValue<int>() == ours.Json!["OrthancStatus"]!.GetValue<int>(), $"{path}: orthanc {orthanc.Body}, ours {ours.Body}");
                    continue;
                }
                Assert.True(orthanc.Body == ours.Body, $"{path}: orthanc {orthanc.Body[..Math.Min(300, orthanc.Body.Length)]}\nours {ours.Body[..Math.Min(300, ours.Body.Length)]}");
                compared++;
            }
        }
        // The 8 images that orthanc exports: 6 of one frame (matlab, frames/0), RGB of 2 frames (3), signed of 3 frames (4).
        Assert.True(compared == 19, $"only {compared} texts compared");
        using var response = await fx.OursClient.GetAsync($"/instances/{Rest.Ids(await Rest.GetJsonAsync(fx.OursClient, "/instances"))[0]}/matlab");
        Assert.Equal("text/plain", response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task Delete_job_removes_a_finished_job_and_refuses_an_unfinished_one()
    {
        var client = fx.OursClient;
        var study = Rest.Ids(await Rest.GetJsonAsync(client, "/studies"))[0];

        // A finished job (an archive made as a job) leaves the history with its output: 200 and an empty body.
        var archive = (await Rest.PostJsonAsync(client, $"/studies/{study}/archive", new { Asynchronous = true }))["ID"]!.GetValue<string>();
        await WaitForStateAsync(client, archive, "Success");
        using (var deleted = await client.DeleteAsync($"/jobs/{archive}"))
        {
            Assert.Equal(HttpStatusCode.OK, deleted.StatusCode);
            Assert.Equal("", await deleted.Content.ReadAsStringAsync());
        }
        Assert.DoesNotContain(archive, Rest.Ids(await Rest.GetJsonAsync(client, "/jobs")));
        // Its archive with it; GET /jobs/{id} is a 404 (orthanc 1.10.1's has an empty body there, ours the error JSON).
        await AssertInexistentAsync(client, HttpMethod.Get, $"/jobs/{archive}/archive");
        using (var gone = await client.GetAsync($"/jobs/{archive}")) Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
        await AssertInexistentAsync(client, HttpMethod.Delete, $"/jobs/{archive}"); // gone: a second delete finds nothing

        // A running job (a C-STORE to a peer that accepts the connection and never answers) must be canceled first.
        using var silent = new TcpListener(IPAddress.Loopback, 0);
        silent.Start();
        var port = ((IPEndPoint)silent.LocalEndpoint).Port;
        (await client.PutAsync("/modalities/silent", Body(new { AET = "SILENT", Host = "127.0.0.1", Port = port, Timeout = 60 }))).EnsureSuccessStatusCode();
        var store = (await Rest.PostJsonAsync(client, "/modalities/silent/store", new { Resources = new[] { study }, Asynchronous = true }))["ID"]!.GetValue<string>();
        await WaitForStateAsync(client, store, "Running");
        await AssertInexistentAsync(client, HttpMethod.Delete, $"/jobs/{store}");
        Assert.Equal("Running", (await Rest.GetJsonAsync(client, $"/jobs/{store}"))["State"]!.GetValue<string>());
        (await client.PostAsync($"/jobs/{store}/cancel", Body(new { }))).EnsureSuccessStatusCode();
        await WaitForStateAsync(client, store, "Failure");
        (await client.DeleteAsync($"/jobs/{store}")).EnsureSuccessStatusCode();
        Assert.DoesNotContain(store, Rest.Ids(await Rest.GetJsonAsync(client, "/jobs")));
        await AssertInexistentAsync(client, HttpMethod.Delete, "/jobs/no-such-job");
    }

    private static System.Net.Http.Json.JsonContent Body(object body) => System.Net.Http.Json.JsonContent.Create(body, options: Rest.OrthancJsonOptions);

    /// <summary>Orthanc's error JSON for what is not there: 404, OrthancStatus 7 "Inexistent item".</summary>
    private static async Task AssertInexistentAsync(HttpClient client, HttpMethod method, string path)
    {
        using var response = await client.SendAsync(new HttpRequestMessage(method, path));
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.NotFound, $"{method} {path}: {(int)response.StatusCode} {body}");
        var error = JsonNode.Parse(body)!;
        Assert.Equal(7, error["OrthancStatus"]!.GetValue<int>());
        Assert.Equal(404, error["HttpStatus"]!.GetValue<int>());
        Assert.Equal(path, error["Uri"]!.GetValue<string>());
        Assert.Equal(method.Method, error["Method"]!.GetValue<string>());
    }

    private static async Task WaitForStateAsync(HttpClient client, string job, string state)
    {
        var clock = Stopwatch.StartNew();
        string last;
        do
        {
            last = (await Rest.GetJsonAsync(client, $"/jobs/{job}"))["State"]!.GetValue<string>();
            if (last == state) return;
            await Task.Delay(50);
        } while (clock.Elapsed < TimeSpan.FromSeconds(15));
        Assert.Fail($"job {job} still {last}, not {state}");
    }

    [Fact]
    public async Task Requested_tags_come_from_the_index_or_else_the_file()
    {
        // CT_small's instance, as orthanc 1.10.1 reads the file: the reference for every value below.
        var instance = (await Rest.PostJsonAsync(fx.OrthancClient, "/tools/find", new { Level = "Instance", Query = new { SOPInstanceUID = "1.3.6.1.4.1.5962.1.1.1.1.1.20040119072730.12322" } })).AsArray()[0]!.GetValue<string>();
        var simplified = (await Rest.GetJsonAsync(fx.OrthancClient, $"/instances/{instance}/simplified-tags")).AsObject();
        var full = (await Rest.GetJsonAsync(fx.OrthancClient, $"/instances/{instance}/tags")).AsObject();
        Assert.False(simplified.ContainsKey("ProtocolName")); // the missing tag below is indeed absent from the file
        var study = (await Rest.GetJsonAsync(fx.OursClient, $"/instances/{instance}/study"))["ID"]!.GetValue<string>();

        // A study: the patient's main tag, the study's own, computed counts, two tags only the file holds, one it lacks.
        var found = (await Rest.PostJsonAsync(fx.OursClient, "/tools/find", new
        {
            Level = "Study", Expand = true, Query = new { StudyInstanceUID = simplified["StudyInstanceUID"]!.GetValue<string>() },
            RequestedTags = new[] { "PatientName", "StudyDate", "NumberOfStudyRelatedInstances", "ModalitiesInStudy", "SliceThickness", "0008,0070", "ProtocolName" },
        })).AsArray();
        var tags = Assert.Single(found)!["RequestedTags"]!.AsObject();
        Assert.Equal(study, found[0]!["ID"]!.GetValue<string>());
        foreach (var name in new[] { "PatientName", "StudyDate", "SliceThickness", "Manufacturer" })
            Assert.True(simplified[name]!.GetValue<string>() == tags[name]?.GetValue<string>(), $"{name}: orthanc reads {simplified[name]}, ours {tags.ToJsonString()}");
        Assert.Equal("1", tags["NumberOfStudyRelatedInstances"]!.GetValue<string>());
        Assert.Equal("CT", tags["ModalitiesInStudy"]!.GetValue<string>());
        Assert.False(tags.ContainsKey("ProtocolName"), "a tag found nowhere is left out: " + tags.ToJsonString());
        Assert.Equal(6, tags.Count);

        // "Full": the tags keyed and shaped as /instances/{id}/tags shows them.
        var fullAnswer = (await Rest.PostJsonAsync(fx.OursClient, "/tools/find", new
        {
            Level = "Instance", Expand = true, Full = true, Query = new { SOPInstanceUID = simplified["SOPInstanceUID"]!.GetValue<string>() },
            RequestedTags = new[] { "SOPInstanceUID", "0018,0050" },
        })).AsArray()[0]!["RequestedTags"]!;
        foreach (var key in new[] { "0008,0018", "0018,0050" })
            Assert.True(JsonNode.DeepEquals(full[key], fullAnswer[key]), $"{key}: orthanc {full[key]?.ToJsonString()}, ours {fullAnswer[key]?.ToJsonString()}");

        // Without RequestedTags, no such field (as 1.10.1, whose answer is compared elsewhere).
        Assert.Null((await Rest.PostJsonAsync(fx.OursClient, "/tools/find", new { Level = "Study", Expand = true, Query = new { } })).AsArray()[0]!["RequestedTags"]);

        // The query-string forms on a resource and on an expanded list (both of Orthanc's spellings).
        var one = await Rest.GetJsonAsync(fx.OursClient, $"/instances/{instance}?requestedTags=SliceThickness;0010,0010");
        Assert.Equal(simplified["SliceThickness"]!.GetValue<string>(), one["RequestedTags"]!["SliceThickness"]!.GetValue<string>());
        Assert.Equal(simplified["PatientName"]!.GetValue<string>(), one["RequestedTags"]!["PatientName"]!.GetValue<string>());
        var series = (await Rest.GetJsonAsync(fx.OursClient, "/series?expand&requested-tags=Rows;NumberOfSeriesRelatedInstances")).AsArray();
        var parent = one["ParentSeries"]!.GetValue<string>();
        var ct = series.Single(s => s!["ID"]!.GetValue<string>() == parent)!;
        Assert.Equal(simplified["Rows"]!.GetValue<string>(), ct["RequestedTags"]!["Rows"]!.GetValue<string>());
        Assert.Equal("1", ct["RequestedTags"]!["NumberOfSeriesRelatedInstances"]!.GetValue<string>());
        var children = (await Rest.GetJsonAsync(fx.OursClient, $"/studies/{study}/series?requestedTags=SeriesDescription;ImageType")).AsArray();
        Assert.Equal(simplified["ImageType"]!.GetValue<string>(), Assert.Single(children)!["RequestedTags"]!["ImageType"]!.GetValue<string>());

        // A name that is no tag is a 400, as an unknown tag in Query.
        using var bad = await fx.OursClient.PostAsync("/tools/find", Body(new { Level = "Study", Expand = true, Query = new { }, RequestedTags = new[] { "NoSuchTag" } }));
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
    }
}
