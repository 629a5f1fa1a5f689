using System.Text.Json.Nodes;
using OrthancWeb.Tests.Infrastructure;
using OrthancWeb.Tests.Server;

namespace OrthancWeb.Tests.Compatibility;

/// <summary>
/// Both servers with pydicom's samples, three more of its files (RGB in RLE over two frames, a lossy JPEG, a YBR JPEG)
/// two CT files of one series whose comment and description are longer than the 256 characters orthanc shows, and an
/// image in Elscint's private PMSCT_RLE1 compression.
/// </summary>
public sealed class MoreRoutesFixture : OrthancDifferentialFixture, IAsyncLifetime
{
    public string Folder { get; } = Directory.CreateTempSubdirectory("ow-more-routes-").FullName;

    /// <summary>A file of a patient of its own, sent only by the change-log test.</summary>
    public string Later => Path.Combine(Folder, "later.dcm");

    protected override async Task LoadAsync()
    {
        await base.LoadAsync();
        var made = Peers.Run(Peers.DebianPython, "-c", $$"""
            import pydicom, pydicom.data, warnings
            warnings.simplefilter("ignore")
            for i, name in enumerate(['long0', 'long1', 'later']):
                ds = pydicom.dcmread(pydicom.data.get_testdata_file('CT_small.dcm'))
                ds.PatientID = 'LATER' if name == 'later' else 'LONG'
                ds.PatientComments = 'x' * 300; ds.StudyDescription = 'y' * (300 + i)
                ds.SeriesInstanceUID = '1.2.826.0.1.3680043.8.498.90%d' % (9 if name == 'later' else 1)
                ds.SOPInstanceUID = '1.2.826.0.1.3680043.8.498.91%d' % i; ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
                ds.save_as('{{Folder}}/%s.dcm' % name)

            # Elscint's PMSCT_RLE1: no Pixel Data, the image run-length and delta encoded in (07A1,100A). Smooth rows
            # (one-byte differences), jumps (0x5A and a 16-bit value), a long run (0xA5), a difference of 0x5A and one
            # of 0xA5 (both must be escaped), a value above 32767.
            rows, cols = 16, 20
            img = [[1000 + 3*r + c if c < 10 else (r*37 + c*91) % 4000 for c in range(cols)] for r in range(rows)]
            img[5] = [500] * cols
            img[7][3] = img[7][2] + 0x5A; img[8][3] = img[8][2] - 0x5B; img[9][9] = 40000
            def deltas(values):
                out, prev = bytearray(), 0
                for v in values:
                    d = v - prev
                    if -128 <= d <= 127 and (d & 0xff) not in (0x5a, 0xa5): out.append(d & 0xff)
                    else: out += bytes([0x5a, v & 0xff, v >> 8])
                    prev = v
                return out
            def runs(b):
                out, i = bytearray(), 0
                while i < len(b):
                    j = i
                    while j < len(b) and b[j] == b[i] and j - i < 256: j += 1
                    if j - i >= 4 or b[i] == 0xa5: out += bytes([0xa5, j - i - 1, b[i]]); i = j
                    else: out.append(b[i]); i += 1
                return out
            data = runs(deltas([v for row in img for v in row]))
            ds = pydicom.dcmread(pydicom.data.get_testdata_file('CT_small.dcm'))
            del ds.PixelData
            ds.PatientID = 'ELSCINT'; ds.SeriesInstanceUID = '1.2.826.0.1.3680043.8.498.908'
            ds.SOPInstanceUID = '1.2.826.0.1.3680043.8.498.918'; ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
            ds.Rows, ds.Columns, ds.PixelRepresentation = rows, cols, 0
            block = ds.private_block(0x07a1, 'ELSCINT1', create=True)
            block.add_new(0x0a, 'OB', bytes(data) + b'\0' * (len(data) % 2))
            block.add_new(0x11, 'CS', 'PMSCT_RLE1')
            ds.save_as('{{Folder}}/elscint.dcm')
            """);
        if (made.ExitCode != 0) throw new InvalidOperationException(made.Stderr);
        var files = new[] { "SC_rgb_rle_2frame.dcm", "JPEG-lossy.dcm", "SC_rgb_jpeg_dcmtk.dcm" }.Select(Rest.Sample)
            .Concat([Path.Combine(Folder, "long0.dcm"), Path.Combine(Folder, "long1.dcm"), Path.Combine(Folder, "elscint.dcm")]);
        foreach (var file in files)
        {
            var bytes = await File.ReadAllBytesAsync(file);
            foreach (var client in new[] { OursClient, OrthancClient })
                (await client.PostAsync("/instances", new ByteArrayContent(bytes))).EnsureSuccessStatusCode();
        }
    }

