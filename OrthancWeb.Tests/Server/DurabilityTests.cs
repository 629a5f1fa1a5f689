using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using OrthancWeb.Dicom.Data;
using OrthancWeb.Dicom.IO;
using Xunit.Abstractions;
using static OrthancWeb.Tests.Server.Rest;

namespace OrthancWeb.Tests.Server;

/// <summary>Crashes and huge uploads: what was acknowledged survives, nothing half-stored remains, memory stays flat.</summary>
public sealed class DurabilityTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Sigkill_during_a_500_file_upload_loses_no_acknowledged_instance_and_leaves_no_orphan()
    {
        var folder = Directory.CreateTempSubdirectory("ow-kill-").FullName;
        var files = Enumerable.Range(0, 500).Select(i => StoreBehaviourTests.Instance($"KILL-{i % 20}", i, 16 * 1024)).ToArray();
        var acknowledged = new ConcurrentDictionary<string, string>(); // instance ID -> MD5 of what was sent
        await using (var server = await ServerProcess.StartAsync(folder))
        {
            using var client = server.CreateRestClient();
            var next = -1;
            var killAt = 150;
            var killed = 0;
            var workers = Enumerable.Range(0, 4).Select(async _ =>
            {
                while (Interlocked.Increment(ref next) is var i && i < files.Length)
                {
                    try
                    {
                        var r = await client.PostAsync("/instances", new ByteArrayContent(files[i]));
                        if (r.StatusCode != HttpStatusCode.OK) continue;
                        var id = JsonNode.Parse(await r.Content.ReadAsStringAsync())!["ID"]!.GetValue<string>();
                        acknowledged[id] = Convert.ToHexStringLower(MD5.HashData(files[i]));
                        if (acknowledged.Count >= killAt && Interlocked.Exchange(ref killed, 1) == 0) server.Kill();
                    }
                    catch (HttpRequestException) { } // the server is gone: not acknowledged
                    catch (TaskCanceledException) { }
                }
            }).ToArray();
            await Task.WhenAll(workers);
            Assert.True(server.HasExited, "the server should have been killed mid-loop");
        }
        output.WriteLine($"{acknowledged.Count} instances acknowledged before SIGKILL");
        Assert.InRange(acknowledged.Count, 150, 499);

        await using (var again = await ServerProcess.StartAsync(folder, keepPorts: true))
        {
            using var client = again.CreateRestClient();
            foreach (var (id, md5) in acknowledged)
            {
                var bytes = await client.GetByteArrayAsync($"/instances/{id}/file");
                Assert.Equal(md5, Convert.ToHexStringLower(MD5.HashData(bytes)));
            }
            var stats = await GetJsonAsync(client, "/statistics");
            var storage = Path.Combine(again.DataDirectory, "storage");
            var onDisk = Directory.EnumerateFiles(storage, "*", SearchOption.AllDirectories).Where(f => !f.Contains(".tmp")).Count();
            Assert.Equal(stats["CountInstances"]!.GetValue<long>(), onDisk);
            Assert.Empty(Directory.EnumerateFiles(Path.Combine(storage, ".tmp")));
            Assert.Empty(Directory.EnumerateFiles(storage, "*.part", SearchOption.AllDirectories)); // stores cut short by the kill
            // Every indexed instance (acknowledged or committed just before the kill) is readable.
            foreach (var id in Ids(await GetJsonAsync(client, "/instances")))
                Assert.True((await client.GetAsync($"/instances/{id}/file", HttpCompletionOption.ResponseHeadersRead)).IsSuccessStatusCode);
        }
        Directory.Delete(folder, true);
    }

    [Fact]
    public async Task At_start_up_files_committed_after_the_last_flush_are_checked_and_a_damaged_one_removed()
    {
        // Staged as a power cut between commit and flush would leave it: the durability watermark behind the last
        // instances, files whose bytes never all reached the disk. Rows written before the checksum column existed
        // (empty checksum) are checked against their MD5 instead.
        var folder = Directory.CreateTempSubdirectory("ow-torn-").FullName;
        var ids = new Dictionary<string, string>();
        var files = new Dictionary<string, string>();
        string data;
        await using (var server = await ServerProcess.StartAsync(folder))
        {
            using var client = server.CreateRestClient();
            foreach (var name in new[] { "INTACT", "TORN", "LEGACY-INTACT", "LEGACY-TORN" })
            {
                var r = await client.PostAsync("/instances", new ByteArrayContent(StoreBehaviourTests.Instance(name, 1, 64 * 1024)));
                ids[name] = JsonNode.Parse(await r.Content.ReadAsStringAsync())!["ID"]!.GetValue<string>();
            }
            data = server.DataDirectory;
        }
        foreach (var (name, id) in ids)
        {
            var uuid = IndexFile.Attachment(data, id).Uuid;
            files[name] = Path.Combine(data, "storage", uuid[..2], uuid[2..4], uuid);
        }
        foreach (var name in new[] { "LEGACY-INTACT", "LEGACY-TORN" })
            IndexFile.Execute(data, """UPDATE "Attachments" SET "Checksum" = '', "CompressedMd5" = $md5 WHERE "Uuid" = $uuid""",
                ("$md5", Convert.ToHexStringLower(MD5.HashData(File.ReadAllBytes(files[name])))), ("$uuid", Path.GetFileName(files[name])));
        IndexFile.Execute(data, """UPDATE "GlobalProperties" SET "Value" = '0' WHERE "Name" = $name""", ("$name", OrthancWeb.Index.DurabilityWatermark.PropertyName));
        foreach (var name in new[] { "TORN", "LEGACY-TORN" })
        {
            var bytes = File.ReadAllBytes(files[name]);
            Array.Clear(bytes, bytes.Length - 8192, 4096); // a block the disk never got
            File.WriteAllBytes(files[name], bytes);
        }

        await using (var again = await ServerProcess.StartAsync(folder, keepPorts: true))
        {
            using var client = again.CreateRestClient();
            Assert.Equal(new[] { ids["INTACT"], ids["LEGACY-INTACT"] }.Order(), Ids(await GetJsonAsync(client, "/instances")).Order());
            Assert.True(File.Exists(files["INTACT"]) && File.Exists(files["LEGACY-INTACT"]));
            Assert.False(File.Exists(files["TORN"]) || File.Exists(files["LEGACY-TORN"]));
            Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync($"/instances/{ids["TORN"]}")).StatusCode);
            Assert.Contains("was not completely on disk", again.Log);
        }
        Directory.Delete(folder, true);
    }

    [Fact]
    public async Task A_2_GB_upload_is_streamed_to_disk_not_held_in_memory()
    {
        var folder = Directory.CreateTempSubdirectory("ow-big-").FullName;
        await using (var server = await ServerProcess.StartAsync(folder))
        {
            using var client = server.CreateRestClient();
            const long pixelBytes = 2L * 1024 * 1024 * 1024 - 4096;
            var response = await client.PostAsync("/instances", new LargeDicomContent(pixelBytes));
            var body = await response.Content.ReadAsStringAsync();
            Assert.True(response.IsSuccessStatusCode, body);
            var id = JsonNode.Parse(body)!["ID"]!.GetValue<string>();
            var size = long.Parse(await client.GetStringAsync($"/instances/{id}/attachments/dicom/size"), CultureInfo.InvariantCulture);
            Assert.True(size > pixelBytes);
            Assert.Equal("LARGE^UPLOAD", (await GetJsonAsync(client, $"/instances/{id}/simplified-tags"))["PatientName"]!.GetValue<string>());
            // Peak resident memory of the server process stays far below the upload's size.
            var hwm = File.ReadAllLines($"/proc/{server.ProcessId}/status").First(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
            var peakKb = long.Parse(hwm.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
            output.WriteLine($"server peak RSS {peakKb / 1024} MB for a {size / (1024 * 1024)} MB upload");
            Assert.True(peakKb < 600 * 1024, $"peak RSS {peakKb / 1024} MB");
            Assert.Equal(HttpStatusCode.OK, (await client.DeleteAsync($"/instances/{id}")).StatusCode);
        }
        Directory.Delete(folder, true);
    }

    /// <summary>A Part 10 file produced on the fly: a small header, then gigabytes of pixel data, never in memory.</summary>
    private sealed class LargeDicomContent(long pixelBytes) : HttpContent
    {
        private readonly byte[] _header = Header(pixelBytes);

        private static byte[] Header(long pixelBytes)
        {
            var ds = new DicomDataset();
            ds.Add(DicomTags.SOPClassUID, "1.2.840.10008.5.1.4.1.1.7");
            ds.Add(DicomTags.SOPInstanceUID, "2.25.424242.1");
            ds.Add(DicomTags.PatientName, "LARGE^UPLOAD");
            ds.Add(DicomTags.PatientID, "LARGE");
            ds.Add(DicomTags.StudyInstanceUID, "2.25.424242.2");
            ds.Add(DicomTags.SeriesInstanceUID, "2.25.424242.3");
            var file = new DicomFile(ds, TransferSyntax.ExplicitVRLittleEndian);
            file.UpdateFileMetaInfo();
            var bytes = file.ToBytes().ToList();
            // (7FE0,0010) OB, reserved, 32-bit length: the pixel data that follows.
            bytes.AddRange(new byte[] { 0xE0, 0x7F, 0x10, 0x00, (byte)'O', (byte)'B', 0, 0 });
            bytes.AddRange(BitConverter.GetBytes((uint)pixelBytes));
            return bytes.ToArray();
        }

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            await stream.WriteAsync(_header);
            var chunk = new byte[1 << 20];
            for (long left = pixelBytes; left > 0; left -= chunk.Length)
                await stream.WriteAsync(chunk.AsMemory(0, (int)Math.Min(chunk.Length, left)));
        }

        protected override bool TryComputeLength(out long length)
        {
            length = _header.Length + pixelBytes;
            return true;
        }
    }
}
