using System.Globalization;
using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using OrthancWeb.Tests.Infrastructure;
using OrthancWeb.Tests.Server;

namespace OrthancWeb.Tests.Compatibility;

/// <summary>
/// The routes and behaviours issue 19 lists that no other class compares with orthanc 1.10.1: resource statistics,
/// /tools/find's paging, matching and refusals, /tools/lookup, the conformance statement, the clocks, generate-uid,
/// the system metadata of modified and anonymized copies (and dciodvfy on both servers' anonymized files), error
/// bodies, and HTTP ranges on attachment data. Each test leaves both servers as the fixture loaded them.
/// </summary>
public sealed class RouteCoverageFixture : OrthancDifferentialFixture
{
    /// <summary>Two private tags the site declares (Orthanc's "Dictionary" option), the same for both servers.</summary>
    private const string Dictionary = """
        "Dictionary": { "0033,1001": ["DS", "OwFidelity", 1, 1, "OW_TEST_01"], "0033,1002": ["US", "OwCount", 1, 1, "OW_TEST_01"] }
        """;

    protected override (string Ours, string Orthanc) ExtraConfiguration => (Dictionary, Dictionary);
}

/// <inheritdoc cref="RouteCoverageFixture"/>
public sealed class RouteCoverageTests(RouteCoverageFixture fx) : IClassFixture<RouteCoverageFixture>
{
    private const string CtInstance = "f689ddd2-662f8fe1-8b18180d-ec2a2cee-937917af";
    private const string CtSeries = "93034833-163e42c3-bc9a428b-194620cf-2c5799e5";
    private const string CtStudy = "8a8cf898-ca27c490-d0c7058c-929d0581-2bbf104d";
    private const string CtPatient = "fa558bce-587a86d3-ad0da9b3-9d043d9d-4f5c5718";

    /// <summary>
    /// Same status; for a JSON error the same fields but Orthanc's generic "Message" and its "Details" (ours say the
    /// reason, the project's choice for every error); for a JSON answer every field of orthanc's with its value.
    /// </summary>
    private async Task<(Answer Ours, Answer Orthanc)> AssertSameAsync(HttpMethod method, string path, string? body = null, params string[] ignored)
    {
        var (ours, orthanc) = await fx.SendBothAsync(method, path, body);
        var what = $"{method} {path} {body}";
        Assert.True(orthanc.Status == ours.Status, $"{what}: orthanc {orthanc.Status} {orthanc.Body}, ours {ours.Status} {ours.Body}");
        if (orthanc.Status / 100 != 2)
        {
            if (orthanc.Body.Length > 0)
            {
                var differences = JsonDifference.Between(orthanc.Json, ours.Json, new HashSet<string> { "Message", "Details" });
                Assert.True(differences.Count == 0, $"{what}:\n{string.Join("\n", differences)}\nours: {ours.Body}");
            }
        }
        else if (orthanc.Body.TrimStart().StartsWith('[') || orthanc.Body.TrimStart().StartsWith('{'))
        {
            var differences = JsonDifference.Between(orthanc.Json, ours.Json, ignored.ToHashSet());
            Assert.True(differences.Count == 0, $"{what}:\n{string.Join("\n", differences.Take(20))}");
        }
        else Assert.Equal(orthanc.Body.Trim(), ours.Body.Trim());
        return (ours, orthanc);
    }

    [Fact]
    public async Task Statistics_of_the_server_and_of_each_resource_are_orthancs()
    {
        await AssertSameAsync(HttpMethod.Get, "/statistics");
        foreach (var level in new[] { "patients", "studies", "series", "instances" })
            foreach (var id in Rest.Ids(await Rest.GetJsonAsync(fx.OrthancClient, "/" + level)))
            {
                var (ours, _) = await AssertSameAsync(HttpMethod.Get, $"/{level}/{id}/statistics");
                if (level != "instances") Assert.NotNull(ours.Json!["DicomUncompressedSize"]);
            }
        await AssertSameAsync(HttpMethod.Get, "/studies/not-a-study/statistics");

        // A user attachment on a series counts in DiskSize up the tree, not in the Dicom* sizes.
        var item = $"/series/{CtSeries}/attachments/1030";
        try
        {
            await AssertSameAsync(HttpMethod.Put, item, "0123456789");
            foreach (var path in new[] { $"/series/{CtSeries}", $"/studies/{CtStudy}", $"/patients/{CtPatient}", $"/instances/{CtInstance}" })
                await AssertSameAsync(HttpMethod.Get, path + "/statistics");
        }
        finally
        {
            await fx.SendBothAsync(HttpMethod.Delete, item);
        }
    }