    public new async Task DisposeAsync()
    {
        await base.DisposeAsync();
        Directory.Delete(Folder, true);
    }
}

/// <summary>numpy, ignore-length and long values, DELETE /changes: answered as orthanc 1.10.1 answers them.</summary>
public sealed class MoreRoutesTests(MoreRoutesFixture fx) : IClassFixture<MoreRoutesFixture>
{
    private static readonly HashSet<string> Volatile = ["LastUpdate", "IsStable", "FileSize", "FileUuid"];

    /// <summary>Same status; for errors the same OrthancStatus; for JSON every field of orthanc's with its value.</summary>
    private async Task<Answer> AssertSameAsync(HttpMethod method, string path, params string[] alsoVolatile)
    {
        var (ours, orthanc) = await fx.SendBothAsync(method, path);
        Assert.True(orthanc.Status == ours.Status, $"{method} {path}: orthanc {orthanc.Status}, ours {ours.Status}: {ours.Body}");
        if (orthanc.Status / 100 != 2)
            Assert.True(orthanc.Json!["OrthancStatus"]!.GetValue<int>() == ours.Json!["OrthancStatus"]!.GetValue<int>(), $"{path}: orthanc {orthanc.Body}, ours {ours.Body}");
        else if (orthanc.Body.Length == 0)
            Assert.Equal("", ours.Body);
        else
        {
            var differences = JsonDifference.Between(orthanc.Json, ours.Json, alsoVolatile.Length == 0 ? Volatile : [.. Volatile.Concat(alsoVolatile)]);
            Assert.True(differences.Count == 0, $"{method} {path}:\n" + string.Join("\n", differences.Take(20)));
        }
        return ours;
    }

