using System.Globalization;
using OrthancWeb.Dicom.Data;
using OrthancWeb.Dicom.IO;
using OrthancWeb.Tests.Infrastructure;
using OrthancWeb.Tests.Server;
using static OrthancWeb.Tests.Server.Rest;

namespace OrthancWeb.Tests.Ingest;

/// <summary>
/// Two servers started side by side: one with IngestTranscoding = JPEG-LS lossless and IngestTranscodingOfCompressed
/// false (so compressed arrivals stay as sent), one without the option.
/// </summary>
public sealed class IngestTranscodingFixture : IAsyncLifetime
{
    private readonly List<string> _folders = [];

    public ServerProcess On { get; private set; } = null!;
    public ServerProcess Off { get; private set; } = null!;
    public HttpClient OnRest { get; private set; } = null!;
    public HttpClient OffRest { get; private set; } = null!;
    public int OnDicomPort { get; } = ServerProcess.FreePort();

    public async Task InitializeAsync()
    {
        var on = ServerProcess.StartAsync(Folder("on"), $$"""
            , "DicomPort": {{OnDicomPort}}, "DicomAet": "OWEB", "IngestTranscoding": "1.2.840.10008.1.2.4.80",
            "IngestTranscodingOfCompressed": false, "IngestTranscodingMaximumSize": 16
            """);
        var off = ServerProcess.StartAsync(Folder("off"));
        (On, Off) = (await on, await off);
        (OnRest, OffRest) = (On.CreateRestClient(), Off.CreateRestClient());
    }

    public string Folder(string name)
    {
        var folder = Directory.CreateTempSubdirectory($"ow-ingest-transcoding-{name}-").FullName;
        _folders.Add(folder);
        return folder;
    }

    public async Task DisposeAsync()
    {
        OnRest?.Dispose();
        OffRest?.Dispose();
        if (On is not null) await On.DisposeAsync();
        if (Off is not null) await Off.DisposeAsync();
        foreach (var f in _folders) try { Directory.Delete(f, true); } catch (IOException) { }
    }
}

public sealed class IngestTranscodingTests(IngestTranscodingFixture fx) : IClassFixture<IngestTranscodingFixture>
{
    private const string JpegLs = "1.2.840.10008.1.2.4.80";

    private static async Task<(string Id, DicomFile File, byte[] Bytes)> StoredAsync(HttpClient rest, string sopUid)
    {
        var lookup = await rest.PostAsync("/tools/lookup", new StringContent(sopUid));
        var ids = System.Text.Json.Nodes.JsonNode.Parse(await lookup.Content.ReadAsStringAsync())!;
        var id = ids.AsArray().Single(n => n!["Type"]!.GetValue<string>() == "Instance")!["ID"]!.GetValue<string>();
        var bytes = await rest.GetByteArrayAsync($"/instances/{id}/file");
        return (id, DicomFile.Open(bytes.AsMemory()), bytes);
    }

    /// <summary>The stored instance: JPEG-LS, its index entry agreeing (syntax metadata, size, checksum), and its pixels as DCMTK decodes them.</summary>
    private static async Task AssertStoredAsJpegLsAsync(HttpClient rest, string samplePath)
    {
        var original = DicomFile.Open(samplePath);
        var sop = original.Dataset.GetString(DicomTags.SOPInstanceUID)!;
        var (id, stored, bytes) = await StoredAsync(rest, sop);
        Assert.Equal(JpegLs, stored.TransferSyntax.Uid);
        Assert.Equal(JpegLs, await rest.GetStringAsync($"/instances/{id}/metadata/TransferSyntax"));
        Assert.Equal(bytes.Length.ToString(CultureInfo.InvariantCulture), await rest.GetStringAsync($"/instances/{id}/attachments/dicom/size"));
        // The MD5 is computed after checking the file against the checksum recorded at ingest: a 200 means they agree.
        var md5 = await rest.GetAsync($"/instances/{id}/attachments/dicom/md5");
        Assert.True(md5.IsSuccessStatusCode, await md5.Content.ReadAsStringAsync());
        // Main tags and SOP identity are those sent.
        var tags = await GetJsonAsync(rest, $"/instances/{id}/simplified-tags");
        Assert.Equal(original.Dataset.GetString(DicomTags.SOPClassUID), tags["SOPClassUID"]!.GetValue<string>());
        Assert.Equal(original.Dataset.GetString(DicomTags.StudyInstanceUID), tags["StudyInstanceUID"]!.GetValue<string>());
        Assert.Equal(original.Dataset.GetString(DicomTags.PatientID) ?? "", tags["PatientID"]!.GetValue<string>());

        var input = Path.GetTempFileName();
        try
        {
            File.WriteAllBytes(input, bytes);
            var run = Peers.Run("dcmdjpls", input, input + ".raw");
            Assert.True(run.ExitCode == 0, "dcmdjpls: " + run.Stderr);
            var decoded = DicomFile.Open(input + ".raw").Dataset.GetBytes(DicomTags.PixelData).ToArray();
            Assert.Equal(original.Dataset.GetBytes(DicomTags.PixelData).ToArray(), decoded);
        }
        finally
        {
            File.Delete(input);
            File.Delete(input + ".raw");
        }
    }

