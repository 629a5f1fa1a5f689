using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using OrthancWeb.Dicom.Data;
using OrthancWeb.Dicom.IO;
using OrthancWeb.Tests.Infrastructure;
using OrthancWeb.Tests.Server;
using static OrthancWeb.Tests.Server.Rest;

namespace OrthancWeb.Tests.Transcoding;

/// <summary>
/// One server and one DCMTK storescp that prefers JPEG-LS lossless (+xt: it accepts it first whenever it is
/// proposed, the uncompressed syntaxes only as its fallback).
/// </summary>
public sealed class TranscodeFixture : IAsyncLifetime
{
    private string _folder = "";
    private PeerProcess? _storescp;

    public ServerProcess Server { get; private set; } = null!;
    public HttpClient Rest { get; private set; } = null!;
    public string Received { get; private set; } = "";

    public async Task InitializeAsync()
    {
        _folder = Directory.CreateTempSubdirectory("ow-transcode-rest-").FullName;
        Received = Path.Combine(_folder, "received");
        Directory.CreateDirectory(Received);
        var port = ServerProcess.FreePort();
        Server = await ServerProcess.StartAsync(_folder, $$"""
            , "DicomPort": {{ServerProcess.FreePort()}}, "DicomAet": "OWEB",
            "DicomModalities": { "jls": { "AET": "JLS", "Host": "127.0.0.1", "Port": {{port}} } }
            """);
        Rest = Server.CreateRestClient();
        var psi = new ProcessStartInfo(Peers.Tool("storescp"), ["-aet", "JLS", "+xt", "-od", Received, port.ToString(CultureInfo.InvariantCulture)]);
        _storescp = PeerProcess.Start(psi);
        await _storescp.WaitUntilListeningAsync(port);
    }

    public async Task DisposeAsync()
    {
        if (_storescp is not null) await _storescp.DisposeAsync();
        Rest.Dispose();
        await Server.DisposeAsync();
        try { Directory.Delete(_folder, true); } catch (IOException) { }
    }
}

public sealed class TranscodeRestTests(TranscodeFixture fx) : IClassFixture<TranscodeFixture>
{
    private const string JpegLs = "1.2.840.10008.1.2.4.80";

    private static async Task<DicomFile> DicomAsync(HttpResponseMessage response)
    {
        var bytes = await response.Content.ReadAsByteArrayAsync();
        Assert.True(response.IsSuccessStatusCode, $"{(int)response.StatusCode} {Encoding.UTF8.GetString(bytes)}");
        return DicomFile.Open(bytes.AsMemory());
    }

    /// <summary>The pixel data as DCMTK decompresses it (dcmdjpls/dcmdrle), or as it is when already uncompressed.</summary>
    private static byte[] PixelsPerDcmtk(DicomFile file)
    {
        var tool = file.TransferSyntax.Uid switch { JpegLs => "dcmdjpls", "1.2.840.10008.1.2.5" => "dcmdrle", _ => null };
        if (tool is null) return file.Dataset.GetBytes(DicomTags.PixelData).ToArray();
        var input = Path.GetTempFileName();
        var output = input + ".raw";
        try
        {
            File.WriteAllBytes(input, file.ToBytes());
            var run = Peers.Run(tool, input, output);
            Assert.True(run.ExitCode == 0, $"{tool}: {run.Stderr}");
            return DicomFile.Open(output).Dataset.GetBytes(DicomTags.PixelData).ToArray();
        }
        finally
        {
            File.Delete(input);
            File.Delete(output);
        }
    }

    [Fact]
    public async Task File_download_transcodes_and_an_unknown_syntax_is_a_400_with_the_reason()
    {
        var id = (await UploadAsync(fx.Rest, Sample("MR_small.dcm")))["ID"]!.GetValue<string>();
        var original = DicomFile.Open(Sample("MR_small.dcm"));

        var transcoded = await DicomAsync(await fx.Rest.GetAsync($"/instances/{id}/file?transcode={JpegLs}"));
        Assert.Equal(JpegLs, transcoded.TransferSyntax.Uid);
        Assert.Equal(original.Dataset.GetString(DicomTags.SOPInstanceUID), transcoded.Dataset.GetString(DicomTags.SOPInstanceUID));
        Assert.Equal(original.Dataset.GetBytes(DicomTags.PixelData).ToArray(), PixelsPerDcmtk(transcoded));

        var bad = await fx.Rest.GetAsync($"/instances/{id}/file?transcode=1.2.3.4");
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Contains("not a transfer syntax", await bad.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Modify_with_transcode_stores_the_new_series_in_that_syntax_and_refuses_a_bad_uid()
    {
        var up = await UploadAsync(fx.Rest, Sample("CT_small.dcm"));
        var series = up["ParentSeries"]!.GetValue<string>();
        var modified = await PostJsonAsync(fx.Rest, $"/series/{series}/modify",
            new { Replace = new Dictionary<string, string> { ["SeriesDescription"] = "RLE copy" }, Transcode = "1.2.840.10008.1.2.5" });
        var newSeries = modified["ID"]!.GetValue<string>();
        var instance = Ids((await GetJsonAsync(fx.Rest, $"/series/{newSeries}"))["Instances"]!).Single();
        var stored = await DicomAsync(await fx.Rest.GetAsync($"/instances/{instance}/file"));
        Assert.Equal("1.2.840.10008.1.2.5", stored.TransferSyntax.Uid);
        Assert.Equal("RLE copy", stored.Dataset.GetString(DicomTags.SeriesDescription));
        Assert.Equal(DicomFile.Open(Sample("CT_small.dcm")).Dataset.GetBytes(DicomTags.PixelData).ToArray(), PixelsPerDcmtk(stored));

        // The instance-level form answers the file itself (Orthanc's shape).
        var file = await DicomAsync(await fx.Rest.PostAsync($"/instances/{up["ID"]}/modify",
            new StringContent($$"""{ "Replace": { "SeriesDescription": "x" }, "Force": true, "Transcode": "{{JpegLs}}" }""", Encoding.UTF8, "application/json")));
        Assert.Equal(JpegLs, file.TransferSyntax.Uid);

        var bad = await fx.Rest.PostAsync($"/series/{series}/modify", new StringContent("""{ "Transcode": "1.2.840.10008.1.2.4.100" }""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Contains("Transcode", await bad.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task A_peer_that_prefers_jpeg_ls_receives_the_stored_rle_instance_transcoded_to_it()
    {
        var id = (await UploadAsync(fx.Rest, Sample("MR_small_RLE.dcm")))["ID"]!.GetValue<string>();
        var sent = await PostJsonAsync(fx.Rest, "/modalities/jls/store", new { Resources = new[] { id } });
        Assert.Equal(0, sent["FailedInstancesCount"]!.GetValue<int>());
        var received = Directory.GetFiles(fx.Received).Select(f => DicomFile.Open(f))
            .Single(f => f.Dataset.GetString(DicomTags.SOPInstanceUID) == DicomFile.Open(Sample("MR_small_RLE.dcm")).Dataset.GetString(DicomTags.SOPInstanceUID));
        Assert.Equal(JpegLs, received.TransferSyntax.Uid);
        // Decoded by DCMTK, the pixels are those of the uncompressed original of the RLE sample.
        Assert.Equal(DicomFile.Open(Sample("MR_small.dcm")).Dataset.GetBytes(DicomTags.PixelData).ToArray(), PixelsPerDcmtk(received));
    }
}