    [Fact]
    public async Task Numpy_arrays_have_orthancs_shape_type_and_values()
    {
        var instances = Rest.Ids(await Rest.GetJsonAsync(fx.OrthancClient, "/instances"));
        var folder = Directory.CreateTempSubdirectory("ow-numpy-").FullName;
        var pairs = new List<string>();
        try
        {
            foreach (var id in instances)
            {
                foreach (var query in new[] { "numpy", "numpy?rescale=0", "numpy?compress", "frames/0/numpy", "frames/1/numpy?rescale=false&compress=1",
                             "numpy?rescale=x", "frames/x/numpy" })
                {
                    var path = $"/instances/{id}/{query}";
                    var (ours, orthanc) = await fx.SendBothAsync(HttpMethod.Get, path);
                    // Orthanc's DCMTK has no JPEG 2000 decoder (500, "Not implemented yet"): ours decodes it, its array unchecked.
                    if (orthanc.Body.Contains("decoder cannot decode", StringComparison.Ordinal) && ours.Status == 200) continue;
                    Assert.True(orthanc.Status == ours.Status, $"{path}: orthanc {orthanc.Status}, ours {ours.Status}: {ours.Body}");
                    if (orthanc.Status != 200)
                    {
                        Assert.True(orthanc.Json!["OrthancStatus"]!.GetValue<int>() == ours.Json!["OrthancStatus"]!.GetValue<int>(), $"{path}: orthanc {orthanc.Body}, ours {ours.Body}");
                        continue;
                    }
                    // The bodies again as bytes (Answer holds text), into files that NumPy loads.
                    var name = Path.Combine(folder, pairs.Count.ToString(System.Globalization.CultureInfo.InvariantCulture));
                    await File.WriteAllBytesAsync(name + ".orthanc", await fx.OrthancClient.GetByteArrayAsync(path));
                    await File.WriteAllBytesAsync(name + ".ours", await fx.OursClient.GetByteArrayAsync(path));
                    pairs.Add($"{name}|{path}");
                }
            }
            Assert.True(pairs.Count >= 20, $"only {pairs.Count} arrays compared");
            // Orthanc decodes Elscint's PMSCT_RLE1: so must we, to the same values.
            var elscint = (await Rest.PostJsonAsync(fx.OrthancClient, "/tools/find", new { Level = "Instance", Query = new { PatientID = "ELSCINT" } })).AsArray()[0]!.GetValue<string>();
            Assert.Contains(pairs, p => p.EndsWith($"/instances/{elscint}/numpy", StringComparison.Ordinal));
            await File.WriteAllLinesAsync(Path.Combine(folder, "pairs"), pairs);
            var compared = Peers.Run(Peers.DebianPython, "-c", $$"""
                import numpy as np
                def load(f):
                    a = np.load(f)
                    return a['arr_0'] if hasattr(a, 'files') else a
                for line in open('{{folder}}/pairs').read().splitlines():
                    name, path = line.split('|')
                    o, u = load(name + '.orthanc'), load(name + '.ours')
                    if o.shape != u.shape or o.dtype != u.dtype:
                        print(path, 'orthanc', o.shape, o.dtype, 'ours', u.shape, u.dtype)
                    elif not np.array_equal(o, u):
                        # A lossy JPEG's decoders may differ by one level (IJG's and ours: ISO 10918-1 A.3.3 leaves the IDCT's rounding open).
                        d = np.abs(o.astype(float) - u.astype(float)).max()
                        if d > 1: print(path, 'values differ by up to', d)
                """);
            Assert.True(compared.ExitCode == 0 && compared.Stdout.Length == 0, compared.Stdout + compared.Stderr);
        }
        finally { Directory.Delete(folder, true); }
    }

    [Fact]
    public async Task Long_values_are_TooLong_unless_ignore_length_names_them()
    {
        var series = (await Rest.PostJsonAsync(fx.OrthancClient, "/tools/find", new { Level = "Series", Query = new { PatientID = "LONG" } })).AsArray()[0]!.GetValue<string>();
        var instance = Rest.Ids((await Rest.GetJsonAsync(fx.OrthancClient, $"/series/{series}"))["Instances"]!)[0];
        foreach (var query in new[] { "", "?ignore-length=PatientComments", "?simplify&ignore-length=PatientComments,0008-1030", "?short&ignore-length=0010-4000", "?ignore-length=Nope" })
            await AssertSameAsync(HttpMethod.Get, $"/instances/{instance}/tags{query}");
        foreach (var query in new[] { "", "?simplify&ignore-length=PatientComments", "?ignore-length=0010-4000", "?short", "?ignore-length=Nope" })
            await AssertSameAsync(HttpMethod.Get, $"/series/{series}/instances-tags{query}");
        // shared-tags leaves long values out, with or without ignore-length: the keys must be the same both ways.
        foreach (var query in new[] { "", "?simplify&ignore-length=PatientComments", "?ignore-length=Nope" })
        {
            var ours = await AssertSameAsync(HttpMethod.Get, $"/series/{series}/shared-tags{query}");
            var orthanc = await Rest.GetJsonAsync(fx.OrthancClient, $"/series/{series}/shared-tags{query}");
            Assert.Equal(orthanc.AsObject().Select(p => p.Key).Order(StringComparer.Ordinal), ours.Json!.AsObject().Select(p => p.Key).Order(StringComparer.Ordinal));
        }
    }

