using System.Text;
using System.Text.Json.Nodes;
using OrthancWeb.Tests.Infrastructure;
using OrthancWeb.Tests.Server;

namespace OrthancWeb.Tests.DicomWeb;

/// <summary>
/// The DICOMweb origin server (PS3.18) over real HTTP, its answers checked against pydicom and dcmdump reading the same
/// files: QIDO-RS matching and return keys, WADO-RS instances, metadata, frames, bulk data and images, STOW-RS and its
/// failures, WADO-URI, authentication and the audit trail.
/// </summary>
public sealed class DicomWebServerTests(DicomWebFixture fx) : IClassFixture<DicomWebFixture>
{
    private static string? Value(JsonNode? dataset, string tag) => dataset?[tag]?["Value"]?[0] switch
    {
        null => null,
        JsonObject pn => pn["Alphabetic"]?.GetValue<string>(),
        var v => v.ToString(),
    };

    // ---- QIDO-RS ----

    [Fact]
    public async Task QIDO_matches_names_case_insensitively_dates_by_range_and_UIDs_by_list()
    {
        var (ct, mr) = (DicomWebFixture.Uids("CT_small.dcm"), DicomWebFixture.Uids("MR_small_RLE.dcm"));

        // The studies whose patient's name starts so, as dcmdump reads the files: CT, MR and the JPEG 2000 sample.
        var named = DicomWebFixture.Files.Where(f => Peers.Run("dcmdump", "+P", "PatientName", DicomWebFixture.Sample(f)).Stdout.Contains("[CompressedSamples", StringComparison.Ordinal))
            .Select(f => DicomWebFixture.Uids(f).Study).Distinct().Order().ToList();
        Assert.Contains(ct.Study, named);
        var byName = await fx.JsonAsync("/studies?PatientName=compressedsamples*");
        Assert.Equal(named, byName.Select(s => Value(s, "0020000D")!).Order());

        var byDate = await fx.JsonAsync("/studies?StudyDate=20040101-20040731");
        Assert.Contains(ct.Study, byDate.Select(s => Value(s, "0020000D")));
        Assert.DoesNotContain(mr.Study, byDate.Select(s => Value(s, "0020000D"))); // MR_small is of 2004-08-26
        Assert.All(byDate, s => Assert.InRange(Value(s, "00080020")!, "20040101", "20040731"));

        var byList = await fx.JsonAsync($"/studies?StudyInstanceUID={ct.Study},{mr.Study}");
        Assert.Equal(2, byList.Count);

        var byModality = await fx.JsonAsync("/studies?ModalitiesInStudy=MR");
        Assert.Equal(mr.Study, Assert.Single(byModality)!["0020000D"]!["Value"]![0]!.ToString());
    }

    [Fact]
    public async Task QIDO_study_answers_carry_the_default_keys_counts_and_included_fields()
    {
        var dose = DicomWebFixture.Uids("rtdose.dcm");
        var study = Assert.Single(await fx.JsonAsync($"/studies?StudyInstanceUID={dose.Study}&includefield=StudyDescription,00081030"))!;
        Assert.Equal("1", Value(study, "00201206")); // NumberOfStudyRelatedSeries
        Assert.Equal("1", Value(study, "00201208")); // NumberOfStudyRelatedInstances
        Assert.Equal("RTDOSE", Value(study, "00080061"));
        Assert.Equal("ONLINE", Value(study, "00080056"));
        Assert.Equal($"{fx.Root}/studies/{dose.Study}", Value(study, "00081190"));
        foreach (var tag in new[] { "00080020", "00080030", "00080050", "00080090", "00100010", "00100020", "00100030", "00100040", "00200010", "00081030" })
            Assert.True(study.AsObject().ContainsKey(tag), $"{tag} missing from {study.ToJsonString()}");
    }

    [Fact]
    public async Task QIDO_pages_with_limit_and_offset()
    {
        var all = await fx.JsonAsync("/studies");
        Assert.Equal(DicomWebFixture.Files.Select(f => DicomWebFixture.Uids(f).Study).Distinct().Count(), all.Count);
        var second = Assert.Single(await fx.JsonAsync("/studies?limit=1&offset=1"));
        Assert.Equal(Value(all[1], "0020000D"), Value(second, "0020000D"));
        Assert.Empty(await fx.JsonAsync($"/studies?offset={all.Count}"));
    }

