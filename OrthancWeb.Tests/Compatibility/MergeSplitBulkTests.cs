using System.Diagnostics;
using System.Text.Json.Nodes;
using OrthancWeb.Dicom.Data;
using OrthancWeb.Dicom.IO;
using OrthancWeb.Index;
using OrthancWeb.Tests.Infrastructure;

namespace OrthancWeb.Tests.Compatibility;

/// <summary>
/// Both servers loaded with the same generated studies (so with the same public IDs): one to merge into and one to
/// merge from, of two patients whose patient and study attributes differ; one to split; one for bulk modification and
/// anonymization; one for bulk-content and bulk-delete. Each test uses its own studies, in any order.
/// </summary>
public sealed class MergeSplitBulkFixture : OrthancDifferentialFixture
{
    private const string Root = "1.2.826.0.1.3680043.8.498.1919";

    /// <summary>Target of the merge: two series of two instances, a sequence of the Patient Module (not copied by a merge).</summary>
    public static readonly IReadOnlyList<GeneratedInstance> Target = Study("PT", 1, [2, 2], ds =>
    {
        ds.Add(DicomTags.PatientSex, "F");
        ds.Add(DicomTags.PatientComments, "TARGET");
        ds.Add(DicomTags.ReferringPhysicianName, "TARGET^REF");
        ds.Add(DicomTags.AccessionNumber, "ACCT");
        ds.Add(DicomTags.StudyID, "TID");
        ds.AddSequence(DicomTags.OtherPatientIDsSequence, new DicomDataset().Add(DicomTags.PatientID, "OTHER").Add(DicomTags.TypeOfPatientID, "TEXT"));
    });

    /// <summary>Merged into <see cref="Target"/>: module attributes the target lacks (removed) or has (replaced), one it does not govern (kept).</summary>
    public static readonly IReadOnlyList<GeneratedInstance> Source = Study("PS", 2, [2], ds =>
    {
        ds.Add(DicomTags.PatientSex, "M");
        ds.Add(DicomTags.PatientComments, "SOURCE");
        ds.Add(DicomTags.ReferringPhysicianName, "SOURCE^REF");
        ds.Add(DicomTags.AccessionNumber, "ACCS");
        ds.Add(DicomTags.PhysiciansOfRecord, "SOURCE^PHYSICIAN");
        ds.Add(DicomTags.PatientAge, "042Y"); // Patient Study Module: not the merge's
        ds.AddSequence(DicomTags.ReferencedStudySequence, new DicomDataset()
            .Add(DicomTags.ReferencedSOPClassUID, "1.2.840.10008.3.1.2.3.1").Add(DicomTags.ReferencedSOPInstanceUID, Root + ".99"));
    });

    public static readonly IReadOnlyList<GeneratedInstance> Split = Study("PP", 3, [2, 2], ds => ds.Add(DicomTags.AccessionNumber, "ACCP"));
    public static readonly IReadOnlyList<GeneratedInstance> Bulk = Study("PB", 4, [2, 1], ds => ds.Add(DicomTags.InstitutionName, "BEFORE"));
    public static readonly IReadOnlyList<GeneratedInstance> Content = Study("PC", 5, [1, 1], _ => { });

    /// <summary>Study <paramref name="n"/> of a patient: one series per count, small images, numbered across the study.</summary>
    private static List<GeneratedInstance> Study(string patient, int n, int[] seriesSizes, Action<DicomDataset> tags)
    {
        var instances = new List<GeneratedInstance>();
        for (var s = 0; s < seriesSizes.Length; s++)
            for (var i = 0; i < seriesSizes[s]; i++)
            {
                var number = instances.Count + 1;
                var g = GeneratedInstances.Ct(patient, $"{Root}.{n}", $"{Root}.{n}.{s + 1}", $"{Root}.{n}.{s + 1}.{i + 1}", number, pixelBytes: 1024);
                var file = DicomFile.Open(g.Bytes.AsMemory());
                tags(file.Dataset);
                instances.Add(g with { Bytes = file.ToBytes() });
            }
        return instances;
    }

    public static string SeriesId(GeneratedInstance g) => PublicIds.Series(g.PatientId, g.StudyUid, g.SeriesUid);

