using System.Net;
using System.Text.Json.Nodes;
using OrthancWeb.Tests.Compatibility;
using OrthancWeb.Tests.Server;

namespace OrthancWeb.Tests.Annotations;

/// <summary>Both servers with the same user metadata, user content types and CheckRevisions on.</summary>
public sealed class AnnotationDifferentialFixture : OrthancDifferentialFixture
{
    private const string Shared = """
        "CheckRevisions": true, "UserMetadata": { "Sample": 1024, "Other": 1025 },
        "UserContentType": { "sample": 1024, "Json": [ 1025, "application/json" ] }
        """;

    protected override (string Ours, string Orthanc) ExtraConfiguration => (Shared, Shared);
}

/// <summary>
/// Metadata and attachments against Debian's orthanc 1.10.1, status by status. Where they part: 1.10.1's SQLite index
/// keeps no revision (a write answers revision n+1, a read answers 0 again), so the answers are compared up to the
/// first replacement, and from there each server is driven with its own ETags.
/// </summary>
public sealed class AnnotationDifferentialTests(AnnotationDifferentialFixture fx) : IClassFixture<AnnotationDifferentialFixture>
{
    private const string CtInstance = "f689ddd2-662f8fe1-8b18180d-ec2a2cee-937917af";
    private const string CtSeries = "93034833-163e42c3-bc9a428b-194620cf-2c5799e5";
    private const string CtStudy = "8a8cf898-ca27c490-d0c7058c-929d0581-2bbf104d";
    private const string CtPatient = "fa558bce-587a86d3-ad0da9b3-9d043d9d-4f5c5718";

    private static string Md5(string text) => Convert.ToHexStringLower(System.Security.Cryptography.MD5.HashData(System.Text.Encoding.UTF8.GetBytes(text)));

    /// <summary>The same request to both; the statuses must agree; each server's ETag comes back with its answer.</summary>
    private async Task<(Reply Ours, Reply Orthanc)> BothAsync(HttpMethod method, string path, string? body = null, string? ifMatch = null, string? ifMatchOrthanc = null)
    {
        async Task<Reply> Send(HttpClient client, string? etag)
        {
            using var request = new HttpRequestMessage(method, new Uri(client.BaseAddress!.GetLeftPart(UriPartial.Authority) + path));
            if (body is not null) request.Content = new StringContent(body);
            if (etag is not null) request.Headers.TryAddWithoutValidation("If-Match", etag);
            using var response = await client.SendAsync(request);
            var text = await response.Content.ReadAsStringAsync();
            return new Reply((int)response.StatusCode, text, response.Headers.ETag?.ToString(), text.StartsWith('{') ? JsonNode.Parse(text)?["OrthancStatus"]?.GetValue<int>() : null);
        }
        var ours = await Send(fx.OursClient, ifMatch);
        var orthanc = await Send(fx.OrthancClient, ifMatchOrthanc ?? ifMatch);
        Assert.True(ours.Status == orthanc.Status, $"{method} {path}: orthanc {orthanc.Status} {orthanc.Body}, ours {ours.Status} {ours.Body}");
        Assert.True(ours.OrthancStatus == orthanc.OrthancStatus, $"{method} {path}: OrthancStatus orthanc {orthanc.OrthancStatus}, ours {ours.OrthancStatus}");
        return (ours, orthanc);
    }

    private sealed record Reply(int Status, string Body, string? ETag, int? OrthancStatus);

    /// <summary>Where each server's change log is now.</summary>
    private async Task<(long Ours, long Orthanc)> ChangeLogEndAsync() =>
        ((await Rest.GetJsonAsync(fx.OursClient, "/changes?last"))["Last"]!.GetValue<long>(),
         (await Rest.GetJsonAsync(fx.OrthancClient, "/changes?last"))["Last"]!.GetValue<long>());

    /// <summary>
    /// The Updated* changes each server logged since then must be the same, in the same order (orthanc's Stable*
    /// changes come at its own pace and are left out).
    /// </summary>
    private async Task AssertSameUpdatesSinceAsync((long Ours, long Orthanc) since)
    {
        async Task<List<string>> Updates(HttpClient client, long from) =>
            (await Rest.GetJsonAsync(client, $"/changes?since={from}&limit=1000"))["Changes"]!.AsArray()
                .Where(c => c!["ChangeType"]!.GetValue<string>().StartsWith("Updated", StringComparison.Ordinal))
                .Select(c => $"{c!["ChangeType"]} {c["ResourceType"]} {c["ID"]}").ToList();
        var orthanc = await Updates(fx.OrthancClient, since.Orthanc);
        Assert.NotEmpty(orthanc);
        Assert.Equal(orthanc, await Updates(fx.OursClient, since.Ours));
    }

