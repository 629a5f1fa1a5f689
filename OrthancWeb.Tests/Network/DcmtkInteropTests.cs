using System.Globalization;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using OrthancWeb.Dicom.Data;
using OrthancWeb.Dicom.IO;
using OrthancWeb.Tests.Infrastructure;
using static OrthancWeb.Tests.Server.Rest;

namespace OrthancWeb.Tests.Network;

/// <summary>DCMTK on the other end of every association: echoscu, storescu, findscu, movescu, getscu, storescp.</summary>
public sealed class DcmtkInteropTests(DicomServerFixture fx) : IClassFixture<DicomServerFixture>
{
    private string Port => fx.DicomPort.ToString(CultureInfo.InvariantCulture);

    /// <summary>pydicom files that are malformed on purpose (see DcmdumpConformanceTests) or that DCMTK cannot send.</summary>
    private static readonly HashSet<string> NotSendable =
    [
        "MR_truncated.dcm", "rtplan_truncated.dcm", "SC_rgb_jpeg.dcm", "no_meta.dcm",
        // No meta group: storescu cannot know their SOP class or transfer syntax.
        "ExplVR_BigEndNoMeta.dcm", "ExplVR_LitEndNoMeta.dcm", "rtstruct.dcm", "meta_missing_tsyntax.dcm", "nested_priv_SQ.dcm", "no_meta_group_length.dcm",
        // Missing SOP Class/Instance UIDs or a non-storage SOP class.
        "UN_sequence.dcm", "badVR.dcm", "empty_charset_LEI.dcm", "priv_SQ.dcm", "rtdose_rle.dcm", "rtdose_rle_1frame.dcm",
    ];


    public static TheoryData<string> Files()
    {
        var data = new TheoryData<string>();
        foreach (var f in Peers.PydicomFiles("test_files")) data.Add(Path.GetFileName(f));
        return data;
    }

    [Fact]
    public void Echoscu_is_answered()
    {
        var r = Peers.Run("echoscu", "-v", "-aec", DicomServerFixture.Aet, "127.0.0.1", Port);
        Assert.True(r.ExitCode == 0, r.Stderr + r.Stdout);
        Assert.Contains("Received Echo Response (Success)", r.Stderr + r.Stdout);
    }

    /// <summary>A storescu configuration proposing exactly the file's SOP class in the file's own transfer syntax.</summary>
    private static string ConfigFor(string path, string dir)
    {
        var file = DicomFile.Open(path, new DicomReadOptions { StopBeforeTag = DicomTags.PixelData });
        var sop = file.FileMetaInfo.GetString(DicomTags.MediaStorageSOPClassUID) ?? file.Dataset.GetString(DicomTags.SOPClassUID)!;
        var cfg = Path.Combine(dir, "storescu.cfg");
        File.WriteAllText(cfg, $"""
            [[TransferSyntaxes]]
            [Own]
            TransferSyntax1 = {file.TransferSyntax.Uid}
            [[PresentationContexts]]
            [Ctx]
            PresentationContext1 = {sop}\Own
            [[Profiles]]
            [Own]
            PresentationContexts = Ctx
            """);
        return cfg;
    }

