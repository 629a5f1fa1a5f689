using System.Globalization;
using System.IO.Compression;
using System.Net;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using OrthancWeb.Dicom.Data;
using OrthancWeb.Dicom.IO;
using static OrthancWeb.Tests.Server.Rest;

namespace OrthancWeb.Tests.Server;

/// <summary>The Orthanc-shaped REST core, driven over real HTTP against a running server.</summary>
public sealed class RestApiTests(RestServerFixture fixture) : IClassFixture<RestServerFixture>
{
    private HttpClient Client => fixture.Client;

    /// <summary>Orthanc's public ID scheme, computed independently here from the DICOM identifiers.</summary>
    private static string OrthancId(params string[] parts)
    {
        var hex = Convert.ToHexStringLower(SHA1.HashData(System.Text.Encoding.UTF8.GetBytes(string.Join('|', parts))));
        return string.Join('-', Enumerable.Range(0, 5).Select(i => hex.Substring(i * 8, 8)));
    }

    [Fact]
    public async Task Upload_gives_orthanc_ids_and_a_second_copy_is_already_stored()
    {
        var path = Sample("CT_small.dcm");
        var ds = DicomFile.Open(path).Dataset;
        var (pid, study, series, sop) = (ds.GetString(DicomTags.PatientID)!, ds.GetString(DicomTags.StudyInstanceUID)!, ds.GetString(DicomTags.SeriesInstanceUID)!, ds.GetString(DicomTags.SOPInstanceUID)!);
        var first = await UploadAsync(Client, path);
        Assert.Contains(first["Status"]!.GetValue<string>(), new[] { "Success", "AlreadyStored" });
        Assert.Equal(OrthancId(pid, study, series, sop), first["ID"]!.GetValue<string>());
        Assert.Equal(OrthancId(pid), first["ParentPatient"]!.GetValue<string>());
        Assert.Equal(OrthancId(pid, study), first["ParentStudy"]!.GetValue<string>());
        Assert.Equal(OrthancId(pid, study, series), first["ParentSeries"]!.GetValue<string>());
        var second = await UploadAsync(Client, path);
        Assert.Equal("AlreadyStored", second["Status"]!.GetValue<string>());

        // The hierarchy, each level in Orthanc's shape.
        var patient = await GetJsonAsync(Client, "/patients/" + OrthancId(pid));
        Assert.Equal("Patient", patient["Type"]!.GetValue<string>());
        Assert.Equal("CompressedSamples^CT1", patient["MainDicomTags"]!["PatientName"]!.GetValue<string>());
        Assert.Contains(OrthancId(pid, study), Ids(patient["Studies"]!));
        var st = await GetJsonAsync(Client, "/studies/" + OrthancId(pid, study));
        Assert.Equal(OrthancId(pid), st["ParentPatient"]!.GetValue<string>());
        Assert.Equal("1CT1", st["PatientMainDicomTags"]!["PatientID"]!.GetValue<string>());
        Assert.Equal("20040119", st["MainDicomTags"]!["StudyDate"]!.GetValue<string>());
        var se = await GetJsonAsync(Client, "/series/" + OrthancId(pid, study, series));
        Assert.Equal("CT", se["MainDicomTags"]!["Modality"]!.GetValue<string>());
        Assert.Single(Ids(se["Instances"]!));
        var inst = await GetJsonAsync(Client, "/instances/" + first["ID"]!.GetValue<string>());
        Assert.Equal(sop, inst["MainDicomTags"]!["SOPInstanceUID"]!.GetValue<string>());
        Assert.Equal(new FileInfo(path).Length, inst["FileSize"]!.GetValue<long>());
        Assert.Equal(1, inst["IndexInSeries"]!.GetValue<int>());

        // Relatives in both directions.
        Assert.Equal(first["ID"]!.GetValue<string>(), (await GetJsonAsync(Client, $"/patients/{OrthancId(pid)}/instances"))[0]!["ID"]!.GetValue<string>());
        Assert.Equal(OrthancId(pid, study), (await GetJsonAsync(Client, $"/instances/{first["ID"]}/study"))["ID"]!.GetValue<string>());
        Assert.Contains(OrthancId(pid), Ids(await GetJsonAsync(Client, "/patients")));
        var expanded = await GetJsonAsync(Client, "/patients?expand&limit=1");
        Assert.Single(expanded.AsArray());
        Assert.Equal("Patient", expanded[0]!["Type"]!.GetValue<string>());
    }