    [Fact]
    public async Task System_metadata_of_each_level_are_orthancs()
    {
        foreach (var path in new[] { $"/instances/{CtInstance}", $"/series/{CtSeries}", $"/studies/{CtStudy}", $"/patients/{CtPatient}" })
        {
            var (ours, orthanc) = await BothAsync(HttpMethod.Get, path + "/metadata?expand");
            var left = JsonNode.Parse(orthanc.Body)!.AsObject();
            var right = JsonNode.Parse(ours.Body)!.AsObject();
            // Times and the HTTP user differ between two servers; user metadata are the other tests'.
            static bool Compared(string key) => key is not ("Sample" or "1030");
            Assert.Equal(left.Select(p => p.Key).Where(Compared).Order(), right.Select(p => p.Key).Where(Compared).Order());
            foreach (var (key, value) in left)
                if (key is not ("ReceptionDate" or "LastUpdate" or "HttpUsername") && right.ContainsKey(key))
                    Assert.Equal(value!.GetValue<string>(), right[key]!.GetValue<string>());
        }
        await BothAsync(HttpMethod.Get, $"/instances/{CtInstance}/metadata/Origin");
        await BothAsync(HttpMethod.Get, $"/instances/{CtInstance}/metadata/CalledAET"); // known, absent: a bare 404
        await BothAsync(HttpMethod.Get, $"/instances/{CtInstance}/metadata/NoSuchName");
        await BothAsync(HttpMethod.Get, "/instances/not-there/metadata");
    }

    [Fact]
    public async Task User_metadata_is_written_with_revisions_as_orthanc_writes_it()
    {
        var item = $"/studies/{CtStudy}/metadata/Sample";
        var changes = await ChangeLogEndAsync();
        var (ours, orthanc) = await BothAsync(HttpMethod.Put, item, "foo");
        Assert.Equal($"\"0-{Md5("foo")}\"", ours.ETag);
        Assert.Equal(orthanc.ETag, ours.ETag);
        (ours, orthanc) = await BothAsync(HttpMethod.Get, item);
        Assert.Equal(("foo", orthanc.ETag), (ours.Body, ours.ETag));
        await BothAsync(HttpMethod.Get, $"/studies/{CtStudy}/metadata/1024");

        await BothAsync(HttpMethod.Put, item, "bar");                                   // replacing needs If-Match: 409
        await BothAsync(HttpMethod.Put, item, "bar", ifMatch: "\"0\"");                 // not an ETag of Orthanc's form: 400
        await BothAsync(HttpMethod.Put, item, "bar", ifMatch: $"\"0-{Md5("other")}\""); // another version: 409
        (ours, orthanc) = await BothAsync(HttpMethod.Put, item, "bar", ifMatch: $"\"0-{Md5("foo")}\"");
        Assert.Equal($"\"1-{Md5("bar")}\"", orthanc.ETag);
        Assert.Equal(orthanc.ETag, ours.ETag);
        // From here orthanc 1.10.1 answers revision 0 again (its SQLite index keeps none); ours keeps revision 1.
        (ours, orthanc) = await BothAsync(HttpMethod.Get, item);
        Assert.Equal($"\"1-{Md5("bar")}\"", ours.ETag);
        var (oursEtag, orthancEtag) = (ours.ETag, orthanc.ETag);
        await BothAsync(HttpMethod.Put, item, "baz", ifMatch: $"\"7-{Md5("bar")}\"");

        await BothAsync(HttpMethod.Put, $"/studies/{CtStudy}/metadata/LastUpdate", "x");  // Orthanc's own: 403
        await BothAsync(HttpMethod.Put, $"/studies/{CtStudy}/metadata/5", "x");
        await BothAsync(HttpMethod.Put, $"/studies/{CtStudy}/metadata/65536", "x");
        await BothAsync(HttpMethod.Put, $"/studies/{CtStudy}/metadata/NoSuchName", "x");  // 404, inexistent item
        await BothAsync(HttpMethod.Put, $"/studies/{CtStudy}/metadata/1030", "v");        // an unnamed user index
        await BothAsync(HttpMethod.Put, "/studies/not-there/metadata/Sample", "x");

        (ours, orthanc) = await BothAsync(HttpMethod.Get, $"/studies/{CtStudy}/metadata?expand");
        Assert.Empty(JsonDifference.Between(JsonNode.Parse(orthanc.Body), JsonNode.Parse(ours.Body), new HashSet<string> { "LastUpdate" }));

        await BothAsync(HttpMethod.Delete, item);                                    // CheckRevisions: If-Match required
        await BothAsync(HttpMethod.Delete, $"/studies/{CtStudy}/metadata/Other");    // even for one that is not there
        await BothAsync(HttpMethod.Delete, item, ifMatch: oursEtag, ifMatchOrthanc: orthancEtag);
        await BothAsync(HttpMethod.Get, item);
        await BothAsync(HttpMethod.Delete, $"/studies/{CtStudy}/metadata/Origin", ifMatch: "\"0-x\"");
        // Each write and the deletion logged UpdatedMetadata; refused requests logged nothing.
        await AssertSameUpdatesSinceAsync(changes);
    }

