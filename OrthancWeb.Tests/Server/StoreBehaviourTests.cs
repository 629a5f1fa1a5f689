using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using OrthancWeb.Dicom.Data;
using OrthancWeb.Dicom.IO;
using static OrthancWeb.Tests.Server.Rest;

namespace OrthancWeb.Tests.Server;

/// <summary>Store settings that need a server of their own: recycling, protection, compression, stability, overwrite.</summary>
public sealed class StoreBehaviourTests
{
    /// <summary>A small CT instance of its own patient, generated so each test controls exactly what is stored.</summary>
    /// <summary>The identity of slice <paramref name="index"/> of a patient's one CT series: UIDs derived from the patient ID.</summary>
    internal static DicomDataset CtSlice(string patientId, int index)
    {
        var ds = new DicomDataset();
        ds.Add(DicomTags.SpecificCharacterSet, "ISO_IR 100");
        ds.Add(DicomTags.SOPClassUID, "1.2.840.10008.5.1.4.1.1.2");
        ds.Add(DicomTags.SOPInstanceUID, $"2.25.{(uint)patientId.GetHashCode()}.{index}");
        ds.Add(DicomTags.PatientName, $"TEST^{patientId}");
        ds.Add(DicomTags.PatientID, patientId);
        ds.Add(DicomTags.StudyInstanceUID, $"2.25.{(uint)patientId.GetHashCode()}.100");
        ds.Add(DicomTags.SeriesInstanceUID, $"2.25.{(uint)patientId.GetHashCode()}.200");
        ds.Add(DicomTags.Modality, "CT");
        ds.Add(DicomTags.InstanceNumber, index.ToString(CultureInfo.InvariantCulture));
        return ds;
    }

    internal static byte[] Instance(string patientId, int index = 1, int pixelBytes = 64 * 1024)
    {
        var ds = CtSlice(patientId, index);
        ds.Add(DicomTags.Rows, (ushort)128);
        ds.Add(DicomTags.Columns, (ushort)(pixelBytes / 256));
        ds.Add(DicomTags.BitsAllocated, (ushort)16);
        // Compressible but not trivial pixel data: a gradient with a little noise.
        var pixels = new byte[pixelBytes];
        var rng = new Random(index);
        for (var i = 0; i < pixels.Length; i += 2) { pixels[i] = (byte)(i / 256 + rng.Next(4)); pixels[i + 1] = 0; }
        ds.AddBytes(DicomTags.PixelData, DicomVR.OW, pixels);
        var file = new DicomFile(ds, TransferSyntax.ExplicitVRLittleEndian);
        file.UpdateFileMetaInfo();
        return file.ToBytes();
    }

    private static async Task<JsonNode> Post(HttpClient client, byte[] bytes)
    {
        var r = await client.PostAsync("/instances", new ByteArrayContent(bytes));
        return JsonNode.Parse(await r.Content.ReadAsStringAsync())!;
    }

    private static async Task<(ServerProcess Server, HttpClient Client, string Folder)> Start(string settings)
    {
        var folder = Directory.CreateTempSubdirectory("ow-store-").FullName;
        var server = await ServerProcess.StartAsync(folder, settings);
        return (server, server.CreateRestClient(), folder);
    }

    [Fact]
    public async Task Patient_count_limit_recycles_the_oldest_unprotected_patient_and_never_a_protected_one()
    {
        var (server, client, folder) = await Start(", \"MaximumPatientCount\": 2");
        await using (server)
        {
            var a = (await Post(client, Instance("PAT-A")))["ParentPatient"]!.GetValue<string>();
            var b = (await Post(client, Instance("PAT-B")))["ParentPatient"]!.GetValue<string>();
            Assert.Equal(HttpStatusCode.OK, (await client.PutAsync($"/patients/{a}/protected", new StringContent("1"))).StatusCode);
            Assert.Equal("1", await client.GetStringAsync($"/patients/{a}/protected"));

            // C arrives: B is the oldest unprotected patient, so B goes; A stays because it is protected.
            var c = (await Post(client, Instance("PAT-C")))["ParentPatient"]!.GetValue<string>();
            var patients = Ids(await GetJsonAsync(client, "/patients"));
            Assert.Equal(new[] { a, c }.Order(), patients.Order());
            Assert.DoesNotContain(b, patients);
            // The audit trail says that B went, which patient it was, and why: the server recycled it.
            var deletions = (await GetJsonAsync(client, "/audit?action=Delete")).AsArray();
            var recycled = Assert.Single(deletions, e => e!["ResourceID"]?.GetValue<string>() == b)!;
            Assert.Equal(("PAT-B", "Server", "(server)"), (recycled["PatientID"]!.GetValue<string>(), recycled["Source"]!.GetValue<string>(), recycled["User"]!.GetValue<string>()));
            Assert.StartsWith("Recycled to make room for an arriving instance (MaximumPatientCount 2; RestApi", recycled["Details"]!.GetValue<string>());

            // Protect C too: nothing can be recycled, D is refused and nothing else changes.
            await client.PutAsync($"/patients/{c}/protected", new StringContent("1"));
            var d = await client.PostAsync("/instances", new ByteArrayContent(Instance("PAT-D")));
            Assert.Equal((HttpStatusCode)507, d.StatusCode);
            Assert.Contains("storage is full", await d.Content.ReadAsStringAsync());
            Assert.Equal(new[] { a, c }.Order(), Ids(await GetJsonAsync(client, "/patients")).Order());

            // New instances of an existing patient are not new patients: accepted.
            Assert.Equal("Success", (await Post(client, Instance("PAT-A", 2)))["Status"]!.GetValue<string>());

            // Unprotecting A lets D in, recycling A (the least recently updated unprotected patient).
            await client.DeleteAsync($"/patients/{a}/protected");
            Assert.Equal("Success", (await Post(client, Instance("PAT-D")))["Status"]!.GetValue<string>());
            Assert.DoesNotContain(a, Ids(await GetJsonAsync(client, "/patients")));
            // No file of a recycled patient is left behind.
            Assert.Equal(2, StoredFiles(server).Count());
        }
        Directory.Delete(folder, true);
    }