    [Fact]
    public async Task File_tags_header_content_metadata_and_attachments_read_back()
    {
        var path = Sample("rtplan.dcm");
        var id = (await UploadAsync(Client, path))["ID"]!.GetValue<string>();
        var bytes = await Client.GetByteArrayAsync($"/instances/{id}/file");
        Assert.Equal(await File.ReadAllBytesAsync(path), bytes);

        var tags = await GetJsonAsync(Client, $"/instances/{id}/tags");
        Assert.Equal("PatientName", tags["0010,0010"]!["Name"]!.GetValue<string>());
        Assert.Equal("Sequence", tags["300a,0010"]!["Type"]!.GetValue<string>());
        var simple = await GetJsonAsync(Client, $"/instances/{id}/simplified-tags");
        Assert.Equal("Last^First^mid^pre", simple["PatientName"]!.GetValue<string>());
        Assert.Equal(simple.ToJsonString(), (await GetJsonAsync(Client, $"/instances/{id}/tags?simplify")).ToJsonString());
        var header = await GetJsonAsync(Client, $"/instances/{id}/header");
        var syntax = DicomFile.Open(path).TransferSyntax.Uid;
        Assert.Equal(syntax, header["0002,0010"]!["Value"]!.GetValue<string>());

        Assert.Contains("0010-0010", Ids(await GetJsonAsync(Client, $"/instances/{id}/content")));
        Assert.Equal("Last^First^mid^pre", await Client.GetStringAsync($"/instances/{id}/content/0010-0010"));
        Assert.Equal(["0", "1"], Ids(await GetJsonAsync(Client, $"/instances/{id}/content/300a-0010")));
        Assert.Equal("COORDINATES", await Client.GetStringAsync($"/instances/{id}/content/300a-0010/0/300a-0014"));

        var metadata = await GetJsonAsync(Client, $"/instances/{id}/metadata?expand");
        Assert.Equal("RestApi", metadata["Origin"]!.GetValue<string>());
        Assert.Equal(syntax, metadata["TransferSyntax"]!.GetValue<string>());
        Assert.Equal("1.2.840.10008.5.1.4.1.1.481.5", metadata["SopClassUid"]!.GetValue<string>());
        Assert.Equal("127.0.0.1", metadata["RemoteIP"]!.GetValue<string>());
        Assert.Matches("^\\d{8}T\\d{6}$", metadata["ReceptionDate"]!.GetValue<string>());
        Assert.Equal("RestApi", await Client.GetStringAsync($"/instances/{id}/metadata/Origin"));

        Assert.Equal(["dicom"], Ids(await GetJsonAsync(Client, $"/instances/{id}/attachments")));
        Assert.Equal(Convert.ToHexStringLower(MD5.HashData(bytes)), await Client.GetStringAsync($"/instances/{id}/attachments/dicom/md5"));
        Assert.Equal(bytes.Length.ToString(CultureInfo.InvariantCulture), await Client.GetStringAsync($"/instances/{id}/attachments/dicom/size"));
    }