    [Fact]
    public async Task Attachments_are_stored_compressed_verified_and_deleted_as_orthanc_does()
    {
        var root = $"/series/{CtSeries}/attachments";
        var changes = await ChangeLogEndAsync();
        await BothAsync(HttpMethod.Get, root);
        var (ours, orthanc) = await BothAsync(HttpMethod.Put, root + "/sample", "hello attachment");
        Assert.Equal($"\"0-{Md5("hello attachment")}\"", ours.ETag);
        Assert.Equal(orthanc.ETag, ours.ETag);
        await BothAsync(HttpMethod.Put, root + "/Json", """{"a":1}""");
        (ours, orthanc) = await BothAsync(HttpMethod.Get, root + "?full");
        Assert.Empty(JsonDifference.Between(JsonNode.Parse(orthanc.Body), JsonNode.Parse(ours.Body), new HashSet<string>()));
        (ours, orthanc) = await BothAsync(HttpMethod.Get, root + "/sample");
        Assert.Equal(JsonNode.Parse(orthanc.Body)!.ToJsonString(), JsonNode.Parse(ours.Body)!.ToJsonString());
        foreach (var field in new[] { "data", "md5", "size", "is-compressed", "compressed-md5", "compressed-size", "compressed-data" })
        {
            (ours, orthanc) = await BothAsync(HttpMethod.Get, $"{root}/sample/{field}");
            Assert.Equal(orthanc.Body, ours.Body);
            Assert.Equal(orthanc.ETag, ours.ETag);
        }
        (ours, orthanc) = await BothAsync(HttpMethod.Get, root + "/sample/info");
        Assert.Empty(JsonDifference.Between(JsonNode.Parse(orthanc.Body), JsonNode.Parse(ours.Body), new HashSet<string> { "Uuid" }));

        await BothAsync(HttpMethod.Post, root + "/sample/compress", "");
        foreach (var field in new[] { "data", "md5", "size", "is-compressed" })
        {
            (ours, orthanc) = await BothAsync(HttpMethod.Get, $"{root}/sample/{field}");
            Assert.Equal(orthanc.Body, ours.Body);
        }
        await BothAsync(HttpMethod.Post, root + "/sample/verify-md5", "");
        await BothAsync(HttpMethod.Post, root + "/sample/uncompress", "");
        (ours, _) = await BothAsync(HttpMethod.Get, root + "/sample/is-compressed");
        Assert.Equal("0", ours.Body);

        await BothAsync(HttpMethod.Put, root + "/sample", "again");                    // replacing needs If-Match
        await BothAsync(HttpMethod.Put, $"/instances/{CtInstance}/attachments/dicom", "x"); // Orthanc's own: 403
        await BothAsync(HttpMethod.Put, root + "/NoSuchName", "x");
        await BothAsync(HttpMethod.Get, root + "/1030");                               // a user index with nothing attached
        await BothAsync(HttpMethod.Get, root + "/sample/no-such-field");
        await BothAsync(HttpMethod.Delete, root + "/sample");
        (ours, orthanc) = await BothAsync(HttpMethod.Get, root + "/sample/md5");
        Assert.Equal($"\"2-{Md5("hello attachment")}\"", ours.ETag); // compressed, then uncompressed: two revisions
        await BothAsync(HttpMethod.Delete, root + "/sample", ifMatch: ours.ETag, ifMatchOrthanc: orthanc.ETag);
        await BothAsync(HttpMethod.Get, root + "/sample");
        (ours, orthanc) = await BothAsync(HttpMethod.Get, root);
        Assert.Equal(JsonNode.Parse(orthanc.Body)!.ToJsonString(), JsonNode.Parse(ours.Body)!.ToJsonString());
        // Stored, (un)compressed, deleted: UpdatedAttachment each time; compressing orthanc's own DICOM file logs nothing.
        await BothAsync(HttpMethod.Post, $"/instances/{CtInstance}/attachments/dicom/compress", "");
        await BothAsync(HttpMethod.Post, $"/instances/{CtInstance}/attachments/dicom/uncompress", "");
        await AssertSameUpdatesSinceAsync(changes);
    }