    protected override async Task LoadAsync()
    {
        foreach (var g in Target.Concat(Source).Concat(Split).Concat(Bulk).Concat(Content))
            foreach (var client in new[] { OursClient, OrthancClient })
                (await client.PostAsync("/instances", new ByteArrayContent(g.Bytes))).EnsureSuccessStatusCode();
    }
}

/// <summary>
/// /studies/{id}/merge and /split, /tools/bulk-delete, bulk-content, bulk-modify and bulk-anonymize sent to our server
/// and to orthanc 1.10.1: the same statuses and answers (generated IDs aside), and the same resources afterwards.
/// </summary>
public sealed class MergeSplitBulkTests(MergeSplitBulkFixture fx) : IClassFixture<MergeSplitBulkFixture>
{
    /// <summary>What must differ: times, each server's files, and what a copy's new UIDs hash to.</summary>
    private static readonly HashSet<string> Volatile =
        ["LastUpdate", "ReceptionDate", "FileUuid", "FileSize", "IsStable", "HttpUsername", "RemoteIP",
         "ID", "Path", "CreationTime", "CompletionTime", "EffectiveRuntime", "Timestamp"];

    /// <summary>Errors: the same status and Orthanc error code on both.</summary>
    private async Task SameErrorAsync(string path, string body, int status, int code)
    {
        var (ours, orthanc) = await fx.SendBothAsync(HttpMethod.Post, path, body);
        Assert.True(orthanc.Status == status, $"orthanc {path} {body}: {orthanc.Status} {orthanc.Body}");
        Assert.True(ours.Status == status, $"ours {path} {body}: {ours.Status} {ours.Body}");
        Assert.Equal(code, ours.Json!["OrthancStatus"]!.GetValue<int>());
        Assert.Equal(code, orthanc.Json!["OrthancStatus"]!.GetValue<int>());
    }

    private static void SameJson(JsonNode? orthanc, JsonNode? ours, ISet<string> ignored, string what)
    {
        // Both ways: nothing missing, and nothing more (a tag the operation should have removed).
        var differences = JsonDifference.Between(orthanc, ours, ignored).Concat(JsonDifference.Between(ours, orthanc, ignored).Select(d => "ours has more: " + d)).ToList();
        Assert.True(differences.Count == 0, what + ":\n" + string.Join("\n", differences));
    }

    /// <summary>The simplified tags of a study's instances outside <paramref name="knownSeries"/>, by instance number.</summary>
    private static async Task<SortedDictionary<string, JsonObject>> MovedInstancesAsync(HttpClient client, string study, IEnumerable<string> knownSeries)
    {
        var known = knownSeries.ToHashSet();
        var moved = new SortedDictionary<string, JsonObject>(StringComparer.Ordinal);
        foreach (var instance in JsonNode.Parse(await client.GetStringAsync($"/studies/{study}/instances"))!.AsArray())
        {
            if (known.Contains(instance!["ParentSeries"]!.GetValue<string>())) continue;
            var tags = JsonNode.Parse(await client.GetStringAsync($"/instances/{instance["ID"]}/simplified-tags"))!.AsObject();
            moved[tags["InstanceNumber"]!.GetValue<string>()] = tags;
        }
        return moved;
    }

    private static async Task<JsonNode> JsonAsync(HttpClient client, string path) => JsonNode.Parse(await client.GetStringAsync(path))!;