    [Fact]
    public async Task Delete_changes_empties_the_log_once_our_own_followers_have_read_it()
    {
        async Task<JsonNode> Changes(HttpClient client) => await Rest.GetJsonAsync(client, "/changes?limit=1000");
        var lastBefore = (await Changes(fx.OursClient))["Last"]!.GetValue<long>();
        await AssertSameAsync(HttpMethod.Delete, "/changes");
        // Our followers (Lua's, in memory) may be a rest behind the last change, and orthanc's Stable* changes come when
        // its StableAge passes: clear each server again until its log stays empty.
        async Task<JsonNode> Cleared(HttpClient client)
        {
            var deadline = DateTime.UtcNow.AddSeconds(15);
            JsonNode read;
            while ((read = await Changes(client))["Changes"]!.AsArray().Count > 0 && DateTime.UtcNow < deadline)
                (await client.DeleteAsync("/changes")).EnsureSuccessStatusCode();
            return read;
        }
        var (ours, orthanc) = (await Cleared(fx.OursClient), await Cleared(fx.OrthancClient));
        Assert.Empty(orthanc["Changes"]!.AsArray());
        Assert.Empty(ours["Changes"]!.AsArray());
        Assert.True(ours["Done"]!.GetValue<bool>());
        Assert.True(ours["Last"]!.GetValue<long>() >= lastBefore, "Last went back after DELETE /changes");
        // The numbers themselves differ: orthanc's Stable* changes come when its StableAge passes, at its own pace.
        await AssertSameAsync(HttpMethod.Get, "/changes?last", "Last");

        // The numbering goes on: the next changes follow the deleted ones, on both servers, and are the same.
        var bytes = await File.ReadAllBytesAsync(fx.Later);
        var types = new List<string>[2];
        foreach (var (client, i) in new[] { (fx.OursClient, 0), (fx.OrthancClient, 1) })
        {
            var before = (await Changes(client))["Last"]!.GetValue<long>();
            (await client.PostAsync("/instances", new ByteArrayContent(bytes))).EnsureSuccessStatusCode();
            var after = (await Changes(client))["Changes"]!.AsArray();
            Assert.All(after, c => Assert.True(c!["Seq"]!.GetValue<long>() > before));
            types[i] = after.Select(c => c!["ChangeType"]!.GetValue<string>()).Where(t => t.StartsWith("New", StringComparison.Ordinal)).Order(StringComparer.Ordinal).ToList();
        }
        Assert.Equal(types[1], types[0]);
    }

    [Fact]
    public async Task An_archive_jobs_output_is_downloaded_as_from_orthanc()
    {
        var study = Rest.Ids(await Rest.GetJsonAsync(fx.OrthancClient, "/studies"))[0];
        var entries = new List<string>[2];
        foreach (var (client, i) in new[] { (fx.OursClient, 0), (fx.OrthancClient, 1) })
        {
            var job = (await Rest.PostJsonAsync(client, $"/studies/{study}/archive", new { Asynchronous = true }))["ID"]!.GetValue<string>();
            var deadline = DateTime.UtcNow.AddSeconds(20);
            string state;
            while ((state = (await Rest.GetJsonAsync(client, $"/jobs/{job}"))["State"]!.GetValue<string>()) is not ("Success" or "Failure") && DateTime.UtcNow < deadline)
                await Task.Delay(50);
            Assert.Equal("Success", state);
            using var response = await client.GetAsync($"/jobs/{job}/archive");
            Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("application/zip", response.Content.Headers.ContentType?.MediaType);
            using var zip = new System.IO.Compression.ZipArchive(await response.Content.ReadAsStreamAsync());
            // The same files (by size; study and series folders are named our way, see ArchiveService.FolderNames); the patient folder as orthanc's.
            entries[i] = zip.Entries.Select(e => $"{e.FullName.Split('/')[0]} {e.Length}").Order(StringComparer.Ordinal).ToList();
            // An output the job does not have, and a job that does not exist: 404, "inexistent item", on both.
            foreach (var path in new[] { $"/jobs/{job}/nope", "/jobs/nope/archive" })
            {
                using var missing = await client.GetAsync(path);
                Assert.Equal(System.Net.HttpStatusCode.NotFound, missing.StatusCode);
                Assert.Equal(7, JsonNode.Parse(await missing.Content.ReadAsStringAsync())!["OrthancStatus"]!.GetValue<int>());
            }
        }
        Assert.Equal(entries[1], entries[0]);
    }
}