    [Fact]
    public async Task QIDO_instances_give_SOP_class_and_image_size_and_match_on_them()
    {
        var ct = DicomWebFixture.Uids("CT_small.dcm");
        var instance = Assert.Single(await fx.JsonAsync($"/studies/{ct.Study}/series/{ct.Series}/instances"))!;
        Assert.Equal("1.2.840.10008.5.1.4.1.1.2", Value(instance, "00080016"));
        Assert.Equal(ct.Instance, Value(instance, "00080018"));
        Assert.Equal(("128", "128", "16"), (Value(instance, "00280010"), Value(instance, "00280011"), Value(instance, "00280100")));
        Assert.Equal($"{fx.Root}/studies/{ct.Study}/series/{ct.Series}/instances/{ct.Instance}", Value(instance, "00081190"));

        var doses = await fx.JsonAsync("/instances?SOPClassUID=1.2.840.10008.5.1.4.1.1.481.2");
        Assert.Equal(DicomWebFixture.Uids("rtdose.dcm").Instance, Value(Assert.Single(doses), "00080018"));
        // Rows is no main tag: matched on the instance's JSON row.
        var rows = await fx.JsonAsync("/instances?Rows=128");
        Assert.Contains(ct.Instance, rows.Select(i => Value(i, "00080018")));
        Assert.All(rows, i => Assert.Equal("128", Value(i, "00280010")));
        // includefield=all: every attribute of the instance but bulk data.
        var full = Assert.Single(await fx.JsonAsync($"/studies/{ct.Study}/series/{ct.Series}/instances?includefield=all"))!;
        Assert.Equal("CT", Value(full, "00080060"));
        Assert.False(full.AsObject().ContainsKey("7FE00010"));
    }

    [Fact]
    public async Task QIDO_refuses_unknown_keys_and_warns_of_what_it_ignores()
    {
        var (bad, body) = await fx.GetAsync("/studies?NoSuchKeyword=1");
        Assert.Equal(400, (int)bad.StatusCode);
        Assert.Contains("NoSuchKeyword", Encoding.UTF8.GetString(body));
        var (fuzzy, _) = await fx.GetAsync("/studies?fuzzymatching=true", "application/dicom+json");
        Assert.Equal(200, (int)fuzzy.StatusCode);
        Assert.Contains(fuzzy.Headers.GetValues("Warning"), w => w.StartsWith("299 ", StringComparison.Ordinal) && w.Contains("fuzzymatching"));
        var (xml, _) = await fx.GetAsync("/studies", "application/pdf");
        Assert.Equal(406, (int)xml.StatusCode);
        // What the Warning echoes (a parameter, non-ASCII here) never turns the answer into a failure.
        var (echoed, _) = await fx.GetAsync("/studies?includefield=P%C3%A4tient.Name", "application/dicom+json");
        Assert.Equal(200, (int)echoed.StatusCode);
        Assert.Contains(echoed.Headers.GetValues("Warning"), w => w.Contains("includefield P?tient.Name"));
    }