    /// <summary>Bodies orthanc 1.10.1 answers with a list (compared in order where paging picks from it), or refuses.</summary>
    public static TheoryData<string> FindBodies => new()
    {
        """{"Level": "Instance", "Query": {}}""",
        """{"Level": "Instance", "Query": {}, "Since": 1, "Limit": 1}""",
        """{"Level": "Instance", "Query": {}, "Since": 5}""",
        """{"Level": "Instance", "Query": {}, "Limit": 0}""",
        """{"Level": "Patient", "Query": {"PatientName": "compressed*"}}""",
        """{"Level": "Patient", "Query": {"PatientName": "compressed*"}, "CaseSensitive": false}""",
        """{"Level": "Study", "Query": {"StudyDescription": "e*"}, "CaseSensitive": true}""",
        """{"Level": "Study", "Query": {"StudyDescription": "e*"}, "CaseSensitive": false}""",
        """{"Level": "Study", "Query": {"PatientName": "*^CT?"}}""",
        """{"Level": "Study", "Query": {"StudyDate": "20040101-"}}""",
        """{"Level": "Study", "Query": {"StudyDate": "-20040101"}}""",
        """{"Level": "Study", "Query": {"StudyDate": "garbage"}}""",
        """{"Level": "Study", "Query": {"ModalitiesInStudy": "MR\\CT"}}""",
        """{"Level": "Study", "Query": {"PatientID": ""}}""",
        """{"Level": "Series", "Query": {"0008,0060": "mr"}}""",
        """{"Level": "Series", "Query": {"Modality": "mr"}}""",
        """{"Level": "Instance", "Query": {"SOPInstanceUID": "1.3.6.1.4.1.5962.1.1.1.1.1.20040119072730.12322"}}""",
        """{"Level": "Study", "Query": {}, "Expand": true}""",
        // Orthanc 1.12.5's OrderBy: 1.10.1 ignores it (the same set comes back). Its ResponseContent changes the answer's
        // shape, which 1.10.1 does not: tested on ours by behaviour (Response_content_answers_only_the_parts_asked_for).
        """{"Level": "Study", "Query": {}, "OrderBy": [{"Type": "DicomTag", "Key": "StudyDate", "Direction": "ASC"}]}""",
        // Refused: negative paging.
        """{"Level": "Study", "Query": {}, "Since": -1}""",
        """{"Level": "Study", "Query": {}, "Limit": -1}""",
    };

    [Theory]
    [MemberData(nameof(FindBodies))]
    public async Task Find_matches_pages_and_refuses_as_orthanc_does(string body)
    {
        var (ours, orthanc) = await AssertSameAsync(HttpMethod.Post, "/tools/find", body, "LastUpdate", "IsStable");
        // Paging is the point of Since and Limit: the same page, not only the same set.
        if (body.Contains("Since", StringComparison.Ordinal) && orthanc.Status == 200)
            Assert.Equal(orthanc.Json!.ToJsonString(), ours.Json!.ToJsonString());
    }

    [Fact]
    public async Task Find_differs_from_orthanc_only_where_documented()
    {
        // A body our JSON reader refuses (not an object, a field missing or of the wrong type, an unknown Level): 400
        // on both, "Bad file format" (15) here as for every unreadable body, orthanc's find says 8 (or 3 for the level).
        foreach (var (body, code) in new[] { ("{", 8), ("""{"Query": {}}""", 8), ("""{"Level": "Study"}""", 8), ("""{"Level": "Study", "Query": {}, "Limit": "x"}""", 8), ("""{"Level": "Galaxy", "Query": {}}""", 3) })
        {
            var (ours, orthanc) = await fx.SendBothAsync(HttpMethod.Post, "/tools/find", body);
            Assert.Equal((400, 400), (ours.Status, orthanc.Status));
            Assert.Equal((15, code), (ours.Json!["OrthancStatus"]!.GetValue<int>(), orthanc.Json!["OrthancStatus"]!.GetValue<int>()));
        }
        // A lone "*" is PS3.4 C.2.2.2.4's universal match here (every series); orthanc 1.10.1 keeps only the resources
        // whose main tags hold the attribute (none of these series has a description).
        var (all, none) = await fx.SendBothAsync(HttpMethod.Post, "/tools/find", """{"Level": "Series", "Query": {"SeriesDescription": "*"}}""");
        Assert.Equal((3, 0), (all.Json!.AsArray().Count, none.Json!.AsArray().Count));
    }