    [Theory]
    [InlineData("Study", "Full")]
    [InlineData("Study", "Short")]
    [InlineData("Series", "Full")]
    [InlineData("Patient", "Short")]
    public async Task Find_expands_tags_in_orthancs_full_and_short_forms(string level, string form)
    {
        var (ours, orthanc) = await BothAsync(HttpMethod.Post, "/tools/find", $$"""{"Level": "{{level}}", "Query": {}, "Expand": true, "{{form}}": true}""");
        var differences = JsonDifference.Between(JsonNode.Parse(orthanc.Body), JsonNode.Parse(ours.Body), new HashSet<string> { "LastUpdate", "IsStable" });
        Assert.True(differences.Count == 0, string.Join("\n", differences));
    }

    // ---- Ours alone: labels are Orthanc 1.12's (1.10.1 has none), tested as the Orthanc Book describes them ----

    private async Task<(HttpStatusCode Status, string Body)> OursAsync(HttpMethod method, string path, string? body = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (body is not null) request.Content = new StringContent(body);
        using var response = await fx.OursClient.SendAsync(request);
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    private async Task<List<string>> FindStudiesAsync(string labels, string constraint)
    {
        var (status, body) = await OursAsync(HttpMethod.Post, "/tools/find", $$"""{"Level": "Study", "Query": {}, "Labels": {{labels}}, "LabelsConstraint": "{{constraint}}"}""");
        Assert.Equal(HttpStatusCode.OK, status);
        return JsonNode.Parse(body)!.AsArray().Select(n => n!.GetValue<string>()).Order().ToList();
    }

    [Fact]
    public async Task Labels_are_set_found_and_go_with_their_resource()
    {
        var studies = JsonNode.Parse((await OursAsync(HttpMethod.Get, "/studies")).Body)!.AsArray().Select(n => n!.GetValue<string>()).ToList();
        var other = studies.First(s => s != CtStudy);
        Assert.Equal(HttpStatusCode.OK, (await OursAsync(HttpMethod.Put, $"/studies/{CtStudy}/labels/urgent")).Status);
        Assert.Equal(HttpStatusCode.OK, (await OursAsync(HttpMethod.Put, $"/studies/{CtStudy}/labels/urgent")).Status); // again: no change
        Assert.Equal(HttpStatusCode.OK, (await OursAsync(HttpMethod.Put, $"/studies/{other}/labels/to_review-2")).Status);
        foreach (var bad in new[] { "a.b", "with%20space", new string('x', 65) })
        {
            var (status, body) = await OursAsync(HttpMethod.Put, $"/studies/{CtStudy}/labels/{bad}");
            Assert.Equal((HttpStatusCode.BadRequest, 3), (status, JsonNode.Parse(body)!["OrthancStatus"]!.GetValue<int>()));
        }
        Assert.Equal(HttpStatusCode.NotFound, (await OursAsync(HttpMethod.Put, "/studies/not-there/labels/urgent")).Status);
        Assert.Equal("""["urgent"]""", JsonNode.Parse((await OursAsync(HttpMethod.Get, $"/studies/{CtStudy}/labels")).Body)!.ToJsonString());
        Assert.Equal("""["to_review-2","urgent"]""", JsonNode.Parse((await OursAsync(HttpMethod.Get, "/tools/labels")).Body)!.ToJsonString());

        Assert.Equal([CtStudy], await FindStudiesAsync("""["urgent"]""", "All"));
        Assert.Empty(await FindStudiesAsync("""["urgent", "to_review-2"]""", "All"));
        Assert.Equal(new[] { CtStudy, other }.Order().ToList(), await FindStudiesAsync("""["urgent", "to_review-2"]""", "Any"));
        Assert.Equal(studies.Except([CtStudy, other]).Order().ToList(), await FindStudiesAsync("""["urgent", "to_review-2"]""", "None"));
        Assert.Equal(HttpStatusCode.BadRequest, (await OursAsync(HttpMethod.Post, "/tools/find", """{"Level": "Study", "Query": {}, "Labels": ["a"], "LabelsConstraint": "Some"}""")).Status);
        Assert.Equal(HttpStatusCode.BadRequest, (await OursAsync(HttpMethod.Post, "/tools/find", """{"Level": "Study", "Query": {}, "Labels": ["a b"]}""")).Status);

        Assert.Equal(HttpStatusCode.OK, (await OursAsync(HttpMethod.Delete, $"/studies/{other}/labels/to_review-2")).Status);
        Assert.Equal("[]", JsonNode.Parse((await OursAsync(HttpMethod.Get, $"/studies/{other}/labels")).Body)!.ToJsonString());

        // A patient of its own, labelled and with an attachment on its series, then deleted: both go with it.
        var upload = await fx.OursClient.PostAsync("/instances", new ByteArrayContent(await File.ReadAllBytesAsync(Server.Rest.Sample("rtplan.dcm"))));
        var uploaded = JsonNode.Parse(await upload.Content.ReadAsStringAsync())!;
        var (study, series, patient) = (uploaded["ParentStudy"]!.GetValue<string>(), uploaded["ParentSeries"]!.GetValue<string>(), uploaded["ParentPatient"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.OK, (await OursAsync(HttpMethod.Put, $"/studies/{study}/labels/gone-soon")).Status);
        Assert.Equal(HttpStatusCode.OK, (await OursAsync(HttpMethod.Put, $"/series/{series}/attachments/sample", "0123456789")).Status);
        var info = JsonNode.Parse((await OursAsync(HttpMethod.Get, $"/series/{series}/attachments/sample/info")).Body)!;
        var uuid = info["Uuid"]!.GetValue<string>();
        Assert.Single(Directory.EnumerateFiles(fx.Ours.DataDirectory, uuid, SearchOption.AllDirectories));

        // HTTP Range on the data (RFC 9110 14.2), which 1.10.1 ignores.
        using (var ranged = new HttpRequestMessage(HttpMethod.Get, $"/series/{series}/attachments/sample/data"))
        {
            ranged.Headers.Range = new System.Net.Http.Headers.RangeHeaderValue(2, 4);
            using var response = await fx.OursClient.SendAsync(ranged);
            Assert.Equal((HttpStatusCode.PartialContent, "234"), (response.StatusCode, await response.Content.ReadAsStringAsync()));
        }

        Assert.Equal(HttpStatusCode.OK, (await OursAsync(HttpMethod.Delete, $"/patients/{patient}")).Status);
        Assert.DoesNotContain("gone-soon", (await OursAsync(HttpMethod.Get, "/tools/labels")).Body, StringComparison.Ordinal);
        Assert.Empty(Directory.EnumerateFiles(fx.Ours.DataDirectory, uuid, SearchOption.AllDirectories));

        // Every write is in the audit trail, as a modification of the resource (the trail is written behind the answer).
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (true)
        {
            var trail = JsonNode.Parse((await OursAsync(HttpMethod.Get, "/audit?action=Modify&limit=1000")).Body)!.AsArray();
            var details = trail.Select(e => $"{e!["ResourceID"]}: {e["Details"]}").ToList();
            if (details.Contains($"{CtStudy}: label urgent added") && details.Contains($"{series}: attachment sample attached (revision 0)")) break;
            Assert.True(DateTime.UtcNow < deadline, "audit trail: " + string.Join("\n", details));
            await Task.Delay(100);
        }
    }
}