    [Fact]
    public async Task Storage_size_limit_recycles_until_the_new_instance_fits()
    {
        // 1 MB limit, 300 KB instances: the fourth patient pushes out the first.
        var (server, client, folder) = await Start(", \"MaximumStorageSize\": 1");
        await using (server)
        {
            var first = (await Post(client, Instance("SIZE-1", 1, 300 * 1024)))["ParentPatient"]!.GetValue<string>();
            for (var i = 2; i <= 3; i++) await Post(client, Instance($"SIZE-{i}", 1, 300 * 1024));
            Assert.Equal(3, Ids(await GetJsonAsync(client, "/patients")).Length);
            Assert.Equal("Success", (await Post(client, Instance("SIZE-4", 1, 300 * 1024)))["Status"]!.GetValue<string>());
            var patients = Ids(await GetJsonAsync(client, "/patients"));
            Assert.DoesNotContain(first, patients);
            var stats = await GetJsonAsync(client, "/statistics");
            Assert.True(long.Parse(stats["TotalDiskSize"]!.GetValue<string>(), CultureInfo.InvariantCulture) <= 1024 * 1024);
        }
        Directory.Delete(folder, true);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Compression_is_transparent_and_both_sizes_are_recorded(bool compression)
    {
        var (server, client, folder) = await Start($", \"StorageCompression\": {(compression ? "true" : "false")}");
        await using (server)
        {
            var bytes = Instance("COMPRESS", 1, 256 * 1024);
            var id = (await Post(client, bytes))["ID"]!.GetValue<string>();
            Assert.Equal(bytes, await client.GetByteArrayAsync($"/instances/{id}/file"));
            Assert.Equal(compression ? "1" : "0", await client.GetStringAsync($"/instances/{id}/attachments/dicom/is-compressed"));
            var size = long.Parse(await client.GetStringAsync($"/instances/{id}/attachments/dicom/size"), CultureInfo.InvariantCulture);
            var compressed = long.Parse(await client.GetStringAsync($"/instances/{id}/attachments/dicom/compressed-size"), CultureInfo.InvariantCulture);
            Assert.Equal(bytes.Length, size);
            var onDisk = StoredFiles(server).Single();
            Assert.Equal(compressed, new FileInfo(onDisk).Length);
            // Acknowledged with the checksum of the bytes on disk; the MD5s come when first asked for, then stay.
            var row = IndexFile.Attachment(server.DataDirectory, id);
            Assert.Equal(IndexFile.Checksum(File.ReadAllBytes(onDisk)), row.Checksum);
            Assert.Equal(("", ""), (row.Md5, row.CompressedMd5));
            Assert.Equal(Convert.ToHexStringLower(MD5.HashData(bytes)), await client.GetStringAsync($"/instances/{id}/attachments/dicom/md5"));
            Assert.Equal(Convert.ToHexStringLower(MD5.HashData(File.ReadAllBytes(onDisk))), await client.GetStringAsync($"/instances/{id}/attachments/dicom/compressed-md5"));
            row = IndexFile.Attachment(server.DataDirectory, id);
            Assert.Equal((Convert.ToHexStringLower(MD5.HashData(bytes)), Convert.ToHexStringLower(MD5.HashData(File.ReadAllBytes(onDisk)))), (row.Md5, row.CompressedMd5));
            var stats = await GetJsonAsync(client, "/statistics");
            if (compression)
            {
                Assert.True(compressed < size / 2, $"compressed {compressed} of {size}");
                Assert.True(stats["CompressionSavingPercent"]!.GetValue<double>() > 50);
            }
            else
                Assert.Equal(size, compressed);
            // The tags are read through the compression too.
            Assert.Equal("TEST^COMPRESS", (await GetJsonAsync(client, $"/instances/{id}/simplified-tags"))["PatientName"]!.GetValue<string>());
        }
        Directory.Delete(folder, true);
    }

    [Fact]
    public async Task Series_study_and_patient_become_stable_after_stable_age()
    {
        var (server, client, folder) = await Start(", \"StableAge\": 1");
        await using (server)
        {
            var up = await Post(client, Instance("STABLE"));
            var series = up["ParentSeries"]!.GetValue<string>();
            Assert.False((await GetJsonAsync(client, "/series/" + series))["IsStable"]!.GetValue<bool>());
            var clock = Stopwatch.StartNew();
            while (!(await GetJsonAsync(client, "/series/" + series))["IsStable"]!.GetValue<bool>() && clock.Elapsed < TimeSpan.FromSeconds(10))
                await Task.Delay(200);
            Assert.True((await GetJsonAsync(client, "/series/" + series))["IsStable"]!.GetValue<bool>());
            var kinds = (await GetJsonAsync(client, "/changes?limit=100"))["Changes"]!.AsArray().Select(c => c!["ChangeType"]!.GetValue<string>()).ToList();
            Assert.Contains("StableSeries", kinds);
            Assert.Contains("StableStudy", kinds);
            Assert.Contains("StablePatient", kinds);
        }
        Directory.Delete(folder, true);
    }

    [Fact]
    public async Task Overwrite_instances_replaces_the_stored_copy()
    {
        var (server, client, folder) = await Start(", \"OverwriteInstances\": true");
        await using (server)
        {
            var first = Instance("OVERWRITE", 1, 4096);
            var id = (await Post(client, first))["ID"]!.GetValue<string>();
            var ds = DicomFile.Open(first.AsMemory());
            ds.Dataset.Add(DicomTags.PatientName, "TEST^CHANGED");
            var second = (await Post(client, ds.ToBytes()));
            Assert.Equal("Success", second["Status"]!.GetValue<string>());
            Assert.Equal(id, second["ID"]!.GetValue<string>());
            Assert.Equal("TEST^CHANGED", (await GetJsonAsync(client, $"/instances/{id}/simplified-tags"))["PatientName"]!.GetValue<string>());
            Assert.Single(StoredFiles(server));
        }
        Directory.Delete(folder, true);
    }

    [Fact]
    public async Task Concurrent_overwrites_of_one_instance_leave_one_file_with_its_right_md5()
    {
        // Arrivals close together are committed in one batch, where a later copy replaces an earlier one of the same
        // batch: the replaced copy's file must still be found and deleted, and the survivor's attachment be complete.
        var (server, client, folder) = await Start(", \"OverwriteInstances\": true");
        await using (server)
        {
            var copies = Enumerable.Range(0, 12).Select(i =>
            {
                var file = DicomFile.Open(Instance("OVERWRITE-MANY", 1, 64 * 1024).AsMemory());
                file.Dataset.Add(DicomTags.PatientName, $"TEST^COPY{i}");
                return file.ToBytes();
            }).ToList();
            var answers = await Task.WhenAll(copies.Select(c => Post(client, c)));
            Assert.All(answers, a => Assert.Equal("Success", a["Status"]!.GetValue<string>()));
            var id = answers[0]["ID"]!.GetValue<string>();
            Assert.All(answers, a => Assert.Equal(id, a["ID"]!.GetValue<string>()));

            var stored = await client.GetByteArrayAsync($"/instances/{id}/file");
            Assert.Contains(copies, c => c.AsSpan().SequenceEqual(stored));
            var md5 = await client.GetStringAsync($"/instances/{id}/attachments/dicom/md5");
            Assert.Equal(Convert.ToHexStringLower(MD5.HashData(stored)), md5);
            Assert.Single(StoredFiles(server));
        }
        Directory.Delete(folder, true);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_file_damaged_on_disk_gets_no_md5_but_an_error_that_says_so(bool compression)
    {
        var (server, client, folder) = await Start($", \"StorageCompression\": {(compression ? "true" : "false")}");
        await using (server)
        {
            var id = (await Post(client, Instance("DAMAGED", 1, 128 * 1024)))["ID"]!.GetValue<string>();
            var onDisk = StoredFiles(server).Single();
            var bytes = File.ReadAllBytes(onDisk);
            bytes[^100] ^= 0x40; // one bit, in the pixel data (or the zlib stream)
            File.WriteAllBytes(onDisk, bytes);
            foreach (var field in new[] { "md5", "compressed-md5" })
            {
                var r = await client.GetAsync($"/instances/{id}/attachments/dicom/{field}");
                Assert.Equal(HttpStatusCode.InternalServerError, r.StatusCode);
                Assert.Contains("no longer matches the checksum", await r.Content.ReadAsStringAsync());
            }
            Assert.Equal(("", ""), (IndexFile.Attachment(server.DataDirectory, id).Md5, IndexFile.Attachment(server.DataDirectory, id).CompressedMd5));
        }
        Directory.Delete(folder, true);
    }

    /// <summary>The stored files (named by their UUID), not the empty uuid.part files a running server keeps ready.</summary>
    private static IEnumerable<string> StoredFiles(ServerProcess server) =>
        Directory.EnumerateFiles(Path.Combine(server.DataDirectory, "storage"), "*", SearchOption.AllDirectories)
            .Where(f => !f.Contains(".tmp") && Guid.TryParse(Path.GetFileName(f), out _));
}