    [Theory]
    [MemberData(nameof(Files))]
    public async Task Storescu_sends_each_file_in_its_own_syntax_and_it_is_stored_as_sent(string name)
    {
        if (NotSendable.Contains(name)) return;
        var path = Path.Combine(Peers.PydicomDir("test_files"), name);
        var dir = Directory.CreateTempSubdirectory("ow-scu-").FullName;
        try
        {
            // Several pydicom files share a SOP Instance UID (MR_small in many syntaxes): start from none stored.
            var original = DicomFile.Open(path);
            var sop = original.Dataset.GetString(DicomTags.SOPInstanceUID)!;
            var before = JsonNode.Parse(await (await fx.Rest.PostAsync("/tools/lookup", new StringContent(sop))).Content.ReadAsStringAsync())!.AsArray();
            foreach (var old in before.Where(n => n!["Type"]!.GetValue<string>() == "Instance"))
                await fx.Rest.DeleteAsync(old!["Path"]!.GetValue<string>());

            var r = Peers.Run("storescu", "-v", "-xf", ConfigFor(path, dir), "Own", "-aec", DicomServerFixture.Aet, "127.0.0.1", Port, path);
            // Files without a Patient ID (ExplVR_BigEnd, GDCMJ2K_TextGBR) are stored too, under the empty one, as Orthanc does.
            Assert.True(r.ExitCode == 0 && !r.Stderr.Contains("E: "), $"storescu {name}: {r.Stderr} {r.Stdout}");
            var found = JsonNode.Parse(await (await fx.Rest.PostAsync("/tools/lookup", new StringContent(sop))).Content.ReadAsStringAsync())!.AsArray();
            var instance = found.Single(n => n!["Type"]!.GetValue<string>() == "Instance")!["ID"]!.GetValue<string>();
            var stored = DicomFile.Open(await fx.Rest.GetByteArrayAsync($"/instances/{instance}/file"));
            Assert.Equal(original.TransferSyntax, stored.TransferSyntax);
            Assert.Equal(DicomServerFixture.FindScuAet is var _ ? "STORESCU" : "", stored.FileMetaInfo.GetString(DicomTags.SourceApplicationEntityTitle));
            var metadata = await GetJsonAsync(fx.Rest, $"/instances/{instance}/metadata?expand");
            Assert.Equal("DicomProtocol", metadata["Origin"]!.GetValue<string>());
            Assert.Equal("STORESCU", metadata["RemoteAET"]!.GetValue<string>());
            Assert.Equal(DicomServerFixture.Aet, metadata["CalledAET"]!.GetValue<string>());
            // Every element arrived with its value (group lengths aside: DCMTK may add or drop them).
            // Data Set Trailing Padding (FFFC,FFFC) may be dropped by a sender (PS3.10 §7.2), and DCMTK does.
            var expected = original.Dataset.Where(i => !i.Tag.IsGroupLength && i.Tag.Value != 0xFFFCFFFC).Select(i => i.Tag).ToList();
            var actual = stored.Dataset.Where(i => !i.Tag.IsGroupLength).Select(i => i.Tag).ToList();
            Assert.Equal(expected, actual);
            foreach (var item in original.Dataset.OfType<DicomElement>().Where(e => !e.Tag.IsGroupLength && e.VR.Kind != VRKind.Bytes))
                Assert.Equal(original.Dataset.GetString(item.Tag), stored.Dataset.GetString(item.Tag));
        }
        finally { Directory.Delete(dir, true); }
    }

    private static List<Dictionary<string, string>> ParseFindAnswers(string output)
    {
        // findscu -v prints each answer as a dump, after "Find Response: N (Pending)".
        var answers = new List<Dictionary<string, string>>();
        Dictionary<string, string>? current = null;
        foreach (var line in output.Split('\n'))
        {
            if (line.Contains("(Pending)")) { current = []; answers.Add(current); continue; }
            var m = Regex.Match(line, @"\(([0-9a-f]{4}),([0-9a-f]{4})\) \w\w (?:\[(.*?)\]|\(no value available\))");
            if (m.Success && current is not null) current[$"{m.Groups[1].Value},{m.Groups[2].Value}"] = m.Groups[3].Value.TrimEnd(' ', '\0');
        }
        return answers;
    }

    [Theory]
    [InlineData("-P", "PATIENT", "0010,0020")]
    [InlineData("-S", "STUDY", "0020,000d")]
    [InlineData("-S", "SERIES", "0020,000e")]
    [InlineData("-S", "IMAGE", "0008,0018")]
    [InlineData("-P", "STUDY", "0020,000d")]
    public async Task Findscu_answers_match_the_index_at_each_level(string root, string level, string uniqueKey)
    {
        foreach (var f in new[] { "CT_small.dcm", "MR_small.dcm", "rtplan.dcm" }) await UploadAsync(fx.Rest, Sample(f));
        var r = Peers.Run("findscu", "-v", root, "-aet", DicomServerFixture.FindScuAet, "-aec", DicomServerFixture.Aet,
            "-k", $"QueryRetrieveLevel={level}", "-k", "PatientName=Compressed*", "-k", "PatientID", "-k", uniqueKey,
            "127.0.0.1", Port);
        Assert.True(r.ExitCode == 0, r.Stderr);
        var answers = ParseFindAnswers(r.Stderr + r.Stdout);
        var levelName = level switch { "PATIENT" => "Patient", "STUDY" => "Study", "SERIES" => "Series", _ => "Instance" };
        var index = await PostJsonAsync(fx.Rest, "/tools/find", new { Level = levelName, Query = new { PatientName = "Compressed*" }, Expand = true });
        var tagName = uniqueKey switch { "0010,0020" => "PatientID", "0020,000d" => "StudyInstanceUID", "0020,000e" => "SeriesInstanceUID", _ => "SOPInstanceUID" };
        var expected = index.AsArray().Select(n => n!["MainDicomTags"]![tagName]?.GetValue<string>()).Order().ToList();
        var actual = answers.Select(a => a.GetValueOrDefault(uniqueKey)).Order().ToList();
        Assert.NotEmpty(expected);
        Assert.Equal(expected, actual);
        Assert.All(answers, a => Assert.StartsWith("CompressedSamples", a["0010,0010"]));
    }