    [Fact]
    public async Task Order_by_tags_and_metadata_sorts_before_paging()
    {
        // Orthanc 1.12.5's OrderBy (1.10.1 ignores it): checked against the values each answer shows.
        async Task<List<string>> Find(string orderBy, string paging = "") => [.. Rest.Ids(await Rest.PostJsonAsync(fx.OursClient, "/tools/find",
            JsonNode.Parse($$"""{"Level": "Study", "Query": {}, "OrderBy": {{orderBy}} {{paging}} }""")!))];
        var studies = new Dictionary<string, (string Date, string Name, string Id)>();
        foreach (var id in await Find("[]"))
        {
            var study = await Rest.GetJsonAsync(fx.OursClient, "/studies/" + id);
            studies[id] = ((string?)study["MainDicomTags"]?["StudyDate"] ?? "\uffff", (string?)study["PatientMainDicomTags"]?["PatientName"] ?? "\uffff", id);
        }
        Assert.True(studies.Count >= 3, $"only {studies.Count} studies");
        // By a tag of the study (newest first), then by the patient's name (a tag of the parent), each with ties in ID order.
        var byDate = await Find("""[{"Type": "DicomTag", "Key": "StudyDate", "Direction": "DESC"}]""");
        Assert.Equal(byDate.Count, studies.Count);
        for (var i = 1; i < byDate.Count; i++)
        {
            var (before, after) = (studies[byDate[i - 1]].Date, studies[byDate[i]].Date);
            Assert.True(after == "\uffff" || string.CompareOrdinal(before, after) >= 0, $"{before} then {after}");
        }
        var byName = await Find("""[{"Type": "DicomTag", "Key": "0010,0010", "Direction": "ASC"}, {"Type": "DicomTag", "Key": "StudyDate", "Direction": "ASC"}]""");
        var names = byName.Select(id => studies[id].Name).ToList();
        Assert.Equal(names.Order(StringComparer.Ordinal), names);
        // Since and Limit page through the ordered answers.
        Assert.Equal(byName.Skip(1).Take(1), await Find("""[{"Type": "DicomTag", "Key": "PatientName", "Direction": "ASC"}, {"Type": "DicomTag", "Key": "StudyDate", "Direction": "ASC"}]""", """, "Since": 1, "Limit": 1"""));
        // A metadata: LastUpdate, by arrival.
        Assert.Equal(studies.Count, (await Find("""[{"Type": "Metadata", "Key": "LastUpdate", "Direction": "DESC"}]""")).Count);
        // Refused with the reason: an unknown type or direction, a tag of a lower level, a tag outside the index.
        foreach (var bad in new[] { """[{"Type": "Tag", "Key": "StudyDate"}]""", """[{"Type": "DicomTag", "Key": "StudyDate", "Direction": "UP"}]""",
                     """[{"Type": "DicomTag", "Key": "Modality"}]""", """[{"Type": "DicomTag", "Key": "PixelSpacing"}]""" })
        {
            using var refused = await fx.OursClient.PostAsync("/tools/find", new StringContent($$"""{"Level": "Study", "Query": {}, "OrderBy": {{bad}} }"""));
            Assert.Equal(System.Net.HttpStatusCode.BadRequest, refused.StatusCode);
        }
    }