    [Fact]
    public async Task Bad_uploads_get_400_with_a_reason_and_change_nothing()
    {
        var before = (await GetJsonAsync(Client, "/statistics"))["CountInstances"]!.GetValue<long>();
        var notDicom = await Client.PostAsync("/instances", new StringContent("this is not a DICOM file, just text long enough"));
        Assert.Equal(HttpStatusCode.BadRequest, notDicom.StatusCode);
        Assert.Contains("Not a valid DICOM file", await notDicom.Content.ReadAsStringAsync());

        var truncated = (await File.ReadAllBytesAsync(Sample("CT_small.dcm")))[..4000];
        var t = await Client.PostAsync("/instances", new ByteArrayContent(truncated));
        Assert.Equal(HttpStatusCode.BadRequest, t.StatusCode);

        var ds = new DicomDataset().Add(DicomTags.SOPClassUID, "1.2.840.10008.5.1.4.1.1.7").Add(DicomTags.PatientID, "NOUIDS");
        var noUids = new DicomFile(ds, TransferSyntax.ExplicitVRLittleEndian);
        noUids.UpdateFileMetaInfo();
        var m = await Client.PostAsync("/instances", new ByteArrayContent(noUids.ToBytes()));
        Assert.Equal(HttpStatusCode.BadRequest, m.StatusCode);
        Assert.Contains("StudyInstanceUID, SeriesInstanceUID, SOPInstanceUID", await m.Content.ReadAsStringAsync());

        Assert.Equal(before, (await GetJsonAsync(Client, "/statistics"))["CountInstances"]!.GetValue<long>());

        var unknown = await Client.GetAsync("/studies/00000000-00000000-00000000-00000000-00000000");
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Equal(404, JsonNode.Parse(await unknown.Content.ReadAsStringAsync())!["HttpStatus"]!.GetValue<int>());
    }

    [Fact]
    public async Task The_upload_pages_endpoint_stores_skips_and_refuses_each_file_with_its_reason()
    {
        // As the page's script sends: over HTTPS, with the login cookie, from the server's own origin.
        using var browser = fixture.Server.CreateClient();
        Assert.Equal(HttpStatusCode.Redirect, (await ServerProcess.LoginAsync(browser, "admin", ServerProcess.AdminPassword)).StatusCode);
        var origin = browser.BaseAddress!.GetLeftPart(UriPartial.Authority);
        async Task<HttpResponseMessage> Post(string name, byte[] body, string from)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/ui/upload/file?name=" + Uri.EscapeDataString(name)) { Content = new ByteArrayContent(body) };
            request.Headers.Add("Origin", from);
            return await browser.SendAsync(request);
        }
        async Task<JsonArray> Send(string name, byte[] body)
        {
            var response = await Post(name, body, origin);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            return JsonNode.Parse(await response.Content.ReadAsStringAsync())!.AsArray();
        }
        var ct = await File.ReadAllBytesAsync(Sample("CT_small.dcm"));
        var stored = (await Send("CD/DICOM/IM1", ct))[0]!;
        Assert.Equal("CD/DICOM/IM1", stored["Name"]!.GetValue<string>());
        Assert.Contains(stored["Status"]!.GetValue<string>(), new[] { "Success", "AlreadyStored" });
        var id = stored["Id"]!.GetValue<string>();
        Assert.Equal(200, (int)(await Client.GetAsync($"/instances/{id}")).StatusCode);

        // A CD's other files: the viewer's, autorun, the DICOMDIR itself.
        Assert.Equal("Skipped", (await Send("CD/autorun.inf", "[autorun]\nopen=viewer.exe\n"u8.ToArray()))[0]!["Status"]!.GetValue<string>());
        Assert.Equal("Skipped", (await Send("CD/DICOMDIR", ct))[0]!["Status"]!.GetValue<string>());
        // DICOM cut short: recognised, refused with the reason, nothing kept.
        var before = (await GetJsonAsync(Client, "/statistics"))["CountInstances"]!.GetValue<long>();
        var truncated = (await Send("CD/DICOM/IM2", ct[..1000]))[0]!;
        Assert.Equal("Invalid", truncated["Status"]!.GetValue<string>());
        Assert.Contains("Not a valid DICOM file", truncated["Reason"]!.GetValue<string>());
        Assert.Equal(before, (await GetJsonAsync(Client, "/statistics"))["CountInstances"]!.GetValue<long>());