    [Fact]
    public void Findscu_from_an_unknown_aet_is_refused()
    {
        var r = Peers.Run("findscu", "-S", "-aet", "STRANGER", "-aec", DicomServerFixture.Aet, "-k", "QueryRetrieveLevel=STUDY", "127.0.0.1", Port);
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("No Acceptable Presentation Contexts", r.Stderr + r.Stdout);
    }

    [Fact]
    public async Task Movescu_sends_the_study_to_storescp()
    {
        var up = await UploadAsync(fx.Rest, Sample("MR_small.dcm"));
        var studyUid = DicomFile.Open(Sample("MR_small.dcm")).Dataset.GetString(DicomTags.StudyInstanceUID)!;
        var r = Peers.Run("movescu", "-v", "-S", "-aet", DicomServerFixture.FindScuAet, "-aec", DicomServerFixture.Aet, "-aem", DicomServerFixture.StoreScpAet,
            "-k", "QueryRetrieveLevel=STUDY", "-k", $"StudyInstanceUID={studyUid}", "127.0.0.1", Port);
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Contains("Received Final Move Response (Success)", r.Stderr + r.Stdout);
        var sop = DicomFile.Open(Sample("MR_small.dcm")).Dataset.GetString(DicomTags.SOPInstanceUID)!;
        var arrived = Directory.GetFiles(fx.StoreScpFolder).Select(f => DicomFile.Open(f).Dataset.GetString(DicomTags.SOPInstanceUID)).ToList();
        Assert.Contains(sop, arrived);
    }

    [Fact]
    public void Movescu_to_an_unknown_destination_fails_with_A801()
    {
        var r = Peers.Run("movescu", "-v", "-S", "-aet", DicomServerFixture.FindScuAet, "-aec", DicomServerFixture.Aet, "-aem", "UNKNOWNDEST",
            "-k", "QueryRetrieveLevel=STUDY", "-k", "StudyInstanceUID=1.2.3", "127.0.0.1", Port);
        Assert.Contains("Received Final Move Response (Refused: MoveDestinationUnknown)", r.Stderr + r.Stdout);
    }