    [Fact]
    public async Task Response_content_answers_only_the_parts_asked_for()
    {
        // Orthanc 1.12.5's ResponseContent (1.10.1 ignores it): checked on ours against the resource routes.
        async Task<Dictionary<string, JsonObject>> Find(string level, string content, string extra = "") =>
            (await Rest.PostJsonAsync(fx.OursClient, "/tools/find", JsonNode.Parse(
                $$"""{"Level": "{{level}}", "Query": {}, "ResponseContent": {{content}} {{extra}} }""")!)).AsArray()
            .Select(n => n!.AsObject()).ToDictionary(o => o["ID"]!.GetValue<string>());
        static string[] Keys(JsonObject o) => [.. o.Select(p => p.Key).Order(StringComparer.Ordinal)];

        // Main tags and children, nothing else: each as GET /series/{id} has them.
        var series = await Find("Series", """["MainDicomTags", "Children"]""");
        Assert.Contains(CtSeries, series.Keys);
        foreach (var (id, answer) in series)
        {
            Assert.Equal(new[] { "ID", "Instances", "MainDicomTags", "Type" }, Keys(answer));
            var full = await Rest.GetJsonAsync(fx.OursClient, "/series/" + id);
            Assert.Equal(full["MainDicomTags"]!.ToJsonString(), answer["MainDicomTags"]!.ToJsonString());
            Assert.Equal(full["Instances"]!.ToJsonString(), answer["Instances"]!.ToJsonString());
        }
        // A study's main tags come with its patient's, as in the expanded answer.
        Assert.Equal(new[] { "ID", "MainDicomTags", "PatientMainDicomTags", "Type" }, Keys((await Find("Study", """["MainDicomTags"]"""))[CtStudy]));
        // The parent: the series' study.
        var parent = (await Find("Series", """["Parent"]"""))[CtSeries];
        Assert.Equal(new[] { "ID", "ParentStudy", "Type" }, Keys(parent));
        Assert.Equal(CtStudy, parent["ParentStudy"]!.GetValue<string>());

        // Labels and a user attachment, put on the CT study and series for the time of the test.
        var label = $"/studies/{CtStudy}/labels/rc_label";
        var attachment = $"/series/{CtSeries}/attachments/1031";
        try
        {
            (await fx.OursClient.PutAsync(label, new StringContent(""))).EnsureSuccessStatusCode();
            (await fx.OursClient.PutAsync(attachment, new StringContent("0123456789"))).EnsureSuccessStatusCode();
            var labelled = await Find("Study", """["Labels"]""");
            Assert.Equal("""["rc_label"]""", labelled[CtStudy]["Labels"]!.ToJsonString());
            Assert.All(labelled.Where(p => p.Key != CtStudy), p => Assert.Empty(p.Value["Labels"]!.AsArray()));
            var attached = (await Find("Series", """["Attachments"]"""))[CtSeries];
            Assert.Equal(new[] { "Attachments", "ID", "Type" }, Keys(attached));
            var info = await Rest.GetJsonAsync(fx.OursClient, attachment + "/info");
            Assert.Equal($"[{info.ToJsonString()}]", attached["Attachments"]!.ToJsonString());
            Assert.Equal(10, info["UncompressedSize"]!.GetValue<long>());
        }
        finally
        {
            await fx.OursClient.DeleteAsync(label);
            await fx.OursClient.DeleteAsync(attachment);
        }

        // RequestedTags still come with the parts (Orthanc's ResourceFinder adds them to every expanded answer); an
        // empty list answers the IDs alone.
        var withTags = (await Find("Series", """["IsStable"]""", """, "RequestedTags": ["StudyInstanceUID"]"""))[CtSeries];
        Assert.Equal(new[] { "ID", "IsStable", "RequestedTags", "Type" }, Keys(withTags));
        Assert.False(string.IsNullOrEmpty((string?)withTags["RequestedTags"]!["StudyInstanceUID"]));
        var ids = await Rest.PostJsonAsync(fx.OursClient, "/tools/find", JsonNode.Parse("""{"Level": "Series", "Query": {}, "ResponseContent": []}""")!);
        Assert.Equal(series.Keys.Order(StringComparer.Ordinal), Rest.Ids(ids).Order(StringComparer.Ordinal));

        // An unknown part (names are case-sensitive, as Orthanc's) is a 400 that names it, in Orthanc's error shape.
        foreach (var bad in new[] { "Tags", "mainDicomTags" })
        {
            using var refused = await fx.OursClient.PostAsync("/tools/find",
                new StringContent($$"""{"Level": "Study", "Query": {}, "ResponseContent": ["MainDicomTags", "{{bad}}"]}"""));
            Assert.Equal(System.Net.HttpStatusCode.BadRequest, refused.StatusCode);
            var error = JsonNode.Parse(await refused.Content.ReadAsStringAsync())!;
            Assert.Equal(3, error["OrthancStatus"]!.GetValue<int>());
            Assert.Contains($"\"ResponseContent\": {bad}", error["Message"]!.GetValue<string>(), StringComparison.Ordinal);
        }

        // Without ResponseContent, Expand answers as before: each study as GET /studies/{id} shows it.
        var expanded = await Rest.PostJsonAsync(fx.OursClient, "/tools/find", JsonNode.Parse("""{"Level": "Study", "Query": {}, "Expand": true}""")!);
        foreach (var study in expanded.AsArray())
        {
            var single = await Rest.GetJsonAsync(fx.OursClient, "/studies/" + study!["ID"]!.GetValue<string>());
            var differences = JsonDifference.Between(single, study, new HashSet<string> { "IsStable" });
            Assert.True(differences.Count == 0, string.Join("\n", differences));
            Assert.Equal(Keys(single.AsObject()), Keys(study.AsObject()));
        }
    }