        // A ZIP among the files: one outcome per entry, named inside the archive.
        using var ms = new MemoryStream();
        using (var zip = new ZipArchive(ms, ZipArchiveMode.Create, leaveOpen: true))
        {
            await using (var e = zip.CreateEntry("a/MR_small.dcm").Open()) await e.WriteAsync(await File.ReadAllBytesAsync(Sample("MR_small.dcm")));
            await using (var e = zip.CreateEntry("a/readme.txt").Open()) await e.WriteAsync("notes"u8.ToArray());
        }
        var entries = await Send("export.zip", ms.ToArray());
        Assert.Equal(["export.zip/a/MR_small.dcm", "export.zip/a/readme.txt"], entries.Select(e => e!["Name"]!.GetValue<string>()));
        Assert.Contains(entries[0]!["Status"]!.GetValue<string>(), new[] { "Success", "AlreadyStored" });

        // Several files in one request, as the page sends small ones: one outcome per part, named by its filename.
        using var form = new MultipartFormDataContent
        {
            { new ByteArrayContent(await File.ReadAllBytesAsync(Sample("MR_small.dcm"))), "file", "CD2/DICOM/MR1" },
            { new ByteArrayContent("not dicom"u8.ToArray()), "file", "CD2/README.TXT" },
            { new ByteArrayContent(ct), "file", "CD2/DICOM/CT1" },
        };
        using var batch = new HttpRequestMessage(HttpMethod.Post, "/ui/upload/file") { Content = form };
        batch.Headers.Add("Origin", origin);
        var batchAnswer = JsonNode.Parse(await (await browser.SendAsync(batch)).Content.ReadAsStringAsync())!.AsArray();
        Assert.Equal(["CD2/DICOM/MR1", "CD2/README.TXT", "CD2/DICOM/CT1"], batchAnswer.Select(e => e!["Name"]!.GetValue<string>()));
        Assert.Equal(["AlreadyStored", "Skipped", "AlreadyStored"], batchAnswer.Select(e => e!["Status"]!.GetValue<string>()));

        // A batch of new files is answered only once every file in it is stored: each answered ID is there at once,
        // and the outcomes come in the order of the parts.
        var series = OrthancWeb.Tests.Infrastructure.GeneratedInstances.Series("BATCH20", "1.2.826.0.1.3680043.10.543.20261202", 20);
        using var fresh = new MultipartFormDataContent();
        foreach (var (instance, i) in series.Select((x, i) => (x, i))) fresh.Add(new ByteArrayContent(instance.Bytes), "file", $"CD3/IM{i:D2}");
        using var freshBatch = new HttpRequestMessage(HttpMethod.Post, "/ui/upload/file") { Content = fresh };
        freshBatch.Headers.Add("Origin", origin);
        var freshAnswer = JsonNode.Parse(await (await browser.SendAsync(freshBatch)).Content.ReadAsStringAsync())!.AsArray();
        Assert.Equal(series.Select((_, i) => $"CD3/IM{i:D2}"), freshAnswer.Select(e => e!["Name"]!.GetValue<string>()));
        Assert.All(freshAnswer, e => Assert.Equal("Success", e!["Status"]!.GetValue<string>()));
        foreach (var e in freshAnswer)
            Assert.Equal(HttpStatusCode.OK, (await Client.GetAsync($"/instances/{e!["Id"]!.GetValue<string>()}")).StatusCode);

        // A request of more parts than any page sends is refused with a reason, its answers never held without bound.
        using var many = new MultipartFormDataContent();
        for (var i = 0; i <= OrthancWeb.Api.BrowserUploadController.MaximumParts; i++) many.Add(new ByteArrayContent([]), "file", $"empty{i}");
        using var flood = new HttpRequestMessage(HttpMethod.Post, "/ui/upload/file") { Content = many };
        flood.Headers.Add("Origin", origin);
        var refused = await browser.SendAsync(flood);
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        Assert.Contains("More than 1000 files", await refused.Content.ReadAsStringAsync());

