using System.Net.Http.Json;
using System.Text.Json.Nodes;
using OrthancWeb.Tests.Infrastructure;
using OrthancWeb.Tests.Server;

namespace OrthancWeb.Tests.DicomWeb;

/// <summary>
/// Real DICOMweb clients against our server: dicomweb-client (the JavaScript client OHIF uses) run by node, and Debian's
/// orthanc with its DICOMweb plugin querying, retrieving from and storing to us through its /dicom-web/servers.
/// </summary>
public sealed class DicomWebPeerTests(DicomWebFixture fx) : IClassFixture<DicomWebFixture>
{
    private static string NodeFolder => Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "DicomWeb", "Node"));

    [Fact]
    public async Task dicomweb_client_searches_retrieves_renders_and_stores()
    {
        var ct = DicomWebFixture.Uids("CT_small.dcm");
        var fresh = GeneratedInstances.Series("NODE", "1.2.826.0.1.3680043.10.1017.10", 1)[0];
        var toStore = Path.Combine(Path.GetTempPath(), $"ow-node-{Guid.NewGuid():N}.dcm");
        await File.WriteAllBytesAsync(toStore, fresh.Bytes);
        try
        {
            Assert.True(File.Exists(Path.Combine(NodeFolder, "node_modules", "dicomweb-client", "package.json")),
                "dicomweb-client is installed by the test project's build (npm ci in OrthancWeb.Tests/DicomWeb/Node)");
            var run = Peers.Run("node", Path.Combine(NodeFolder, "conformance.cjs"), fx.Root, "admin", ServerProcess.AdminPassword,
                ct.Study, ct.Series, ct.Instance, toStore);
            Assert.True(run.ExitCode == 0, $"dicomweb-client failed:\n{run.Stderr}\n{run.Stdout}");
            var result = JsonNode.Parse(run.Stdout)!;

            var study = Assert.Single(result["studies"]!.AsArray())!;
            Assert.Equal(ct.Study, study["uid"]!.GetValue<string>());
            Assert.Equal(1, study["instances"]!.GetValue<int>());
            Assert.Equal(ct.Series, Assert.Single(result["series"]!.AsArray())!.GetValue<string>());
            Assert.Equal(ct.Instance, Assert.Single(result["instances"]!.AsArray())!.GetValue<string>());
            Assert.Equal(1, result["studyMetadata"]!.GetValue<int>());
            Assert.Equal(128, result["metadata"]!["rows"]!.GetValue<int>());
            Assert.NotNull(result["metadata"]!["pixelData"]!["BulkDataURI"]);
            // The instance parsed out of our multipart by the client is the file we were given.
            Assert.Equal(DicomWebFixture.Sha256(File.ReadAllBytes(DicomWebFixture.Sample("CT_small.dcm"))), result["instanceSha256"]!.GetValue<string>());
            var frame = Assert.Single(result["frames"]!.AsArray())!;
            Assert.Equal(DicomWebFixture.Pydicom("frame", DicomWebFixture.Sample("CT_small.dcm"), "1"), frame["sha256"]!.GetValue<string>());
            Assert.Equal("ffd8", result["rendered"]!["jpeg"]!.GetValue<string>());
            var stored = Assert.Single(result["stored"]!["00081199"]!["Value"]!.AsArray())!;
            Assert.Equal(fresh.SopUid, stored["00081155"]!["Value"]![0]!.GetValue<string>());
            Assert.Single(await fx.JsonAsync($"/studies/{fresh.StudyUid}/instances"));
        }
        finally { File.Delete(toStore); }
    }

    [Fact]
    public async Task Orthanc_queries_retrieves_from_and_stores_to_us_through_its_DICOMweb_client()
    {
        var ct = DicomWebFixture.Uids("CT_small.dcm");
        await using var orthanc = await OrthancPeer.StartAsync(dicomWeb: true, extraJson: $$"""
            "DicomWeb": { "Enable": true, "Root": "/dicom-web/", "EnableWado": true, "WadoRoot": "/wado",
              "Servers": { "ours": { "Url": "{{fx.Root}}/", "Username": "admin", "Password": "{{ServerProcess.AdminPassword}}" } } }
            """);
        using var peer = orthanc.CreateClient();

        var found = await PostJsonAsync(peer, "/dicom-web/servers/ours/qido", new { Uri = "/studies", Arguments = new Dictionary<string, string> { ["StudyInstanceUID"] = ct.Study } });
        Assert.Equal(ct.Study, Assert.Single(found.AsArray())!["0020000D"]!["Value"]!.GetValue<string>());

        await PostJsonAsync(peer, "/dicom-web/servers/ours/retrieve", new { Resources = new[] { new { Study = ct.Study } }, Synchronous = true });
        var id = Assert.Single((await orthanc.GetJsonAsync("/instances")).AsArray())!.GetValue<string>();
        Assert.Equal(ct.Instance, (await orthanc.GetJsonAsync($"/instances/{id}/simplified-tags"))["SOPInstanceUID"]!.GetValue<string>());
        var pixels = await peer.GetByteArrayAsync($"/instances/{id}/frames/0/raw");
        Assert.Equal(DicomWebFixture.Pydicom("frame", DicomWebFixture.Sample("CT_small.dcm"), "1"), DicomWebFixture.Sha256(pixels));

        var fresh = GeneratedInstances.Series("ORTHANC-STOW", "1.2.826.0.1.3680043.10.1017.11", 2);
        var ids = new List<string>();
        foreach (var i in fresh)
        {
            var upload = await peer.PostAsync("/instances", new ByteArrayContent(i.Bytes));
            ids.Add(JsonNode.Parse(await upload.Content.ReadAsStringAsync())!["ID"]!.GetValue<string>());
        }
        await PostJsonAsync(peer, "/dicom-web/servers/ours/stow", new { Resources = ids, Synchronous = true });
        var arrived = await fx.JsonAsync($"/studies/{fresh[0].StudyUid}/instances");
        Assert.Equal(fresh.Select(i => i.SopUid).Order(), arrived.Select(a => a!["00080018"]!["Value"]![0]!.GetValue<string>()).Order());
    }

    private static async Task<JsonNode> PostJsonAsync(HttpClient client, string url, object body)
    {
        var response = await client.PostAsJsonAsync(url, body, Rest.OrthancJsonOptions);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"orthanc POST {url}: {(int)response.StatusCode} {text}");
        return JsonNode.Parse(text)!;
    }
}