    [Fact]
    public async Task System_names_the_libraries_it_runs_on_with_their_versions()
    {
        // Orthanc 1.13's ThirdPartyVersions: the versions read at run time, so the test process (same runtime, same
        // Microsoft.Data.Sqlite and native SQLite) sees the same ones.
        var versions = (await Rest.GetJsonAsync(fx.OursClient, "/system"))["ThirdPartyVersions"]!.AsObject();
        Assert.Equal(Environment.Version.ToString(), versions["dotnet"]!.GetValue<string>());
        using var sqlite = new Microsoft.Data.Sqlite.SqliteConnection("Data Source=:memory:");
        sqlite.Open();
        Assert.Equal(sqlite.ServerVersion, versions["sqlite"]!.GetValue<string>());
        Assert.StartsWith("5.4.", versions["lua"]!.GetValue<string>(), StringComparison.Ordinal);
        foreach (var library in new[] { "aspnetcore", "efcore", "npgsql", "mudblazor", "keralua", "orthancweb-dicom", "openssl" })
            Assert.Matches(@"^\d+\.\d+", versions[library]?.GetValue<string>() ?? $"{library} missing");
        // The codecs Debian's libcharls2 and libopenjp2-7 give us, when installed (CI installs both).
        if (OrthancWeb.Dicom.Imaging.JpegLsCodec.IsAvailable) Assert.Matches(@"^2\.", versions["charls"]!.GetValue<string>());
        if (OrthancWeb.Dicom.Imaging.Jpeg2000Codec.IsAvailable) Assert.Matches(@"^2\.", versions["openjpeg"]!.GetValue<string>());
    }

    [Fact]
    public async Task Lookup_finds_each_identifier_as_orthanc_does()
    {
        foreach (var identifier in new[]
                 {
                     "1CT1", "  1.3.6.1.4.1.5962.1.2.1.20040119072730.12322 ", "1.3.6.1.4.1.5962.1.3.1.1.20040119072730.12322",
                     "1.3.6.1.4.1.5962.1.1.1.1.1.20040119072730.12322", "nothing", "",
                 })
            await AssertSameAsync(HttpMethod.Post, "/tools/lookup", identifier);
    }

