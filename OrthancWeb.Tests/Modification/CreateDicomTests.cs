using System.Text.Json.Nodes;
using OrthancWeb.Dicom.Data;
using OrthancWeb.Dicom.Imaging;
using OrthancWeb.Dicom.IO;
using OrthancWeb.Tests.OrthancPeers;

namespace OrthancWeb.Tests.Modification;

/// <summary>
/// POST /tools/create-dicom sent alike to our server and Debian's orthanc 1.10.1: the same answer, the same tags (UIDs,
/// the random PatientID and the dates of now apart), the same pixels or document.
/// </summary>
[Collection(OursAndOrthancServers.Name)]
public sealed class CreateDicomTests(PeersFixture fx)
{
    /// <summary>What is made anew on each side: identifiers and the time of creation.</summary>
    private static readonly HashSet<string> Fresh =
    [
        "ID", "ParentPatient", "ParentStudy", "ParentSeries", "Path", "SOPInstanceUID", "SeriesInstanceUID", "StudyInstanceUID", "PatientID",
        "StudyDate", "StudyTime", "SeriesDate", "SeriesTime", "AcquisitionDate", "AcquisitionTime", "ContentDate", "ContentTime",
        "InstanceCreationDate", "InstanceCreationTime", "PixelData", "EncapsulatedDocument",
    ];

    private static string DataUri(string mime, byte[] bytes) => $"data:{mime};base64,{Convert.ToBase64String(bytes)}";

    private static byte[] Gradient(int width, int height, int samples, int bytesPerSample)
    {
        var pixels = new byte[width * height * samples * bytesPerSample];
        for (var i = 0; i < pixels.Length; i++) pixels[i] = (byte)(i * 7 + i / 13);
        return pixels;
    }

    public static TheoryData<string, string> Contents()
    {
        var pdf = "%PDF-1.1\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj 2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"u8.ToArray();
        return new()
        {
            { "none", "" },
            { "pdf", DataUri("application/pdf", pdf) },
            { "png grey 8", DataUri("image/png", PngEncoder.Encode(Gradient(17, 9, 1, 1), 17, 9, 1, 8)) },
            { "png grey 16", DataUri("image/png", PngEncoder.Encode(Gradient(16, 8, 1, 2), 16, 8, 1, 16)) },
            { "png rgb", DataUri("image/png", PngEncoder.Encode(Gradient(16, 8, 3, 1), 16, 8, 3, 8)) },
            { "jpeg rgb", DataUri("image/jpeg", JpegOutputEncoder.Encode(new RenderedImage(32, 16, 3, Gradient(32, 16, 3, 1)), 95)) },
            { "jpeg grey", DataUri("image/jpeg", JpegOutputEncoder.Encode(new RenderedImage(16, 16, 1, Gradient(16, 16, 1, 1)), 95)) },
        };
    }

    [Theory]
    [MemberData(nameof(Contents))]
    public async Task An_instance_made_from_tags_and_content_is_orthancs(string what, string content)
    {
        var body = new JsonObject { ["Tags"] = new JsonObject { ["PatientName"] = "CREATE^" + what.Replace(' ', '_'), ["StudyDescription"] = what, ["SeriesDescription"] = "É" } };
        if (content.Length > 0) body["Content"] = content;
        var (ours, orthanc) = await fx.SendBothAsync(HttpMethod.Post, "/tools/create-dicom", body.ToJsonString());
        Assert.True((orthanc.Status, ours.Status) == (200, 200), $"orthanc {orthanc.Status} {orthanc.Body}, ours {ours.Status} {ours.Body}");
        PeersTests.AssertSame(orthanc.Json, ours.Json, Fresh);

        var ourId = ours.Json!["ID"]!.GetValue<string>();
        var theirId = orthanc.Json!["ID"]!.GetValue<string>();
        PeersTests.AssertSame(await PeersFixture.JsonAsync(fx.OrthancClient, $"/instances/{theirId}/simplified-tags"),
            await PeersFixture.JsonAsync(fx.OursClient, $"/instances/{ourId}/simplified-tags"), Fresh);

        var mine = DicomFile.Open(await fx.OursClient.GetByteArrayAsync($"/instances/{ourId}/file")).Dataset;
        var theirs = DicomFile.Open(await fx.OrthancClient.GetByteArrayAsync($"/instances/{theirId}/file")).Dataset;
        foreach (var tag in new[] { DicomTags.PixelData, DicomTags.EncapsulatedDocument })
        {
            var expected = (theirs[tag] as DicomElement)?.Buffer.Memory.ToArray();
            var actual = (mine[tag] as DicomElement)?.Buffer.Memory.ToArray();
            if (expected is null) { Assert.Null(actual); continue; }
            Assert.NotNull(actual);
            Assert.Equal(expected.Length, actual.Length);
            // JPEG decoders may round the inverse DCT differently (ITU-T T.81 A.3.3 allows it): a step or two of 255.
            var tolerance = what.StartsWith("jpeg", StringComparison.Ordinal) ? 3 : 0;
            var worst = expected.Zip(actual, (a, b) => Math.Abs(a - b)).Max();
            Assert.True(worst <= tolerance, $"{tag}: samples differ by up to {worst}");
        }
    }

