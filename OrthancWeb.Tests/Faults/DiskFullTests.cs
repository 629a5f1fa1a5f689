using System.Diagnostics;
using System.Net;
using System.Text.Json.Nodes;
using OrthancWeb.Dicom.Data;
using OrthancWeb.Dicom.IO;
using OrthancWeb.Dicom.Network.Dimse;
using OrthancWeb.Dicom.Network.Services;
using OrthancWeb.Tests.Server;
using static OrthancWeb.Tests.Faults.HostilePeers;

namespace OrthancWeb.Tests.Faults;

/// <summary>
/// "Load and faults": the storage area on a 20 MB file system of its own (a tmpfs this test mounts; it needs root, as
/// .ci/run has). Past the limit C-STOREs answer Out of Resources (0xA700) and REST 507, nothing partial is left, and
/// ingest resumes once space is freed, without a restart. The MinimumFreeDiskSpace floor refuses the same way first.
/// </summary>
public sealed class DiskFullTests
{
    [Fact]
    public Task Full_disk_answers_out_of_resources_and_ingest_resumes_once_space_is_freed() =>
        WithSmallStorage(floorMb: 0, async (server, port) =>
        {
            using var client = server.CreateRestClient();
            // 900 KB instances go through memory, 3 MB ones are spooled as they arrive: fill with both.
            var statuses = new List<ushort>();
            for (var i = 0; i < 40 && !statuses.Contains(DimseStatus.OutOfResources); i++)
                statuses.Add(await CStoreAsync(port, $"FULL-{i}", i % 3 == 2 ? 3 * 1024 * 1024 : 900 * 1024));
            Assert.Contains(DimseStatus.OutOfResources, statuses);
            Assert.All(statuses, s => Assert.True(s is DimseStatus.Success or DimseStatus.OutOfResources, $"0x{s:X4}"));
            // Both paths meet the full disk: the in-memory write and the spool.
            Assert.Equal(DimseStatus.OutOfResources, await CStoreAsync(port, "FULL-MEM", 900 * 1024));
            Assert.Equal(DimseStatus.OutOfResources, await CStoreAsync(port, "FULL-SPOOL", 3 * 1024 * 1024));

            var rest = await client.PostAsync("/instances", new ByteArrayContent(StoreBehaviourTests.Instance("FULL-REST", 1, 2 * 1024 * 1024)));
            Assert.Equal((HttpStatusCode)507, rest.StatusCode);
            var error = JsonNode.Parse(await rest.Content.ReadAsStringAsync())!;
            Assert.Equal(19, error["OrthancStatus"]!.GetValue<int>()); // Orthanc's "The file storage is full"
            Assert.Contains("full", error["Details"]!.GetValue<string>(), StringComparison.Ordinal);
            await AssertNothingPartialAsync(server, client);

            // Free space by deleting what was stored; ingest resumes in the same process.
            foreach (var id in Rest.Ids(await Rest.GetJsonAsync(client, "/instances")))
                Assert.Equal(HttpStatusCode.OK, (await client.DeleteAsync($"/instances/{id}")).StatusCode);
            Assert.Equal(DimseStatus.Success, await CStoreAsync(port, "AFTER-MEM", 900 * 1024));
            Assert.Equal(DimseStatus.Success, await CStoreAsync(port, "AFTER-SPOOL", 3 * 1024 * 1024));
            var again = await client.PostAsync("/instances", new ByteArrayContent(StoreBehaviourTests.Instance("AFTER-REST", 1, 2 * 1024 * 1024)));
            Assert.Equal(HttpStatusCode.OK, again.StatusCode);
            Assert.Equal(3, Rest.Ids(await Rest.GetJsonAsync(client, "/instances")).Length);
            await AssertNothingPartialAsync(server, client);
        });

    [Fact]
    public Task Free_space_floor_refuses_before_the_disk_is_full() =>
        WithSmallStorage(floorMb: 14, async (server, port) =>
        {
            using var client = server.CreateRestClient();
            // 20 MB with 14 kept free: a few instances of 1 MB fit, then every path refuses with the reason.
            var statuses = new List<ushort>();
            for (var i = 0; i < 12; i++) statuses.Add(await CStoreAsync(port, $"FLOOR-{i}", 900 * 1024));
            Assert.Equal(DimseStatus.Success, statuses[0]);
            Assert.Equal(DimseStatus.OutOfResources, statuses[^1]);
            await using var scu = await Connect(port);
            var refused = await scu.StoreAsync(CtImageStorage, "2.25.55.1", TransferSyntax.ExplicitVRLittleEndian, Body("FLOOR-X", "2.25.55.1", 900 * 1024));
            Assert.Equal(DimseStatus.OutOfResources, refused.Status);
            Assert.Contains("MinimumFreeDiskSpace", refused.Command.GetString(DicomTags.ErrorComment) ?? "", StringComparison.Ordinal);

            var rest = await client.PostAsync("/instances", new ByteArrayContent(StoreBehaviourTests.Instance("FLOOR-REST", 1, 900 * 1024)));
            Assert.Equal((HttpStatusCode)507, rest.StatusCode);
            Assert.Contains("MinimumFreeDiskSpace", await rest.Content.ReadAsStringAsync(), StringComparison.Ordinal);
            // The free space never went below the floor.
            Assert.True(new DriveInfo(Path.Combine(server.DataDirectory, "storage")).AvailableFreeSpace >= 13L * 1024 * 1024);
            await AssertNothingPartialAsync(server, client);
        });