    [Fact]
    public async Task Conformance_clocks_and_new_uids_answer_as_orthanc()
    {
        foreach (var client in new[] { fx.OursClient, fx.OrthancClient })
        {
            using var response = await client.GetAsync("/tools/dicom-conformance");
            Assert.True(response.IsSuccessStatusCode);
            Assert.Equal("text/plain", response.Content.Headers.ContentType?.MediaType);
            Assert.Contains("DICOM Conformance Statement of Orthanc", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        // Both clocks in orthanc's format, a few seconds apart at most, with the same local offset.
        static DateTime Parse(string text) => DateTime.ParseExact(text.Trim(), "yyyyMMdd'T'HHmmss", CultureInfo.InvariantCulture);
        var (oursNow, orthancNow) = await AssertSameStatusAsync("/tools/now");
        var (oursLocal, orthancLocal) = await AssertSameStatusAsync("/tools/now-local");
        Assert.InRange((Parse(oursNow) - Parse(orthancNow)).Duration(), TimeSpan.Zero, TimeSpan.FromSeconds(30));
        Assert.InRange(((Parse(oursLocal) - Parse(oursNow)) - (Parse(orthancLocal) - Parse(orthancNow))).Duration(), TimeSpan.Zero, TimeSpan.FromSeconds(30));

        foreach (var level in new[] { "patient", "study", "series", "instance" })
        {
            var (ours, orthanc) = await AssertSameStatusAsync($"/tools/generate-uid?level={level}");
            // A patient has no UID: both give a UUID for it.
            var pattern = level == "patient" ? "^[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}$" : @"^[0-9]+(\.[0-9]+)+$";
            Assert.All(new[] { ours, orthanc }, uid => Assert.Matches(pattern, uid));
            Assert.InRange(ours.Length, 10, 64); // PS3.5 9.1
        }
        // A documented difference: a missing or unknown level is the request's fault, 400 here (orthanc: 404).
        foreach (var path in new[] { "/tools/generate-uid?level=galaxy", "/tools/generate-uid" })
        {
            var (ours, orthanc) = await fx.SendBothAsync(HttpMethod.Get, path);
            Assert.Equal((400, 404), (ours.Status, orthanc.Status));
        }
    }

    private async Task<(string Ours, string Orthanc)> AssertSameStatusAsync(string path)
    {
        var (ours, orthanc) = await fx.SendBothAsync(HttpMethod.Get, path);
        Assert.Equal((200, 200), (ours.Status, orthanc.Status));
        return (ours.Body, orthanc.Body);
    }

    /// <summary>dciodvfy's errors on a file, without the values and indices that name the file's own content.</summary>
    private static HashSet<string> DciodvfyErrors(string path)
    {
        var r = Peers.Run("dciodvfy", path);
        return (r.Stdout + r.Stderr).Split('\n').Where(l => l.StartsWith("Error", StringComparison.Ordinal))
            .Select(l => System.Text.RegularExpressions.Regex.Replace(l, @"\s+=\s+<[^>]*>|\[\d+\]", "").Trim()).ToHashSet();
    }

    /// <summary>
    /// A copy's metadata: the same names as orthanc's copy, the same values but for times and the HTTP user. A documented
    /// difference: orthanc's copies carry the RemoteIP of the request that made them, ours none (the copy is made by
    /// the modification service, which does not know the HTTP connection).
    /// </summary>
    private async Task AssertSameMetadataAsync(string oursPath, string orthancPath)
    {
        var ours = (await Rest.GetJsonAsync(fx.OursClient, oursPath + "/metadata?expand")).AsObject();
        var orthanc = (await Rest.GetJsonAsync(fx.OrthancClient, orthancPath + "/metadata?expand")).AsObject();
        Assert.Equal(orthanc.Select(p => p.Key).Where(k => k != "RemoteIP").Order(), ours.Select(p => p.Key).Order());
        foreach (var (key, value) in orthanc)
            if (key is not ("ReceptionDate" or "LastUpdate" or "HttpUsername" or "RemoteIP" or "PixelDataOffset"))
                Assert.True(value!.GetValue<string>() == ours[key]!.GetValue<string>(), $"{oursPath} {key}: orthanc {value}, ours {ours[key]}");
    }

    [Fact]
    public async Task Modified_and_anonymized_copies_carry_orthancs_metadata_and_anonymized_files_stay_valid()
    {
        var mrStudy = Rest.Ids(await Rest.PostJsonAsync(fx.OrthancClient, "/tools/find", new { Level = "Study", Query = new { ModalitiesInStudy = "MR" } })).Single();
        var created = new List<(HttpClient Client, string Path)>();
        var folder = Directory.CreateTempSubdirectory("ow-route-coverage-").FullName;
        try
        {
            // Modify a series: the copy is a new series of the same study; ModifiedFrom names the originals.
            const string modify = """{"Replace": {"SeriesDescription": "modified"}}""";
            var (ours, orthanc) = await fx.SendBothAsync(HttpMethod.Post, $"/series/{CtSeries}/modify", modify);
            created.Add((fx.OursClient, ours.Json!["Path"]!.GetValue<string>()));
            created.Add((fx.OrthancClient, orthanc.Json!["Path"]!.GetValue<string>()));
            Assert.Empty(JsonDifference.Between(orthanc.Json, ours.Json, new HashSet<string> { "ID", "Path" }));
            await AssertSameMetadataAsync(ours.Json!["Path"]!.GetValue<string>(), orthanc.Json!["Path"]!.GetValue<string>());
            var oursInstance = (await Rest.GetJsonAsync(fx.OursClient, ours.Json!["Path"] + "/instances")).AsArray()[0]!["ID"]!.GetValue<string>();
            var orthancInstance = (await Rest.GetJsonAsync(fx.OrthancClient, orthanc.Json!["Path"] + "/instances")).AsArray()[0]!["ID"]!.GetValue<string>();
            await AssertSameMetadataAsync($"/instances/{oursInstance}", $"/instances/{orthancInstance}");
            Assert.Equal(CtInstance, await fx.OursClient.GetStringAsync($"/instances/{oursInstance}/metadata/ModifiedFrom"));

            // Anonymize a study: a new patient, study, series and instance, each saying AnonymizedFrom.
            (ours, orthanc) = await fx.SendBothAsync(HttpMethod.Post, $"/studies/{mrStudy}/anonymize", "{}");
            var (oursStudy, orthancStudy) = (ours.Json!["Path"]!.GetValue<string>(), orthanc.Json!["Path"]!.GetValue<string>());
            created.Add((fx.OursClient, "/patients/" + (await Rest.GetJsonAsync(fx.OursClient, oursStudy))["ParentPatient"]));
            created.Add((fx.OrthancClient, "/patients/" + (await Rest.GetJsonAsync(fx.OrthancClient, orthancStudy))["ParentPatient"]));
            Assert.Empty(JsonDifference.Between(orthanc.Json, ours.Json, new HashSet<string> { "ID", "Path", "PatientID" }));
            await AssertSameMetadataAsync(oursStudy, orthancStudy);
            await AssertSameMetadataAsync(created[2].Path, created[3].Path);
            var files = new List<string>();
            foreach (var (client, study, name) in new[] { (fx.OursClient, oursStudy, "ours"), (fx.OrthancClient, orthancStudy, "orthanc") })
            {
                var instance = (await Rest.GetJsonAsync(client, study + "/instances")).AsArray()[0]!["ID"]!.GetValue<string>();
                files.Add(Path.Combine(folder, name + ".dcm"));
                await File.WriteAllBytesAsync(files[^1], await client.GetByteArrayAsync($"/instances/{instance}/file"));
                Assert.Equal(mrStudy, await client.GetStringAsync($"{study}/metadata/AnonymizedFrom"));
            }
            // PS3.15's actions applied alike: dciodvfy finds nothing in ours it does not find in orthanc's.
            Assert.Empty(DciodvfyErrors(files[0]).Except(DciodvfyErrors(files[1])));
        }
        finally
        {
            foreach (var (client, path) in created) await client.DeleteAsync(path);
            Directory.Delete(folder, true);
        }
    }

    /// <summary>Faults a script makes, each answered with orthanc's status and error fields.</summary>
    public static TheoryData<string, string, string?> Faults => new()
    {
        { "POST", "/instances", "not a DICOM file" },
        { "GET", "/instances/not-an-instance", null },
        { "GET", $"/instances/{CtInstance}/frames/9/preview", null },
        { "GET", $"/instances/{CtInstance}/content/9999-9999", null },
        { "PUT", $"/patients/{CtPatient}/protected", "maybe" },
        { "POST", $"/studies/{CtStudy}/anonymize", "not json" },
        { "POST", $"/studies/{CtStudy}/modify", """{"Replace": {"StudyInstanceUID": "1.2.3"}}""" },
        { "PUT", "/tools/log-level", "loud" },
        { "POST", "/tools/lookup", null },
    };

    [Theory]
    [MemberData(nameof(Faults))]
    public async Task Errors_have_orthancs_status_and_fields(string method, string path, string? body) =>
        await AssertSameAsync(new HttpMethod(method), path, body);

    [Fact]
    public async Task Declared_private_tags_are_named_and_give_implicit_vr_files_their_vr()
    {
        // An implicit VR file: without the declaration neither server knows the two elements' VR or name.
        var path = Path.Combine(Path.GetTempPath(), $"ow-dictionary-{Guid.NewGuid():N}.dcm");
        var made = Peers.Run(Peers.DebianPython, "-c", $$"""
            import pydicom, pydicom.data, warnings
            from pydicom.uid import ImplicitVRLittleEndian
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(pydicom.data.get_testdata_file("CT_small.dcm"))
            ds.PatientID = "DICTIONARY-1"; ds.SOPInstanceUID = "1.2.826.0.1.3680043.8.498.961"
            ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID; ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
            block = ds.private_block(0x0033, "OW_TEST_01", create=True)
            block.add_new(0x01, "DS", "1.5"); block.add_new(0x02, "US", 7)
            ds.is_implicit_VR, ds.is_little_endian = True, True
            ds.save_as("{{path}}")
            """);
        Assert.True(made.ExitCode == 0, made.Stderr);
        var ids = new List<string>();
        try
        {
            var bytes = await File.ReadAllBytesAsync(path);
            foreach (var client in new[] { fx.OursClient, fx.OrthancClient })
                ids.Add(JsonNode.Parse(await (await client.PostAsync("/instances", new ByteArrayContent(bytes))).Content.ReadAsStringAsync())!["ID"]!.GetValue<string>());
            Assert.Equal(ids[1], ids[0]);
            foreach (var shape in new[] { "tags", "tags?simplify", "tags?short" })
            {
                var (_, orthanc) = await AssertSameAsync(HttpMethod.Get, $"/instances/{ids[0]}/{shape}");
                Assert.Contains(shape == "tags?simplify" ? "\"OwCount\"" : "\"0033,1002\"", orthanc.Body, StringComparison.Ordinal);
            }
            var full = (await Rest.GetJsonAsync(fx.OursClient, $"/instances/{ids[0]}/tags"))["0033,1002"]!;
            Assert.Equal(("OwCount", "7"), (full["Name"]!.GetValue<string>(), full["Value"]!.GetValue<string>()));
        }
        finally
        {
            foreach (var (client, id) in new[] { fx.OursClient, fx.OrthancClient }.Zip(ids)) await client.DeleteAsync($"/instances/{id}");
            File.Delete(path);
        }
    }

    [Fact]
    public async Task Attachment_data_honours_a_range_that_orthanc_1_10_ignores()
    {
        // The DICOM file's attachment: the whole file on both (200), a range asked or not.
        // A user attachment: RFC 9110 14.2 lets a server ignore Range, which 1.10.1 does (200, all ten bytes); we
        // answer 206 with the bytes asked for (a documented difference, Orthanc 1.12's behaviour).
        var answers = new List<(int Status, string Body)>();
        var item = $"/series/{CtSeries}/attachments/1030";
        try
        {
            foreach (var client in new[] { fx.OursClient, fx.OrthancClient })
            {
                (await client.PutAsync(item, new StringContent("0123456789"))).EnsureSuccessStatusCode();
                foreach (var path in new[] { $"/instances/{CtInstance}/attachments/dicom/data", item + "/data" })
                {
                    using var request = new HttpRequestMessage(HttpMethod.Get, path);
                    request.Headers.Range = new RangeHeaderValue(2, 4);
                    using var response = await client.SendAsync(request);
                    var body = await response.Content.ReadAsByteArrayAsync();
                    answers.Add(((int)response.StatusCode, path.EndsWith("dicom/data", StringComparison.Ordinal) ? body.Length.ToString(CultureInfo.InvariantCulture) : System.Text.Encoding.ASCII.GetString(body)));
                }
            }
        }
        finally
        {
            await fx.SendBothAsync(HttpMethod.Delete, item);
        }
        var size = new FileInfo(Rest.Sample("CT_small.dcm")).Length.ToString(CultureInfo.InvariantCulture);
        Assert.Equal([(200, size), (206, "234"), (200, size), (200, "0123456789")], answers);
    }
}