    [Fact]
    public async Task An_instance_under_a_parent_study_copies_its_patient_and_study()
    {
        // CT_small's study, which the fixture gave both servers (its public ID is the hash of its UIDs, alike on both).
        const string study = "8a8cf898-ca27c490-d0c7058c-929d0581-2bbf104d";
        var png = DataUri("image/png", PngEncoder.Encode(Gradient(8, 8, 1, 1), 8, 8, 1, 8));
        var body = $$"""{ "Parent": "{{study}}", "Tags": { "SeriesDescription": "ADDED" }, "Content": "{{png}}" }""";
        var (ours, orthanc) = await fx.SendBothAsync(HttpMethod.Post, "/tools/create-dicom", body);
        Assert.True((orthanc.Status, ours.Status) == (200, 200), $"orthanc {orthanc.Status} {orthanc.Body}, ours {ours.Status} {ours.Body}");
        Assert.Equal(study, ours.Json!["ParentStudy"]!.GetValue<string>());
        // Same study on both sides: its UID, date and time, and the patient are the parent's.
        var sameStudy = new HashSet<string>(Fresh);
        sameStudy.ExceptWith(["StudyInstanceUID", "PatientID", "StudyDate", "StudyTime", "ParentPatient", "ParentStudy"]);
        PeersTests.AssertSame(orthanc.Json, ours.Json, sameStudy);
        // The parent's empty values are empty strings in the new instance on both sides.
        var theirTags = (JsonObject)await PeersFixture.JsonAsync(fx.OrthancClient, $"/instances/{orthanc.Json!["ID"]}/simplified-tags");
        PeersTests.AssertSame(theirTags, await PeersFixture.JsonAsync(fx.OursClient, $"/instances/{ours.Json["ID"]}/simplified-tags"), sameStudy);

        // A parent's identifier is not the body's to change, unless it forces it.
        var (refusedOurs, refusedTheirs) = await fx.SendBothAsync(HttpMethod.Post, "/tools/create-dicom",
            $$"""{ "Parent": "{{study}}", "Tags": { "StudyInstanceUID": "1.2.3" } }""");
        Assert.Equal((400, 400), (refusedTheirs.Status, refusedOurs.Status));
        Assert.Contains("inherited from a parent module", refusedOurs.Body);
    }

    [Theory]
    [InlineData("""{ "Tags": { "NoSuchKeyword": "x" } }""")]
    [InlineData("""{ "Tags": { "PatientName": "A" }, "Content": "data:image/gif;base64,R0lGODlh" }""")]
    [InlineData("""{ "Tags": { "PatientName": "A" }, "Content": "data:image/png;base64,AAAA" }""")]
    [InlineData("""{ "Tags": { "PatientName": "A" }, "Content": "not a data URI" }""")]
    public async Task A_body_that_cannot_make_an_instance_is_refused_with_its_reason(string body)
    {
        using var response = await fx.OursClient.PostAsync("/tools/create-dicom", new StringContent(body));
        var text = await response.Content.ReadAsStringAsync();
        Assert.True((int)response.StatusCode == 400, text);
        Assert.NotEqual("", JsonNode.Parse(text)!["Details"]!.GetValue<string>());
    }
}