    [Fact]
    public async Task QIDO_and_metadata_answer_PS3_19_XML_when_asked()
    {
        var ct = DicomWebFixture.Uids("CT_small.dcm");
        var (response, body) = await fx.GetAsync($"/studies?StudyInstanceUID={ct.Study}", "multipart/related; type=\"application/dicom+xml\"");
        var part = Assert.Single(await DicomWebFixture.PartsAsync(response, body));
        Assert.Equal("application/dicom+xml", part.ContentType);
        var path = Path.Combine(Path.GetTempPath(), $"ow-dicomweb-{Guid.NewGuid():N}.xml");
        try
        {
            File.WriteAllBytes(path, part.Body);
            // Python's own XML parser reads the document: the patient's family name and the study UID where PS3.19 puts them.
            const string script =
                "import sys, xml.etree.ElementTree as ET\n" +
                "ns = {'d': 'http://dicom.nema.org/PS3.19/models/NativeDICOM'}\n" +
                "root = ET.parse(sys.argv[1]).getroot()\n" +
                "print(root.find(\"d:DicomAttribute[@tag='00100010']/d:PersonName/d:Alphabetic/d:FamilyName\", ns).text)\n" +
                "print(root.find(\"d:DicomAttribute[@keyword='StudyInstanceUID']/d:Value[@number='1']\", ns).text)\n";
            var read = Peers.Run(Peers.DebianPython, "-c", script, path);
            Assert.True(read.ExitCode == 0, read.Stderr);
            Assert.Equal(["CompressedSamples", ct.Study], read.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        }
        finally { File.Delete(path); }

        var (metadata, metadataBody) = await fx.GetAsync($"/studies/{ct.Study}/metadata", "multipart/related; type=\"application/dicom+xml\"");
        Assert.Contains("<BulkData uri=\"", Encoding.UTF8.GetString(Assert.Single(await DicomWebFixture.PartsAsync(metadata, metadataBody)).Body));
    }

    // ---- WADO-RS metadata ----

    [Theory]
    [MemberData(nameof(SampleFiles))]
    public async Task Metadata_is_what_pydicom_reads_in_the_file(string file)
    {
        var uids = DicomWebFixture.Uids(file);
        var ours = Assert.Single(await fx.JsonAsync($"/studies/{uids.Study}/series/{uids.Series}/instances/{uids.Instance}/metadata"))!.AsObject();
        var reference = JsonNode.Parse(DicomWebFixture.Pydicom("json", DicomWebFixture.Sample(file)))!.AsObject();
        CompareDataset(reference, ours, file);
        // Pixel data are announced by a BulkDataURI that serves them (F.2.7).
        if (ours["7FE00010"] is { } pixels) Assert.StartsWith($"{fx.Root}/studies/{uids.Study}/", pixels["BulkDataURI"]!.GetValue<string>());
    }

    public static TheoryData<string> SampleFiles() => [.. DicomWebFixture.Files];

    private static void CompareDataset(JsonObject reference, JsonObject ours, string where)
    {
        foreach (var (tag, expected) in reference)
        {
            if (tag.EndsWith("0000", StringComparison.Ordinal)) continue; // group lengths are not in the model (F.2.1)
            if (tag == "FFFCFFFC") continue; // trailing padding past the pixel data, meaningless by PS3.10 7.2: not kept
            Assert.True(ours.ContainsKey(tag), $"{where}: {tag} missing");
            var actual = ours[tag]!;
            Assert.Equal(expected!["vr"]!.GetValue<string>(), actual["vr"]!.GetValue<string>());
            if (expected["BulkDataURI"] is not null) { Assert.NotNull(actual["BulkDataURI"]); continue; }
            if (expected["InlineBinary"] is { } inline) { Assert.Equal(inline.GetValue<string>(), actual["InlineBinary"]?.GetValue<string>()); continue; }
            var (e, a) = (expected["Value"] as JsonArray ?? [], actual["Value"] as JsonArray ?? []);
            Assert.True(e.Count == a.Count, $"{where}: {tag} has {a.Count} values, pydicom {e.Count}");
            for (var i = 0; i < e.Count; i++)
            {
                switch (e[i])
                {
                    case JsonObject item when expected["vr"]!.GetValue<string>() == "SQ":
                        CompareDataset(item, a[i]!.AsObject(), $"{where} {tag}[{i}]");
                        break;
                    case JsonValue v when v.TryGetValue<double>(out var number):
                        // FL values: pydicom widens the float exactly, we print its shortest text; the same float either way.
                        Assert.Equal(number, a[i]!.GetValue<double>(), Math.Abs(number) * 1e-7 + 1e-12);
                        break;
                    default:
                        Assert.True(JsonNode.DeepEquals(e[i], a[i]), $"{where}: {tag}[{i}] is {a[i]?.ToJsonString()}, pydicom {e[i]?.ToJsonString()}");
                        break;
                }
            }
        }
    }

    [Fact]
    public async Task Series_metadata_and_searches_are_served_without_reading_the_files()
    {
        var folder = Directory.CreateTempSubdirectory("ow-dicomweb-nofiles-").FullName;
        try
        {
            await using var server = await ServerProcess.StartAsync(folder);
            using var client = server.CreateRestClient();
            var series = GeneratedInstances.Series("NOFILES", "1.2.826.0.1.3680043.10.1017.1", 5);
            foreach (var i in series) Assert.True((await client.PostAsync("/instances", new ByteArrayContent(i.Bytes))).IsSuccessStatusCode);
            var root = $"http://127.0.0.1:{server.HttpPort}/dicom-web";
            var seriesMetadata = $"{root}/studies/{series[0].StudyUid}/series/{series[0].SeriesUid}/metadata";
            var fromRows = await client.GetStringAsync(seriesMetadata);
            // An index from before the rows were kept: the first request builds them from the files, and keeps them.
            long Rows()
            {
                using var db = IndexFile.Open(server.DataDirectory);
                using var command = db.CreateCommand();
                command.CommandText = "SELECT COUNT(*) FROM \"InstanceJson\"";
                return (long)command.ExecuteScalar()!;
            }
            using (var db = IndexFile.Open(server.DataDirectory))
            using (var delete = db.CreateCommand())
            {
                delete.CommandText = "DELETE FROM \"InstanceJson\"";
                Assert.Equal(5, delete.ExecuteNonQuery());
            }
            Assert.True(JsonNode.DeepEquals(JsonNode.Parse(fromRows), JsonNode.Parse(await client.GetStringAsync(seriesMetadata))), "metadata built from the files differs from the rows'");
            Assert.Equal(5, Rows());
            // The stored files gone: what DICOMweb answers now can only come from the index.
            foreach (var f in Directory.EnumerateFiles(Path.Combine(server.DataDirectory, "storage"), "*", SearchOption.AllDirectories)) File.Delete(f);
            var metadata = JsonNode.Parse(await client.GetStringAsync(seriesMetadata))!.AsArray();
            Assert.Equal(series.Select(i => i.SopUid).Order(), metadata.Select(m => Value(m, "00080018")!).Order());
            Assert.All(metadata, m => Assert.Equal("NOFILES", Value(m, "00100020")));
            var instances = JsonNode.Parse(await client.GetStringAsync($"{root}/studies/{series[0].StudyUid}/instances"))!.AsArray();
            Assert.Equal(5, instances.Count);
            Assert.All(instances, i => Assert.Equal("64", Value(i, "00280010")));
            // A retrieve needs the files: it fails, and says so.
            var retrieve = await client.GetAsync($"{root}/studies/{series[0].StudyUid}");
            Assert.False(retrieve.IsSuccessStatusCode);
        }
        finally { Directory.Delete(folder, true); }
    }

    [Fact]
    public async Task Metadata_and_searches_are_compressed_for_clients_that_accept_it()
    {
        var ct = DicomWebFixture.Uids("CT_small.dcm");
        var url = $"{fx.Root}/studies/{ct.Study}/series/{ct.Series}/metadata";
        var plain = await fx.Client.GetByteArrayAsync(url);
        foreach (var (encoding, decompress) in new (string, Func<Stream, Stream>)[]
                 {
                     ("br", s => new System.IO.Compression.BrotliStream(s, System.IO.Compression.CompressionMode.Decompress)),
                     ("gzip", s => new System.IO.Compression.GZipStream(s, System.IO.Compression.CompressionMode.Decompress)),
                 })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, url);
            request.Headers.TryAddWithoutValidation("Accept-Encoding", encoding);
            using var response = await fx.Client.SendAsync(request);
            Assert.Equal(encoding, Assert.Single(response.Content.Headers.ContentEncoding));
            using var unpacked = new MemoryStream();
            await using (var stream = decompress(await response.Content.ReadAsStreamAsync())) await stream.CopyToAsync(unpacked);
            Assert.Equal(plain, unpacked.ToArray());
        }
        // Pixel data is not compressed again: frames go as they are.
        using var frames = new HttpRequestMessage(HttpMethod.Get, $"{fx.Root}/studies/{ct.Study}/series/{ct.Series}/instances/{ct.Instance}/frames/1");
        frames.Headers.TryAddWithoutValidation("Accept-Encoding", "br");
        frames.Headers.TryAddWithoutValidation("Accept", "multipart/related; type=\"application/octet-stream\"");
        Assert.Empty((await fx.Client.SendAsync(frames)).Content.Headers.ContentEncoding);
    }

    // ---- WADO-RS instances, frames, bulk data, images ----

    [Fact]
    public async Task Retrieve_sends_the_stored_file_or_explicit_little_endian_and_refuses_what_it_cannot_encode()
    {
        var mr = DicomWebFixture.Uids("MR_small_RLE.dcm");
        var (asStored, body) = await fx.GetAsync($"/studies/{mr.Study}", "multipart/related; type=\"application/dicom\"; transfer-syntax=*");
        var part = Assert.Single(await DicomWebFixture.PartsAsync(asStored, body));
        Assert.Contains("transfer-syntax=1.2.840.10008.1.2.5", part.ContentType);
        Assert.Equal(DicomWebFixture.Sha256(File.ReadAllBytes(DicomWebFixture.Sample("MR_small_RLE.dcm"))), DicomWebFixture.Sha256(part.Body));

        // No transfer syntax asked: Explicit VR Little Endian (PS3.18 8.7.3.5.2), the RLE decoded to the pixels of its
        // uncompressed twin MR_small.dcm, as pydicom reads the file we sent.
        var (decoded, decodedBody) = await fx.GetAsync($"/studies/{mr.Study}/series/{mr.Series}/instances/{mr.Instance}", "multipart/related; type=\"application/dicom\"");
        var converted = Assert.Single(await DicomWebFixture.PartsAsync(decoded, decodedBody));
        Assert.Contains("transfer-syntax=1.2.840.10008.1.2.1", converted.ContentType);
        var path = Path.Combine(Path.GetTempPath(), $"ow-dicomweb-{Guid.NewGuid():N}.dcm");
        try
        {
            File.WriteAllBytes(path, converted.Body);
            Assert.Equal(DicomWebFixture.Pydicom("frame", DicomWebFixture.Sample("MR_small.dcm"), "1"), DicomWebFixture.Pydicom("frame", path, "1"));
            Assert.Contains("Little Endian Explicit", Peers.Run("dcmdump", path).Stdout);
        }
        finally { File.Delete(path); }

        // An unquoted type, as some clients write it: read, not taken for "anything".
        var (unquoted, unquotedBody) = await fx.GetAsync($"/studies/{mr.Study}", "multipart/related; type=application/dicom; transfer-syntax=*");
        Assert.Contains("transfer-syntax=1.2.840.10008.1.2.5", Assert.Single(await DicomWebFixture.PartsAsync(unquoted, unquotedBody)).ContentType);

        var (refused, _) = await fx.GetAsync($"/studies/{mr.Study}", "multipart/related; type=\"application/dicom\"; transfer-syntax=1.2.840.10008.1.2.4.50");
        Assert.Equal(406, (int)refused.StatusCode);
        // Several syntaxes accepted: each instance goes in the first that fits it. JPEG Baseline cannot be made from
        // RLE here, so the RLE instance goes as stored, the next acceptable syntax, rather than being refused.
        var (second, secondBody) = await fx.GetAsync($"/studies/{mr.Study}",
            "multipart/related; type=\"application/dicom\"; transfer-syntax=1.2.840.10008.1.2.4.50, multipart/related; type=\"application/dicom\"; transfer-syntax=1.2.840.10008.1.2.5;q=0.9, multipart/related; type=\"application/dicom\";q=0.5");
        Assert.Contains("transfer-syntax=1.2.840.10008.1.2.5", Assert.Single(await DicomWebFixture.PartsAsync(second, secondBody)).ContentType);
        var (missing, _) = await fx.GetAsync("/studies/1.2.3.4.5.6.7", "multipart/related; type=\"application/dicom\"");
        Assert.Equal(404, (int)missing.StatusCode);
    }

    [Fact]
    public async Task Frames_are_decoded_octets_or_the_stored_frames()
    {
        var mr = DicomWebFixture.Uids("MR_small_RLE.dcm");
        var url = $"/studies/{mr.Study}/series/{mr.Series}/instances/{mr.Instance}/frames/1";
        var (octets, body) = await fx.GetAsync(url, "multipart/related; type=\"application/octet-stream\"");
        Assert.Equal(DicomWebFixture.Pydicom("frame", DicomWebFixture.Sample("MR_small.dcm"), "1"), DicomWebFixture.Sha256(Assert.Single(await DicomWebFixture.PartsAsync(octets, body)).Body));

        var (stored, storedBody) = await fx.GetAsync(url, "multipart/related; type=\"application/octet-stream\"; transfer-syntax=*");
        var rle = Assert.Single(await DicomWebFixture.PartsAsync(stored, storedBody));
        Assert.StartsWith("image/x-dicom-rle", rle.ContentType);
        Assert.Equal(DicomWebFixture.Pydicom("frame", DicomWebFixture.Sample("MR_small_RLE.dcm"), "1"), DicomWebFixture.Sha256(rle.Body));

        var dose = DicomWebFixture.Uids("rtdose.dcm");
        var doseUrl = $"/studies/{dose.Study}/series/{dose.Series}/instances/{dose.Instance}/frames";
        var (frames, framesBody) = await fx.GetAsync(doseUrl + "/15,1");
        var parts = await DicomWebFixture.PartsAsync(frames, framesBody);
        Assert.Equal(DicomWebFixture.Pydicom("frame", DicomWebFixture.Sample("rtdose.dcm"), "15"), DicomWebFixture.Sha256(parts[0].Body));
        Assert.Equal(DicomWebFixture.Pydicom("frame", DicomWebFixture.Sample("rtdose.dcm"), "1"), DicomWebFixture.Sha256(parts[1].Body));

        // Frames answers declare their length up front (a decoded frame, a stored one, several uncompressed ones), so
        // they are not chunked; the length is right, or HttpClient would have failed to read the body.
        foreach (var response in new[] { octets, stored, frames }) Assert.NotEqual(true, response.Headers.TransferEncodingChunked);

        Assert.Equal(404, (int)(await fx.GetAsync(doseUrl + "/16")).Response.StatusCode);
        Assert.Equal(400, (int)(await fx.GetAsync(doseUrl + "/x")).Response.StatusCode);
        Assert.Equal(406, (int)(await fx.GetAsync(url, "multipart/related; type=\"image/jpeg\"")).Response.StatusCode);
    }

    [Fact]
    public async Task The_pixel_data_BulkDataURI_serves_the_pixels()
    {
        var ct = DicomWebFixture.Uids("CT_small.dcm");
        var metadata = Assert.Single(await fx.JsonAsync($"/studies/{ct.Study}/series/{ct.Series}/instances/{ct.Instance}/metadata"))!;
        var uri = metadata["7FE00010"]!["BulkDataURI"]!.GetValue<string>();
        var (response, body) = await fx.GetAsync(uri[fx.Root.Length..]);
        Assert.Equal(DicomWebFixture.Pydicom("frame", DicomWebFixture.Sample("CT_small.dcm"), "1"), DicomWebFixture.Sha256(Assert.Single(await DicomWebFixture.PartsAsync(response, body)).Body));
    }

    [Fact]
    public async Task Rendered_and_thumbnails_are_images_of_the_asked_size_and_type()
    {
        var ct = DicomWebFixture.Uids("CT_small.dcm");
        var instance = $"/studies/{ct.Study}/series/{ct.Series}/instances/{ct.Instance}";
        var (jpeg, jpegBody) = await fx.GetAsync(instance + "/rendered?window=40,400,linear&viewport=64,64&quality=80", "image/jpeg");
        Assert.Equal("image/jpeg", jpeg.Content.Headers.ContentType?.MediaType);
        Assert.Equal((64, 64), JpegSize(jpegBody));
        var (png, pngBody) = await fx.GetAsync(instance + "/frames/1/rendered", "image/png");
        Assert.Equal("image/png", png.Content.Headers.ContentType?.MediaType);
        Assert.Equal((128, 128), PngSize(pngBody));
        var (thumb, thumbBody) = await fx.GetAsync($"/studies/{ct.Study}/thumbnail?viewport=32,32", "image/png");
        Assert.Equal(200, (int)thumb.StatusCode);
        Assert.Equal((32, 32), PngSize(thumbBody));
        Assert.Equal(400, (int)(await fx.GetAsync(instance + "/rendered?window=40")).Response.StatusCode);
        Assert.Equal(406, (int)(await fx.GetAsync(instance + "/rendered", "application/pdf")).Response.StatusCode);
    }

    /// <summary>The Transfer Syntax UID of a Part 10 file, as dcmdump reads its meta group.</summary>
    private static string TransferSyntaxOf(byte[] file)
    {
        var path = Path.Combine(Path.GetTempPath(), $"ow-dicomweb-{Guid.NewGuid():N}.dcm");
        try
        {
            File.WriteAllBytes(path, file);
            return System.Text.RegularExpressions.Regex.Match(Peers.Run("dcmdump", "-M", "-Un", "+P", "0002,0010", path).Stdout, @"\[([0-9.]+)\]").Groups[1].Value;
        }
        finally { File.Delete(path); }
    }

    private static (int Width, int Height) PngSize(byte[] png) =>
        (System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(16)), System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(20)));

    /// <summary>The size in a JPEG's start-of-frame segment (ITU T.81 B.2.2).</summary>
    private static (int Width, int Height) JpegSize(byte[] jpeg)
    {
        for (var i = 2; i + 9 < jpeg.Length;)
        {
            if (jpeg[i] != 0xFF) break;
            var marker = jpeg[i + 1];
            var length = jpeg[i + 2] << 8 | jpeg[i + 3];
            if (marker is >= 0xC0 and <= 0xC3) return (jpeg[i + 7] << 8 | jpeg[i + 8], jpeg[i + 5] << 8 | jpeg[i + 6]);
            i += 2 + length;
        }
        throw new InvalidDataException("no start-of-frame segment");
    }

    // ---- STOW-RS ----

    [Fact]
    public async Task STOW_stores_each_good_part_and_lists_the_bad_ones()
    {
        var fresh = GeneratedInstances.Series("STOW1", "1.2.826.0.1.3680043.10.1017.2", 2);
        var (response, body) = await fx.StowAsync("/studies", [(fresh[0].Bytes, null), (Encoding.ASCII.GetBytes("not DICOM at all"), null), (fresh[1].Bytes, null)]);
        Assert.Equal(202, (int)response.StatusCode);
        var answer = JsonNode.Parse(body)!;
        Assert.Equal(fresh.Select(i => i.SopUid), answer["00081199"]!["Value"]!.AsArray().Select(i => Value(i, "00081155")));
        Assert.Equal("49152", Value(Assert.Single(answer["00081198"]!["Value"]!.AsArray()), "00081197")); // 0xC000
        Assert.Equal($"{fx.Root}/studies/{fresh[0].StudyUid}", Value(answer, "00081190"));
        Assert.Equal(2, (await fx.JsonAsync($"/studies/{fresh[0].StudyUid}/instances")).Count);

        var again = await fx.StowAsync("/studies", [(fresh[0].Bytes, null)]);
        Assert.Equal(200, (int)again.Response.StatusCode); // already stored is stored
    }

    [Fact]
    public async Task STOW_to_a_study_refuses_instances_of_another_and_stores_nothing_of_them()
    {
        var other = GeneratedInstances.Series("STOW2", "1.2.826.0.1.3680043.10.1017.3", 1)[0];
        var (response, body) = await fx.StowAsync("/studies/1.2.826.0.1.3680043.10.1017.999", [(other.Bytes, null)]);
        Assert.Equal(409, (int)response.StatusCode);
        var failed = Assert.Single(JsonNode.Parse(body)!["00081198"]!["Value"]!.AsArray())!;
        Assert.Equal(other.SopUid, Value(failed, "00081155"));
        Assert.Contains(response.Headers.GetValues("Warning"), w => w.Contains("not the study of the request"));
        Assert.Empty(await fx.JsonAsync($"/instances?SOPInstanceUID={other.SopUid}"));
    }

    [Fact]
    public async Task STOW_answers_malformed_bodies_with_a_reason_and_keeps_what_was_acknowledged()
    {
        var notMultipart = await fx.Client.PostAsync(fx.Root + "/studies", new ByteArrayContent(File.ReadAllBytes(DicomWebFixture.Sample("CT_small.dcm"))));
        Assert.Equal(415, (int)notMultipart.StatusCode);

        var jsonParts = new ByteArrayContent([]);
        jsonParts.Headers.TryAddWithoutValidation("Content-Type", "multipart/related; type=\"application/dicom+json\"; boundary=x");
        Assert.Equal(415, (int)(await fx.Client.PostAsync(fx.Root + "/studies", jsonParts)).StatusCode);

        // A part whose Content-Type does not parse is refused on its own; the answer still lists it.
        var badType = await fx.StowAsync("/studies", [(GeneratedInstances.Series("STOW4", "1.2.826.0.1.3680043.10.1017.5", 1)[0].Bytes, "application/dicom; ===")]);
        Assert.True((int)badType.Response.StatusCode is 200 or 409, badType.Body);

        var wrongBoundary = new ByteArrayContent(Encoding.ASCII.GetBytes("--other\r\nContent-Type: application/dicom\r\n\r\nxx\r\n--other--\r\n"));
        wrongBoundary.Headers.TryAddWithoutValidation("Content-Type", "multipart/related; type=\"application/dicom\"; boundary=expected");
        var wrong = await fx.Client.PostAsync(fx.Root + "/studies", wrongBoundary);
        Assert.Equal(400, (int)wrong.StatusCode);
        Assert.Contains("multipart", await wrong.Content.ReadAsStringAsync());

        // A body cut in the middle of its second part: the first, complete and acknowledged, stays.
        var fresh = GeneratedInstances.Series("STOW3", "1.2.826.0.1.3680043.10.1017.4", 2);
        var full = new MemoryStream();
        full.Write(Encoding.ASCII.GetBytes("--cut\r\nContent-Type: application/dicom\r\n\r\n"));
        full.Write(fresh[0].Bytes);
        full.Write(Encoding.ASCII.GetBytes("\r\n--cut\r\nContent-Type: application/dicom\r\n\r\n"));
        full.Write(fresh[1].Bytes.AsSpan(0, 1000));
        var cut = new ByteArrayContent(full.ToArray());
        cut.Headers.TryAddWithoutValidation("Content-Type", "multipart/related; type=\"application/dicom\"; boundary=cut");
        var partial = await fx.Client.PostAsync(fx.Root + "/studies", cut);
        Assert.Equal(202, (int)partial.StatusCode);
        var instances = await fx.JsonAsync($"/studies/{fresh[0].StudyUid}/instances");
        Assert.Equal(fresh[0].SopUid, Value(Assert.Single(instances), "00080018"));
    }

    // ---- WADO-URI, authentication, audit ----

    [Fact]
    public async Task WADO_URI_sends_the_file_or_a_JPEG()
    {
        var ct = DicomWebFixture.Uids("CT_small.dcm");
        var query = $"requestType=WADO&studyUID={ct.Study}&seriesUID={ct.Series}&objectUID={ct.Instance}";
        var file = await fx.Client.GetAsync($"/wado?{query}&contentType=application/dicom");
        Assert.Equal("application/dicom", file.Content.Headers.ContentType?.MediaType);
        Assert.Equal(File.ReadAllBytes(DicomWebFixture.Sample("CT_small.dcm")), await file.Content.ReadAsByteArrayAsync());
        // Explicit VR Little Endian unless another syntax is named (PS3.18 8.2.11); the stored RLE when named.
        var mr = DicomWebFixture.Uids("MR_small_RLE.dcm");
        var mrQuery = $"requestType=WADO&studyUID={mr.Study}&seriesUID={mr.Series}&objectUID={mr.Instance}&contentType=application/dicom";
        var explicitLe = await fx.Client.GetByteArrayAsync($"/wado?{mrQuery}");
        Assert.Equal("1.2.840.10008.1.2.1", TransferSyntaxOf(explicitLe));
        Assert.Equal(File.ReadAllBytes(DicomWebFixture.Sample("MR_small_RLE.dcm")), await fx.Client.GetByteArrayAsync($"/wado?{mrQuery}&transferSyntax=1.2.840.10008.1.2.5"));
        var jpeg = await fx.Client.GetAsync($"/wado?{query}&rows=32");
        Assert.Equal("image/jpeg", jpeg.Content.Headers.ContentType?.MediaType);
        Assert.Equal((32, 32), JpegSize(await jpeg.Content.ReadAsByteArrayAsync()));
        Assert.Equal(400, (int)(await fx.Client.GetAsync($"/wado?requestType=WADO&studyUID={ct.Study}")).StatusCode);
    }

    [Fact]
    public async Task DICOMweb_needs_a_login_and_its_reads_are_in_the_audit_trail()
    {
        using var anonymous = new HttpClient();
        Assert.Equal(401, (int)(await anonymous.GetAsync(fx.Root + "/studies")).StatusCode);

        var dose = DicomWebFixture.Uids("rtdose.dcm");
        await fx.JsonAsync($"/studies/{dose.Study}/series/{dose.Series}/metadata");
        await fx.JsonAsync($"/studies?StudyInstanceUID={dose.Study}");
        await Rest.GetJsonAsync(fx.Client, "/audit/verify"); // the trail is written in the background: this waits for what is queued
        // The series' metadata at series level (the metadata theory reads this study at instance level), and the search by its UID.
        var trail = await Rest.GetJsonAsync(fx.Client, "/audit?action=View&limit=200");
        Assert.Contains(trail.AsArray(), e => e!["StudyInstanceUID"]?.ToString() == dose.Study && e["ResourceLevel"]?.ToString() == "Series"
            && e["Details"]?.ToString() == "WADO-RS metadata: 1 instance(s)" && e["PatientID"]?.ToString() is { Length: > 0 });
        var queries = await Rest.GetJsonAsync(fx.Client, "/audit?action=Query&limit=200");
        Assert.Contains(queries.AsArray(), e => e!["StudyInstanceUID"]?.ToString() == dose.Study && e["Details"]?.ToString() == "QIDO-RS Study: 1 match(es) for 1 key(s)");
    }
}