    [Fact]
    public async Task A_rest_upload_is_stored_as_jpeg_ls_that_dcmtk_decodes_to_the_original_pixels()
    {
        var up = await UploadAsync(fx.OnRest, Sample("CT_small.dcm"));
        Assert.Equal("Success", up["Status"]!.GetValue<string>());
        await AssertStoredAsJpegLsAsync(fx.OnRest, Sample("CT_small.dcm"));
        // The same public IDs as a server that stores it as sent: the identity did not change.
        var plain = await UploadAsync(fx.OffRest, Sample("CT_small.dcm"));
        Assert.Equal(plain["ID"]!.GetValue<string>(), up["ID"]!.GetValue<string>());
    }

    [Fact]
    public async Task Storescu_arrivals_are_stored_as_jpeg_ls_and_compressed_ones_stay_as_sent_when_so_configured()
    {
        var files = new[] { Sample("MR_small.dcm"), Sample("SC_rgb_small_odd.dcm"), Sample("SC_rgb_rle.dcm") };
        var sent = await StorescuSender.SendAsync("MODALITY", "OWEB", fx.OnDicomPort, files[..2]);
        Assert.True(sent.Acknowledged.Count == 2, sent.Output);
        await UploadAsync(fx.OnRest, files[2]); // storescu proposes uncompressed syntaxes only

        await AssertStoredAsJpegLsAsync(fx.OnRest, files[0]);
        await AssertStoredAsJpegLsAsync(fx.OnRest, files[1]);
        // IngestTranscodingOfCompressed is false: the RLE instance is kept exactly as sent.
        var rle = DicomFile.Open(files[2]);
        var (_, stored, _) = await StoredAsync(fx.OnRest, rle.Dataset.GetString(DicomTags.SOPInstanceUID)!);
        Assert.Equal("1.2.840.10008.1.2.5", stored.TransferSyntax.Uid);
    }

    [Fact]
    public async Task What_cannot_be_transcoded_or_is_too_large_is_stored_as_received_with_a_warning()
    {
        // 32-bit samples: JPEG-LS holds 16 at most.
        await UploadAsync(fx.OnRest, Sample("rtdose.dcm"));
        var dose = await StoredAsync(fx.OnRest, DicomFile.Open(Sample("rtdose.dcm")).Dataset.GetString(DicomTags.SOPInstanceUID)!);
        Assert.Equal("1.2.840.10008.1.2", dose.File.TransferSyntax.Uid);

        // A hostile header: 65535 x 65535 over a few bytes of pixel data would decode to 8 GB. It is not decoded.
        var hostile = DicomFile.Open(Sample("MR_small.dcm"));
        hostile.Dataset.Add(DicomTags.Rows, DicomVR.US, (ushort)65535);
        hostile.Dataset.Add(DicomTags.Columns, DicomVR.US, (ushort)65535);
        hostile.Dataset.Add(DicomTags.SOPInstanceUID, DicomVR.UI, "1.2.826.0.1.3680043.8.498.424242");
        var path = Path.Combine(fx.Folder("hostile"), "hostile.dcm");
        hostile.Save(path);
        await UploadAsync(fx.OnRest, path);
        var kept = await StoredAsync(fx.OnRest, "1.2.826.0.1.3680043.8.498.424242");
        Assert.Equal(File.ReadAllBytes(path), kept.Bytes);

        await PollAsync(() => fx.On.Log.Contains("IngestTranscodingMaximumSize", StringComparison.Ordinal)
                              && fx.On.Log.Contains("16 bits", StringComparison.Ordinal), fx.On.Log);
    }

    [Fact]
    public async Task Without_the_option_files_are_stored_byte_for_byte_as_sent()
    {
        await UploadAsync(fx.OffRest, Sample("MR_small.dcm"));
        var sop = DicomFile.Open(Sample("MR_small.dcm")).Dataset.GetString(DicomTags.SOPInstanceUID)!;
        Assert.Equal(File.ReadAllBytes(Sample("MR_small.dcm")), (await StoredAsync(fx.OffRest, sop)).Bytes);
    }

    [Fact]
    public async Task A_syntax_that_cannot_be_written_stops_the_server_at_start_up_with_the_reason()
    {
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() =>
            ServerProcess.StartAsync(fx.Folder("bad"), """, "IngestTranscoding": "1.2.840.10008.1.2.4.100" """));
        Assert.Contains("IngestTranscoding", error.Message);
        Assert.Contains("not supported", error.Message);
    }

    private static async Task PollAsync(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) Assert.Fail("not seen within 10 s:\n" + what);
            await Task.Delay(50);
        }
    }
}