    [Fact]
    public Task A_disk_that_cannot_keep_the_free_space_floor_makes_the_server_unready() =>
        WithSmallStorage(floorMb: 64, async (server, port) =>
        {
            // 20 MB of disk, 64 MB to be kept free: alive, but every store would be refused, so not ready.
            using var anonymous = new HttpClient { BaseAddress = server.CreateRestClient().BaseAddress };
            Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("/health/live")).StatusCode);
            using var ready = await anonymous.GetAsync("/health/ready");
            Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
            var body = JsonNode.Parse(await ready.Content.ReadAsStringAsync())!;
            Assert.Equal("Unhealthy", body["Checks"]!["storage"]!["Status"]!.GetValue<string>());
            Assert.Contains("MinimumFreeDiskSpace", body["Checks"]!["storage"]!["Description"]!.GetValue<string>(), StringComparison.Ordinal);
            Assert.Equal("Healthy", body["Checks"]!["index"]!["Status"]!.GetValue<string>());
            Assert.Equal(DimseStatus.OutOfResources, await CStoreAsync(port, "UNREADY", 100 * 1024));
        });

    private static async Task<DicomClient> Connect(int port) =>
        await DicomClient.ConnectAsync("127.0.0.1", port, "FILLER", "ORTHANCWEB", [(CtImageStorage, [TransferSyntax.ExplicitVRLittleEndian.Uid])]);

    private static byte[] Body(string patient, string sop, int pixelBytes)
    {
        var ds = DicomFile.Open(StoreBehaviourTests.Instance(patient, 1, pixelBytes)).Dataset;
        ds.Add(DicomTags.SOPInstanceUID, sop);
        return DicomWriter.ToBytes(ds, TransferSyntax.ExplicitVRLittleEndian);
    }

    private static async Task<ushort> CStoreAsync(int port, string patient, int pixelBytes)
    {
        var sop = $"2.25.{(uint)patient.GetHashCode()}";
        await using var scu = await Connect(port);
        var rsp = await scu.StoreAsync(CtImageStorage, sop, TransferSyntax.ExplicitVRLittleEndian, Body(patient, sop, pixelBytes));
        return rsp.Status;
    }

    /// <summary>Every file of the storage area has its index row and every row its file; no partial file holds data.</summary>
    private static async Task AssertNothingPartialAsync(ServerProcess server, HttpClient client)
    {
        var storage = Path.Combine(server.DataDirectory, "storage");
        var files = Directory.EnumerateFiles(storage, "*", SearchOption.AllDirectories).ToList();
        // Empty .part files are the ones made ahead of need (StorageArea.CreateIncoming); one with bytes is a leftover.
        Assert.DoesNotContain(files, f => f.EndsWith(".part", StringComparison.Ordinal) && new FileInfo(f).Length > 0);
        var stored = files.Where(f => Guid.TryParse(Path.GetFileName(f), out _)).Select(Path.GetFileName).Order().ToArray();
        var uuids = new List<string>();
        foreach (var id in Rest.Ids(await Rest.GetJsonAsync(client, "/instances")))
            uuids.Add((await client.GetStringAsync($"/instances/{id}/attachments/dicom/uuid")).Trim());
        Assert.Equal(uuids.Order().ToArray(), stored);
    }

    /// <summary>A server whose storage folder is a 20 MB tmpfs mounted by the test (unmounted after).</summary>
    private static async Task WithSmallStorage(int floorMb, Func<ServerProcess, int, Task> body)
    {
        var folder = Directory.CreateTempSubdirectory("ow-diskfull-").FullName;
        var storage = Path.Combine(folder, "data", "storage");
        Directory.CreateDirectory(storage);
        var mount = Run("mount", "-t", "tmpfs", "-o", "size=20m", "tmpfs", storage);
        if (mount.ExitCode != 0)
        {
            Directory.Delete(folder, true);
            // Never a silent pass where it matters: CI runs as root and must mount.
            Assert.Fail($"cannot mount a 20 MB tmpfs for the disk-full test (needs root or CAP_SYS_ADMIN): {mount.Output}" +
                (Environment.GetEnvironmentVariable("CI") == "true" ? " [CI=true]" : ""));
        }
        try
        {
            var server = await ServerProcess.StartAsync(folder, $", \"MinimumFreeDiskSpace\": {floorMb}");
            await using (server)
                await body(server, BombTests.DicomPort(folder));
        }
        finally
        {
            Run("umount", "-l", storage);
            Directory.Delete(folder, true);
        }
    }

    private static (int ExitCode, string Output) Run(string tool, params string[] args)
    {
        var psi = new ProcessStartInfo(tool) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var output = p.StandardOutput.ReadToEnd() + p.StandardError.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, output);
    }
}