    [Fact]
    public async Task Getscu_receives_the_series_on_the_same_association()
    {
        await UploadAsync(fx.Rest, Sample("CT_small.dcm"));
        var ds = DicomFile.Open(Sample("CT_small.dcm")).Dataset;
        var dir = Directory.CreateTempSubdirectory("ow-get-").FullName;
        try
        {
            var r = Peers.Run("getscu", "-v", "-S", "-aet", DicomServerFixture.FindScuAet, "-aec", DicomServerFixture.Aet, "-od", dir,
                "-k", "QueryRetrieveLevel=SERIES", "-k", $"StudyInstanceUID={ds.GetString(DicomTags.StudyInstanceUID)}",
                "-k", $"SeriesInstanceUID={ds.GetString(DicomTags.SeriesInstanceUID)}", "127.0.0.1", Port);
            Assert.True(r.ExitCode == 0, r.Stderr);
            var files = Directory.GetFiles(dir);
            Assert.Single(files);
            Assert.Equal(ds.GetString(DicomTags.SOPInstanceUID), DicomFile.Open(files[0]).Dataset.GetString(DicomTags.SOPInstanceUID));
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public async Task Our_scu_echoes_and_stores_to_storescp_through_rest()
    {
        var echo = await fx.Rest.PostAsync("/modalities/storescp/echo", new StringContent(""));
        Assert.True(echo.IsSuccessStatusCode, await echo.Content.ReadAsStringAsync());
        var failed = await fx.Rest.PostAsync("/modalities/nowhere/echo", new StringContent(""));
        Assert.Equal(500, (int)failed.StatusCode);

        var up = await UploadAsync(fx.Rest, Sample("rtdose.dcm"));
        var store = await fx.Rest.PostAsync("/modalities/storescp/store", new StringContent(up["ParentStudy"]!.GetValue<string>()));
        var body = JsonNode.Parse(await store.Content.ReadAsStringAsync())!;
        Assert.True(store.IsSuccessStatusCode, body.ToJsonString());
        Assert.Equal(1, body["InstancesCount"]!.GetValue<int>());
        Assert.Equal(0, body["FailedInstancesCount"]!.GetValue<int>());
        var sop = DicomFile.Open(Sample("rtdose.dcm")).Dataset.GetString(DicomTags.SOPInstanceUID);
        Assert.Contains(sop, Directory.GetFiles(fx.StoreScpFolder).Select(f => DicomFile.Open(f).Dataset.GetString(DicomTags.SOPInstanceUID)));
        var modalities = await GetJsonAsync(fx.Rest, "/modalities");
        Assert.Contains("storescp", Ids(modalities));
    }

    [Fact]
    public async Task Our_scu_decompresses_for_a_peer_that_only_takes_uncompressed()
    {
        // storescp accepts uncompressed syntaxes only (its default): a JPEG instance must be decoded on the way.
        var path = Sample("SC_rgb_jpeg_gdcm.dcm");
        var original = DicomFile.Open(path);
        var sop = original.Dataset.GetString(DicomTags.SOPInstanceUID)!;
        foreach (var old in JsonNode.Parse(await (await fx.Rest.PostAsync("/tools/lookup", new StringContent(sop))).Content.ReadAsStringAsync())!.AsArray()
                     .Where(n => n!["Type"]!.GetValue<string>() == "Instance"))
            await fx.Rest.DeleteAsync(old!["Path"]!.GetValue<string>());
        var up = await UploadAsync(fx.Rest, path);
        var store = await fx.Rest.PostAsync("/modalities/storescp/store", new StringContent(up["ID"]!.GetValue<string>()));
        var body = JsonNode.Parse(await store.Content.ReadAsStringAsync())!;
        Assert.True(store.IsSuccessStatusCode && body["FailedInstancesCount"]!.GetValue<int>() == 0, body.ToJsonString());
        var received = Directory.GetFiles(fx.StoreScpFolder).Select(f => DicomFile.Open(f)).Single(f => f.Dataset.GetString(DicomTags.SOPInstanceUID) == sop);
        Assert.True(received.TransferSyntax.IsUncompressed);
        Assert.Equal("RGB", received.Dataset.GetString(DicomTags.PhotometricInterpretation));
        var expected = OrthancWeb.Dicom.Imaging.CodecRegistry.Default.DecodeFrame(new OrthancWeb.Dicom.Imaging.FrameSource(original.Dataset, original.TransferSyntax), 0).Data;
        Assert.Equal(expected, received.Dataset.GetBytes(DicomTags.PixelData).ToArray()[..expected.Length]);
    }

    [Fact]
    public async Task Garbage_on_the_port_is_dropped_and_the_listener_keeps_serving()
    {
        foreach (var payload in new[]
        {
            "GET / HTTP/1.1\r\n\r\n"u8.ToArray(),
            new byte[] { 0x01, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0 }, // A-ASSOCIATE-RQ claiming 4 GB
            new byte[] { 0x04, 0x00, 0x00, 0x00, 0x10, 0x00, 1, 2, 3 }, // P-DATA before any association
        })
        {
            using var tcp = new TcpClient();
            await tcp.ConnectAsync("127.0.0.1", fx.DicomPort);
            await tcp.GetStream().WriteAsync(payload);
            var buffer = new byte[64];
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            // The server must drop the connection promptly (A-ABORT or close), not wait for more bytes.
            try { while (await tcp.GetStream().ReadAsync(buffer, timeout.Token) > 0) { } } catch (IOException) { }
        }
        var r = Peers.Run("echoscu", "-aec", DicomServerFixture.Aet, "127.0.0.1", Port);
        Assert.Equal(0, r.ExitCode);
    }

    [Fact]
    public async Task Twenty_concurrent_storescu_associations_all_succeed()
    {
        var dir = Directory.CreateTempSubdirectory("ow-conc-").FullName;
        try
        {
            var files = Enumerable.Range(0, 20).Select(i =>
            {
                var path = Path.Combine(dir, $"{i}.dcm");
                File.WriteAllBytes(path, Server.StoreBehaviourTests.Instance($"CONC-{i}", i, 32 * 1024));
                return path;
            }).ToArray();
            var runs = await Task.WhenAll(files.Select(f => Task.Run(() => Peers.Run("storescu", "-aec", DicomServerFixture.Aet, "127.0.0.1", Port, f))));
            Assert.All(runs, r => Assert.True(r.ExitCode == 0, r.Stderr));
            foreach (var i in Enumerable.Range(0, 20))
            {
                var found = await PostJsonAsync(fx.Rest, "/tools/find", new { Level = "Patient", Query = new { PatientID = $"CONC-{i}" } });
                Assert.Single(found.AsArray());
            }
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public async Task Storescu_of_an_instance_whose_header_outgrows_the_bytes_kept_in_memory_is_indexed_from_its_file()
    {
        // A 400 KB private element before the pixel data: the ingest keeps the first 256 KB in memory, so it parses this
        // header from the file, which it reads back only once the disk has it (the write runs beside the parse).
        var dir = Directory.CreateTempSubdirectory("ow-longhdr-").FullName;
        try
        {
            var ds = Server.StoreBehaviourTests.CtSlice("LONGHEADER", 1);
            ds.Add(DicomTags.StudyDescription, "LONG HEADER");
            ds.Add(new DicomTag(0x0009, 0x0010), DicomVR.LO, "ORTHANCWEB TEST");
            var blob = new byte[400 * 1024];
            new Random(9).NextBytes(blob);
            ds.AddBytes(new DicomTag(0x0009, 0x1001), DicomVR.OB, blob);
            ds.Add(DicomTags.Rows, (ushort)64).Add(DicomTags.Columns, (ushort)64).Add(DicomTags.BitsAllocated, (ushort)16);
            ds.AddBytes(DicomTags.PixelData, DicomVR.OW, new byte[64 * 64 * 2]);
            var file = new DicomFile(ds, TransferSyntax.ExplicitVRLittleEndian);
            file.UpdateFileMetaInfo();
            var path = Path.Combine(dir, "long.dcm");
            File.WriteAllBytes(path, file.ToBytes());

            var r = Peers.Run("storescu", "-aec", DicomServerFixture.Aet, "127.0.0.1", Port, path);
            Assert.True(r.ExitCode == 0 && !r.Stderr.Contains("E: "), r.Stderr);
            var study = Assert.Single((await PostJsonAsync(fx.Rest, "/tools/find", new { Level = "Study", Query = new { PatientID = "LONGHEADER" }, Expand = true })).AsArray())!;
            Assert.Equal("LONG HEADER", study["MainDicomTags"]!["StudyDescription"]!.GetValue<string>());
            var id = Assert.Single((await PostJsonAsync(fx.Rest, "/tools/find", new { Level = "Instance", Query = new { PatientID = "LONGHEADER" } })).AsArray())!.GetValue<string>();
            var bytes = await fx.Rest.GetByteArrayAsync($"/instances/{id}/file");
            Assert.Equal(blob, DicomFile.Open(bytes).Dataset.GetBytes(new DicomTag(0x0009, 0x1001)).ToArray());
            // Checksummed while the disk wrote it; the index row waited for both.
            Assert.Equal(Server.IndexFile.Checksum(bytes), Server.IndexFile.Attachment(fx.Server.DataDirectory, id).Checksum);
            Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.MD5.HashData(bytes)),
                await fx.Rest.GetStringAsync($"/instances/{id}/attachments/dicom/md5"));
        }
        finally { Directory.Delete(dir, true); }
    }
}