        // Another site's page cannot make a signed-in browser upload (the login cookie alone is not enough).
        Assert.Equal(HttpStatusCode.Forbidden, (await Post("evil.dcm", ct, "https://evil.example")).StatusCode);
    }

    [Fact]
    public async Task Zip_upload_answers_one_status_per_entry()
    {
        using var ms = new MemoryStream();
        using (var zip = new ZipArchive(ms, ZipArchiveMode.Create, leaveOpen: true))
        {
            foreach (var name in new[] { "MR_small.dcm", "rtdose.dcm" })
            {
                await using var e = zip.CreateEntry("good/" + name).Open();
                await e.WriteAsync(await File.ReadAllBytesAsync(Sample(name)));
            }
            await using (var bad = zip.CreateEntry("bad/readme.txt").Open())
                await bad.WriteAsync("not dicom"u8.ToArray());
        }
        var response = await Client.PostAsync("/instances", new ByteArrayContent(ms.ToArray()));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var answers = JsonNode.Parse(await response.Content.ReadAsStringAsync())!.AsArray();
        Assert.Equal(3, answers.Count);
        Assert.Equal("good/MR_small.dcm", answers[0]!["Entry"]!.GetValue<string>());
        Assert.Contains(answers[0]!["Status"]!.GetValue<string>(), new[] { "Success", "AlreadyStored" });
        Assert.Contains(answers[1]!["Status"]!.GetValue<string>(), new[] { "Success", "AlreadyStored" });
        Assert.Equal("Invalid", answers[2]!["Status"]!.GetValue<string>());
        Assert.NotNull(answers[2]!["Message"]);
    }

    [Fact]
    public async Task Find_matches_wildcards_ranges_lists_and_case_as_orthanc_does()
    {
        foreach (var f in new[] { "CT_small.dcm", "MR_small.dcm", "rtplan.dcm" }) await UploadAsync(Client, Sample(f));
        async Task<string[]> Find(object query, bool caseSensitive = true, string level = "Study") =>
            Ids(await PostJsonAsync(Client, "/tools/find", new { Level = level, Query = query, CaseSensitive = caseSensitive }));
        string StudyOf(string file)
        {
            var d = DicomFile.Open(Sample(file)).Dataset;
            return OrthancId(d.GetString(DicomTags.PatientID)!, d.GetString(DicomTags.StudyInstanceUID)!);
        }
        var ct = StudyOf("CT_small.dcm");
        var mr = StudyOf("MR_small.dcm");
        var plan = StudyOf("rtplan.dcm");

        Assert.Contains(ct, await Find(new { PatientName = "CompressedSamples^CT1" }));
        Assert.DoesNotContain(mr, await Find(new { PatientName = "CompressedSamples^CT1" }));
        var wild = await Find(new { PatientName = "Compressed*" });
        Assert.Contains(ct, wild);
        Assert.Contains(mr, wild);
        Assert.DoesNotContain(plan, wild);
        Assert.Contains(ct, await Find(new { PatientName = "C?mpressedSamples^CT?" }));
        Assert.Empty(await Find(new { PatientName = "compressed*" }));
        Assert.Contains(ct, await Find(new { PatientName = "compressed*" }, caseSensitive: false));
        Assert.Contains(ct, await Find(new { StudyDate = "20040101-20040131" }));
        Assert.DoesNotContain(ct, await Find(new { StudyDate = "20040120-" }));
        Assert.Contains(ct, await Find(new { StudyDate = "-20040119" }));
        var list = await Find(new { PatientID = "1CT1\\id00001" });
        Assert.Contains(ct, list);
        Assert.Contains(plan, list);
        Assert.DoesNotContain(mr, list);
        // A series-level tag at study level: some series must match.
        Assert.Contains(mr, await Find(new { Modality = "MR" }));
        Assert.DoesNotContain(ct, await Find(new { Modality = "MR" }));
        // A patient-level query at series level goes up the hierarchy.
        Assert.NotEmpty(await Find(new { PatientID = "1CT1" }, level: "Series"));

        var expanded = await PostJsonAsync(Client, "/tools/find", new { Level = "Study", Query = new { PatientName = "Compressed*" }, Expand = true, Limit = 1 });
        Assert.Single(expanded.AsArray());
        Assert.Equal("Study", expanded[0]!["Type"]!.GetValue<string>());
        var page2 = Ids(await PostJsonAsync(Client, "/tools/find", new { Level = "Study", Query = new { PatientName = "Compressed*" }, Since = 1, Limit = 1 }));
        Assert.Single(page2);
        Assert.NotEqual(expanded[0]!["ID"]!.GetValue<string>(), page2[0]);

        var bad = await Client.PostAsync("/tools/find", new StringContent("{\"Level\":\"Nope\",\"Query\":{}}"));
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);

        var lookup = await Client.PostAsync("/tools/lookup", new StringContent(DicomFile.Open(Sample("CT_small.dcm")).Dataset.GetString(DicomTags.StudyInstanceUID)!));
        var found = JsonNode.Parse(await lookup.Content.ReadAsStringAsync())!.AsArray();
        Assert.Contains(found, n => n!["ID"]!.GetValue<string>() == ct && n["Type"]!.GetValue<string>() == "Study");
    }

    [Fact]
    public async Task Changes_statistics_and_system()
    {
        await UploadAsync(Client, Sample("MR_small_implicit.dcm"));
        var changes = await GetJsonAsync(Client, "/changes?limit=2");
        Assert.Equal(2, changes["Changes"]!.AsArray().Count);
        Assert.False(changes["Done"]!.GetValue<bool>());
        var last = changes["Last"]!.GetValue<long>();
        var rest = await GetJsonAsync(Client, $"/changes?since={last}&limit=10000");
        Assert.True(rest["Changes"]!.AsArray().All(c => c!["Seq"]!.GetValue<long>() > last));
        Assert.Contains(rest["Changes"]!.AsArray(), c => c!["ChangeType"]!.GetValue<string>() == "NewInstance");
        var lastOnly = await GetJsonAsync(Client, "/changes?last");
        Assert.Single(lastOnly["Changes"]!.AsArray());

        var stats = await GetJsonAsync(Client, "/statistics");
        Assert.True(stats["CountInstances"]!.GetValue<long>() >= 1);
        Assert.True(long.Parse(stats["TotalDiskSize"]!.GetValue<string>(), CultureInfo.InvariantCulture) > 0);
        var system = await GetJsonAsync(Client, "/system");
        Assert.Equal("OrthancWeb", system["Name"]!.GetValue<string>());
    }

    [Fact]
    public async Task Statistics_of_one_resource_count_its_descendants_and_their_size()
    {
        var path = Sample("rtdose.dcm");
        var up = await UploadAsync(Client, path);
        var length = new FileInfo(path).Length.ToString(CultureInfo.InvariantCulture);
        var patient = await GetJsonAsync(Client, $"/patients/{up["ParentPatient"]}/statistics");
        Assert.Equal(1, patient["CountStudies"]!.GetValue<long>());
        Assert.Equal(1, patient["CountSeries"]!.GetValue<long>());
        Assert.Equal(1, patient["CountInstances"]!.GetValue<long>());
        Assert.Equal(length, patient["UncompressedSize"]!.GetValue<string>());
        var series = await GetJsonAsync(Client, $"/series/{up["ParentSeries"]}/statistics");
        Assert.Null(series["CountStudies"]);
        Assert.Equal(1, series["CountInstances"]!.GetValue<long>());
        var instance = await GetJsonAsync(Client, $"/instances/{up["ID"]}/statistics");
        Assert.Equal(length, instance["UncompressedSize"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.NotFound, (await Client.GetAsync("/studies/00000000-00000000-00000000-00000000-00000000/statistics")).StatusCode);
    }

    [Fact]
    public async Task Deleting_the_last_instance_removes_empty_parents()
    {
        var up = await UploadAsync(Client, Sample("liver_1frame.dcm"));
        var id = up["ID"]!.GetValue<string>();
        var patient = up["ParentPatient"]!.GetValue<string>();
        var response = await Client.DeleteAsync("/instances/" + id);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await Client.GetAsync("/instances/" + id)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await Client.GetAsync("/patients/" + patient)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await Client.DeleteAsync("/instances/" + id)).StatusCode);
        var deleted = (await GetJsonAsync(Client, "/changes?limit=10000"))["Changes"]!.AsArray()
            .Where(c => c!["ChangeType"]!.GetValue<string>() == "Deleted").Select(c => c!["ID"]!.GetValue<string>());
        Assert.Contains(patient, deleted);
    }

    [Fact]
    public async Task Concurrent_uploads_of_one_instance_store_it_once()
    {
        var bytes = await File.ReadAllBytesAsync(Sample("SC_rgb.dcm" is var n && File.Exists(Sample(n)) ? n : "MR_small_bigendian.dcm"));
        var results = await Task.WhenAll(Enumerable.Range(0, 8).Select(async _ =>
        {
            var r = await Client.PostAsync("/instances", new ByteArrayContent(bytes));
            return JsonNode.Parse(await r.Content.ReadAsStringAsync())!["Status"]!.GetValue<string>();
        }));
        Assert.True(results.Count(s => s == "Success") <= 1, string.Join(",", results));
        Assert.All(results, s => Assert.Contains(s, new[] { "Success", "AlreadyStored" }));
        var id = (await UploadAsync(Client, Sample("MR_small_bigendian.dcm")))["ParentSeries"]!.GetValue<string>();
        Assert.Single(Ids((await GetJsonAsync(Client, "/series/" + id))["Instances"]!));
    }

    [Fact]
    public async Task Scripts_without_credentials_get_401_and_wrong_credentials_too()
    {
        using var anonymous = new HttpClient { BaseAddress = Client.BaseAddress };
        var r = await anonymous.GetAsync("/patients");
        Assert.Equal(HttpStatusCode.Unauthorized, r.StatusCode);
        Assert.StartsWith("Basic", r.Headers.WwwAuthenticate.ToString());
        using var wrong = fixture.Server.CreateRestClient("admin", "wrong-password");
        Assert.Equal(HttpStatusCode.Unauthorized, (await wrong.GetAsync("/patients")).StatusCode);
    }

    [Fact]
    public async Task OpenApi_document_describes_the_routes()
    {
        var doc = await GetJsonAsync(Client, "/openapi/v1.json");
        var paths = doc["paths"]!.AsObject().Select(p => p.Key).ToList();
        Assert.Contains("/tools/find", paths);
        Assert.Contains("/instances", paths);
        // The browsable page is for browsers, so it is served over HTTPS only: the HTTP port sends them there.
        using var plain = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = Client.BaseAddress };
        plain.DefaultRequestHeaders.Authorization = Client.DefaultRequestHeaders.Authorization;
        var redirect = await plain.GetAsync("/api-docs/index.html");
        Assert.Equal(HttpStatusCode.TemporaryRedirect, redirect.StatusCode);
        Assert.Equal(Uri.UriSchemeHttps, redirect.Headers.Location!.Scheme);
        using var https = fixture.Server.CreateClient();
        https.DefaultRequestHeaders.Authorization = Client.DefaultRequestHeaders.Authorization;
        var page = await https.GetAsync("/api-docs/index.html");
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
    }
}