    private static async Task<JsonNode> FinishedJobAsync(HttpClient client, string id)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            var job = await JsonAsync(client, $"/jobs/{id}");
            if (job["State"]!.GetValue<string>() is "Success" or "Failure") return job;
            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(20), $"job {id} still {job["State"]}");
            await Task.Delay(50);
        }
    }

    [Fact]
    public async Task Merge_gives_moved_series_the_target_patient_and_study_and_refuses_what_orthanc_refuses()
    {
        var target = MergeSplitBulkFixture.Target[0].StudyId;
        var source = MergeSplitBulkFixture.Source[0];
        var sourceSeries = MergeSplitBulkFixture.SeriesId(source);
        var targetSeries = MergeSplitBulkFixture.Target.Select(MergeSplitBulkFixture.SeriesId).Distinct().ToList();
        var patient = PublicIds.Patient(source.PatientId);

        await SameErrorAsync($"/studies/{target}/merge", "{}", 400, 15);
        await SameErrorAsync($"/studies/{target}/merge", """{"Resources": "x"}""", 400, 15);
        await SameErrorAsync($"/studies/{target}/merge", """{"Resources": ["nonexistent"]}""", 404, 17);
        await SameErrorAsync($"/studies/nonexistent/merge", $$"""{"Resources": ["{{sourceSeries}}"]}""", 404, 17);
        await SameErrorAsync($"/studies/{target}/merge", $$"""{"Resources": ["{{patient}}"]}""", 404, 17);
        await SameErrorAsync($"/studies/{target}/merge", $$"""{"Resources": ["{{target}}"]}""", 404, 17);
        await SameErrorAsync($"/studies/{target}/merge", $$"""{"Resources": ["{{targetSeries[0]}}"]}""", 404, 17);

        // Nothing to move: a success that moves nothing.
        var (ours, orthanc) = await fx.SendBothAsync(HttpMethod.Post, $"/studies/{target}/merge", """{"Resources": []}""");
        Assert.Equal((200, 200), (ours.Status, orthanc.Status));
        SameJson(orthanc.Json, ours.Json, new HashSet<string>(), "empty merge");

        // The series of the other patient, its original deleted (the default).
        (ours, orthanc) = await fx.SendBothAsync(HttpMethod.Post, $"/studies/{target}/merge", $$"""{"Resources": ["{{sourceSeries}}"]}""");
        Assert.True((ours.Status, orthanc.Status) == (200, 200), ours.Body + orthanc.Body);
        SameJson(orthanc.Json, ours.Json, new HashSet<string>(), "merge answer");
        Assert.Equal(2, ours.Json!["InstancesCount"]!.GetValue<int>());

        foreach (var client in new[] { fx.OursClient, fx.OrthancClient })
        {
            Assert.Equal(3, (await JsonAsync(client, $"/studies/{target}"))["Series"]!.AsArray().Count);
            Assert.Equal(6, (await JsonAsync(client, $"/studies/{target}/instances")).AsArray().Count);
            // The source study and its patient went with their last instance.
            Assert.Equal(System.Net.HttpStatusCode.NotFound, (await client.GetAsync($"/studies/{source.StudyId}")).StatusCode);
            Assert.Equal(System.Net.HttpStatusCode.NotFound, (await client.GetAsync($"/patients/{patient}")).StatusCode);
        }

        // The moved instances: the target's patient and study attributes, theirs removed, the rest kept, new UIDs.
        var oursMoved = await MovedInstancesAsync(fx.OursClient, target, targetSeries);
        var orthancMoved = await MovedInstancesAsync(fx.OrthancClient, target, targetSeries);
        Assert.Equal(orthancMoved.Keys, oursMoved.Keys);
        Assert.Equal(2, oursMoved.Count);
        foreach (var (number, tags) in orthancMoved)
            SameJson(tags, oursMoved[number], new HashSet<string> { "SOPInstanceUID", "SeriesInstanceUID" }, $"moved instance {number}");
        var moved = oursMoved.Values.First();
        Assert.Equal(("F", "ACCT", "TARGET", "042Y", MergeSplitBulkFixture.Target[0].StudyUid),
            (moved["PatientSex"]!.GetValue<string>(), moved["AccessionNumber"]!.GetValue<string>(), moved["PatientComments"]!.GetValue<string>(),
             moved["PatientAge"]!.GetValue<string>(), moved["StudyInstanceUID"]!.GetValue<string>()));
        Assert.False(moved.ContainsKey("PhysiciansOfRecord") || moved.ContainsKey("ReferencedStudySequence") || moved.ContainsKey("OtherPatientIDsSequence"));
        Assert.NotEqual(source.SeriesUid, moved["SeriesInstanceUID"]!.GetValue<string>());
        Assert.Single(oursMoved.Values.Select(t => t["SeriesInstanceUID"]!.GetValue<string>()).Distinct());
    }

    [Fact]
    public async Task Split_moves_series_into_a_new_study_at_once_or_as_a_job()
    {
        var study = MergeSplitBulkFixture.Split[0].StudyId;
        var series = MergeSplitBulkFixture.Split.Select(MergeSplitBulkFixture.SeriesId).Distinct().ToList();
        var path = $"/studies/{study}/split";

        await SameErrorAsync(path, "{}", 400, 8);
        await SameErrorAsync(path, """{"Series": "x"}""", 400, 15);
        await SameErrorAsync(path, """{"Series": ["nonexistent"]}""", 404, 17);
        await SameErrorAsync(path, $$"""{"Series": ["{{MergeSplitBulkFixture.SeriesId(MergeSplitBulkFixture.Content[0])}}"]}""", 404, 17);
        await SameErrorAsync("/studies/nonexistent/split", $$"""{"Series": ["{{series[0]}}"]}""", 404, 17);
        await SameErrorAsync(path, $$"""{"Series": ["{{series[0]}}"], "Replace": {"Modality": "MR"} }""", 400, 3);
        await SameErrorAsync(path, $$"""{"Series": ["{{series[0]}}"], "Remove": ["StudyInstanceUID"]}""", 400, 3);

        // At once, keeping the original, with study attributes changed in the new study.
        var (ours, orthanc) = await fx.SendBothAsync(HttpMethod.Post, path,
            $$"""{"Series": ["{{series[0]}}"], "Replace": {"StudyDescription": "SPLIT", "PatientName": "SPLIT^NAME"}, "Remove": ["AccessionNumber"], "KeepSource": true}""");
        Assert.True((ours.Status, orthanc.Status) == (200, 200), ours.Body + orthanc.Body);
        SameJson(orthanc.Json, ours.Json, new HashSet<string> { "TargetStudy", "TargetStudyUID" }, "split answer");
        var newStudies = (Ours: ours.Json!["TargetStudy"]!.GetValue<string>(), Orthanc: orthanc.Json!["TargetStudy"]!.GetValue<string>());
        Assert.StartsWith("2.25.", ours.Json!["TargetStudyUID"]!.GetValue<string>(), StringComparison.Ordinal);
        var oursSplit = await MovedInstancesAsync(fx.OursClient, newStudies.Ours, []);
        var orthancSplit = await MovedInstancesAsync(fx.OrthancClient, newStudies.Orthanc, []);
        Assert.Equal(["1", "2"], oursSplit.Keys);
        foreach (var (number, tags) in orthancSplit)
            SameJson(tags, oursSplit[number], new HashSet<string> { "SOPInstanceUID", "SeriesInstanceUID", "StudyInstanceUID" }, $"split instance {number}");
        Assert.Equal("SPLIT", oursSplit["1"]["StudyDescription"]!.GetValue<string>());
        Assert.False(oursSplit["1"].ContainsKey("AccessionNumber"));
        Assert.Equal(2, (await JsonAsync(fx.OursClient, $"/studies/{study}"))["Series"]!.AsArray().Count);

        // As a job ("Synchronous": false), the original deleted: the job's content is the answer.
        (ours, orthanc) = await fx.SendBothAsync(HttpMethod.Post, path, $$"""{"Series": ["{{series[1]}}"], "Synchronous": false}""");
        Assert.True((ours.Status, orthanc.Status) == (200, 200), ours.Body + orthanc.Body);
        Assert.Equal($"/jobs/{ours.Json!["ID"]}", ours.Json!["Path"]!.GetValue<string>());
        var oursJob = await FinishedJobAsync(fx.OursClient, ours.Json!["ID"]!.GetValue<string>());
        var orthancJob = await FinishedJobAsync(fx.OrthancClient, orthanc.Json!["ID"]!.GetValue<string>());
        var differences = JsonDifference.Between(orthancJob, oursJob, new HashSet<string>(Volatile) { "TargetStudy", "TargetStudyUID" });
        Assert.True(differences.Count == 0, "split job:\n" + string.Join("\n", differences) + "\n" + oursJob.ToJsonString());
        foreach (var client in new[] { fx.OursClient, fx.OrthancClient })
            Assert.Equal([series[0]], (await JsonAsync(client, $"/studies/{study}"))["Series"]!.AsArray().Select(s => s!.GetValue<string>()));
    }

    [Fact]
    public async Task Bulk_modify_and_anonymize_list_the_resources_holding_the_copies()
    {
        var instances = MergeSplitBulkFixture.Bulk;
        var series = instances.Select(MergeSplitBulkFixture.SeriesId).Distinct().ToList();

        await SameErrorAsync("/tools/bulk-modify", """{"Replace": {"InstitutionName": "X"}}""", 400, 15);
        await SameErrorAsync("/tools/bulk-modify", """{"Resources": ["nonexistent"], "Replace": {"InstitutionName": "X"}}""", 404, 17);
        await SameErrorAsync("/tools/bulk-modify", $$"""{"Resources": ["{{instances[0].Id}}"], "Replace": {"PatientID": "X"} }""", 400, 8);
        await SameErrorAsync("/tools/bulk-modify", $$"""{"Resources": ["{{instances[0].Id}}"], "Replace": {"InstitutionName": "X"}, "Level": "Galaxy"}""", 400, 3);
        await SameErrorAsync("/tools/bulk-anonymize", """{"Resources": ["nonexistent"]}""", 404, 17);

        // Instance level (the default): each instance copied within its own series.
        var (ours, orthanc) = await fx.SendBothAsync(HttpMethod.Post, "/tools/bulk-modify",
            $$"""{"Resources": ["{{instances[0].Id}}", "{{series[1]}}"], "Replace": {"InstitutionName": "AFTER"} }""");
        Assert.True((ours.Status, orthanc.Status) == (200, 200), ours.Body + orthanc.Body);
        SameBulkAnswer(orthanc.Json!, ours.Json!);
        Assert.Equal(
            ["Instance", "Instance", "Series", "Series", "Study", "Patient"],
            ours.Json!["Resources"]!.AsArray().Select(r => r!["Type"]!.GetValue<string>()));

        // Series level, the originals deleted: each instance in a new series (one per series it came from).
        (ours, orthanc) = await fx.SendBothAsync(HttpMethod.Post, "/tools/bulk-modify",
            $$"""{"Resources": ["{{instances[1].Id}}", "{{instances[2].Id}}"], "Replace": {"SeriesDescription": "BULK"}, "Level": "Series", "KeepSource": false}""");
        Assert.True((ours.Status, orthanc.Status) == (200, 200), ours.Body + orthanc.Body);
        SameBulkAnswer(orthanc.Json!, ours.Json!);
        foreach (var client in new[] { fx.OursClient, fx.OrthancClient })
            Assert.Equal(System.Net.HttpStatusCode.NotFound, (await client.GetAsync($"/instances/{instances[1].Id}")).StatusCode);
        var counts = (Ours: await JsonAsync(fx.OursClient, $"/studies/{instances[0].StudyId}/statistics"), Orthanc: await JsonAsync(fx.OrthancClient, $"/studies/{instances[0].StudyId}/statistics"));
        Assert.Equal((counts.Orthanc["CountSeries"]!.ToJsonString(), counts.Orthanc["CountInstances"]!.ToJsonString()),
            (counts.Ours["CountSeries"]!.ToJsonString(), counts.Ours["CountInstances"]!.ToJsonString()));

        // Anonymization as a job: one new patient and study for the whole study.
        (ours, orthanc) = await fx.SendBothAsync(HttpMethod.Post, "/tools/bulk-anonymize", $$"""{"Resources": ["{{instances[0].StudyId}}"], "Asynchronous": true}""");
        Assert.True((ours.Status, orthanc.Status) == (200, 200), ours.Body + orthanc.Body);
        var oursJob = await FinishedJobAsync(fx.OursClient, ours.Json!["ID"]!.GetValue<string>());
        var orthancJob = await FinishedJobAsync(fx.OrthancClient, orthanc.Json!["ID"]!.GetValue<string>());
        Assert.Equal(("ResourceModification", "Success"), (oursJob["Type"]!.GetValue<string>(), oursJob["State"]!.GetValue<string>()));
        SameJson(orthancJob["Type"], oursJob["Type"], new HashSet<string>(), "job type");
        SameBulkAnswer(orthancJob["Content"]!, oursJob["Content"]!);
    }

    /// <summary>
    /// A bulk answer: the same counts and the same kinds of resource in the same order. The copies' IDs hash new random
    /// UIDs; the study and patient that hold a modification's copies are the originals', the same on both servers.
    /// </summary>
    private static void SameBulkAnswer(JsonNode orthanc, JsonNode ours)
    {
        foreach (var field in new[] { "Description", "FailedInstancesCount", "InstancesCount", "IsAnonymization" })
            Assert.Equal(orthanc[field]!.ToJsonString(), ours[field]!.ToJsonString());
        static List<(string Type, string Id, string Path)> Listed(JsonNode answer) =>
            answer["Resources"]!.AsArray().Select(r => (r!["Type"]!.GetValue<string>(), r["ID"]!.GetValue<string>(), r["Path"]!.GetValue<string>())).ToList();
        var (oursListed, orthancListed) = (Listed(ours), Listed(orthanc));
        Assert.Equal(orthancListed.Select(r => r.Type), oursListed.Select(r => r.Type));
        Assert.All(oursListed, r => Assert.Equal($"/{ResourceLevelExtensions.Parse(r.Type).ToCollection()}/{r.Id}", r.Path));
        if (!orthanc["IsAnonymization"]!.GetValue<bool>())
            Assert.Equal(orthancListed.Where(r => r.Type is "Study" or "Patient"), oursListed.Where(r => r.Type is "Study" or "Patient"));
    }

    [Fact]
    public async Task Bulk_content_and_bulk_delete_answer_as_orthanc()
    {
        var instances = MergeSplitBulkFixture.Content;
        var study = instances[0].StudyId;
        var series = instances.Select(MergeSplitBulkFixture.SeriesId).ToList();

        await SameErrorAsync("/tools/bulk-content", "{}", 400, 15);
        await SameErrorAsync("/tools/bulk-content", $$"""{"Resources": ["{{study}}"], "Level": "Galaxy"}""", 400, 3);
        await SameErrorAsync("/tools/bulk-delete", """{"Resources": "x"}""", 400, 15);

        foreach (var body in new[]
        {
            // As asked, repeats and unknown IDs included (the unknown skipped); with their metadata.
            $$"""{"Resources": ["{{instances[1].Id}}", "{{study}}", "nonexistent", "{{instances[1].Id}}"]}""",
            // At another level: up and down from what is listed, each once.
            $$"""{"Resources": ["{{study}}", "{{instances[0].Id}}"], "Level": "Series"}""",
            $$"""{"Resources": ["{{instances[0].Id}}"], "Level": "Patient", "Metadata": false}""",
            $$"""{"Resources": ["{{study}}", "{{instances[0].Id}}"], "Full": true}""",
            $$"""{"Resources": ["{{series[0]}}"], "Short": true, "Level": "instance"}""",
        })
        {
            var (ours, orthanc) = await fx.SendBothAsync(HttpMethod.Post, "/tools/bulk-content", body);
            Assert.True((ours.Status, orthanc.Status) == (200, 200), ours.Body + orthanc.Body);
            // Resources in order: compared item by item (the comparer matches expanded items by ID), IndexInSeries included.
            var differences = JsonDifference.Between(orthanc.Json, ours.Json, new HashSet<string>(Volatile.Except(["ID"])));
            Assert.True(differences.Count == 0, body + "\n" + string.Join("\n", differences));
            Assert.Equal(orthanc.Json!.AsArray().Select(r => r!["ID"]!.GetValue<string>()), ours.Json!.AsArray().Select(r => r!["ID"]!.GetValue<string>()));
        }

        // Deleting a series and an unknown ID: an empty answer; the study keeps its other series.
        var (deleted, orthancDeleted) = await fx.SendBothAsync(HttpMethod.Post, "/tools/bulk-delete", $$"""{"Resources": ["{{series[0]}}", "nonexistent"]}""");
        Assert.Equal((200, 200, "", ""), (deleted.Status, orthancDeleted.Status, deleted.Body, orthancDeleted.Body));
        foreach (var client in new[] { fx.OursClient, fx.OrthancClient })
            Assert.Equal([series[1]], (await JsonAsync(client, $"/studies/{study}"))["Series"]!.AsArray().Select(s => s!.GetValue<string>()));
    }
}
