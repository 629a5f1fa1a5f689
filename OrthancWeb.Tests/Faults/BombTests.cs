using System.Net;
using System.Net.Sockets;
using OrthancWeb.Dicom.IO;
using OrthancWeb.Dicom.Network.Dimse;
using OrthancWeb.Dicom.Network.Pdu;
using OrthancWeb.Dicom.Network.Services;
using OrthancWeb.Tests.Infrastructure;
using OrthancWeb.Tests.Server;
using static OrthancWeb.Tests.Faults.HostilePeers;

namespace OrthancWeb.Tests.Faults;

/// <summary>
/// Issue 15, point 2: memory exhaustion with no login. Deflate bombs over REST and C-STORE, a flood of command-set
/// fragments, an oversized PDU and large data sets on several associations at once, against a real server process:
/// its peak RSS stays under 600 MB, nothing of the bombs is stored, and a real storescu keeps storing meanwhile.
/// </summary>
public sealed class BombTests
{
    private const long RssLimitMb = 600;

    [Fact]
    public async Task Bombs_floods_and_large_data_sets_leave_memory_bounded_and_other_associations_working()
    {
        var folder = Directory.CreateTempSubdirectory("ow-bombs-").FullName;
        // The bombs come from unknown AEs on 127.0.0.1, more than the 8 associations per address unknown peers may hold:
        // this test is about memory, so that limit is lifted here (AssociationSlotsTests holds it); the well-behaved
        // storescu is a known modality, as a real one would be.
        var server = await ServerProcess.StartAsync(folder, """
            , "DicomMaximumAssociationsPerHost": 32,
            "DicomModalities": { "wellbehaved": { "AET": "WELLBEHAVED", "Host": "127.0.0.1", "Port": 1 } }
            """);
        try
        {
            await using (server)
            {
                var port = DicomPort(folder);
                var bombFile = BombFile();
                Assert.InRange(bombFile.Length, 100_000, 4_000_000); // about a megabyte that inflates to 1 GiB
                using var client = server.CreateRestClient();

                // A real storescu of a normal file, over and over, for as long as the attack lasts.
                var normal = Path.Combine(folder, "normal.dcm");
                await File.WriteAllBytesAsync(normal, StoreBehaviourTests.Instance("NORMAL", 1, 256 * 1024));
                using var attackOver = new CancellationTokenSource();
                var normalStores = Task.Run(async () =>
                {
                    var runs = 0;
                    while (!attackOver.IsCancellationRequested || runs == 0)
                    {
                        var r = await Task.Run(() => Peers.Run("storescu", "-aec", "ORTHANCWEB", "-aet", "WELLBEHAVED", "127.0.0.1", port.ToString(System.Globalization.CultureInfo.InvariantCulture), normal));
                        Assert.True(r.ExitCode == 0 && !r.Stderr.Contains("E:", StringComparison.Ordinal), $"storescu failed during the attack:\n{r.Stdout}{r.Stderr}");
                        runs++;
                    }
                    return runs;
                });

                var attacks = new List<Task>();
                // Three bombs over REST at once: refused (400) with the reason.
                for (var i = 0; i < 3; i++)
                    attacks.Add(Task.Run(async () =>
                    {
                        var r = await client.PostAsync("/instances", new ByteArrayContent(bombFile));
                        var body = await r.Content.ReadAsStringAsync();
                        Assert.Equal(HttpStatusCode.BadRequest, r.StatusCode);
                        Assert.Contains("inflates", body, StringComparison.Ordinal);
                    }));
                // Three bombs over C-STORE at once: a failure status with the reason; the association survives.
                for (var i = 0; i < 3; i++)
                    attacks.Add(Task.Run(async () =>
                    {
                        await using var scu = await DicomClient.ConnectAsync("127.0.0.1", port, "BOMBER", "ORTHANCWEB",
                            [(CtImageStorage, [TransferSyntax.DeflatedExplicitVRLittleEndian.Uid]), (SopClasses.Verification, [TransferSyntax.ImplicitVRLittleEndian.Uid])]);
                        var rsp = await scu.StoreAsync(CtImageStorage, "2.25.999", TransferSyntax.DeflatedExplicitVRLittleEndian, BombBody());
                        Assert.True(DimseStatus.IsFailure(rsp.Status), $"status 0x{rsp.Status:X4}");
                        Assert.Contains("inflates", rsp.Command.GetString(OrthancWeb.Dicom.Data.DicomTags.ErrorComment) ?? "", StringComparison.Ordinal);
                        Assert.Equal(DimseStatus.Success, await scu.EchoAsync());
                    }));
                // Command-set fragments without end: aborted once past 64 KB, long before 100 MB are sent.
                attacks.Add(Task.Run(() => FloodCommandFragmentsAsync(port)));
                // A P-DATA-TF far longer than the 256 KB we announced: aborted on its header.
                attacks.Add(Task.Run(() => OversizedPduAsync(port)));
                // Large data sets on eight associations at once: spooled to disk, stored.
                var large = StoreBehaviourTests.Instance("LARGE", 1, 24 * 1024 * 1024);
                for (var i = 0; i < 8; i++)
                {
                    var n = i;
                    attacks.Add(Task.Run(async () =>
                    {
                        var ds = DicomFile.Open(large).Dataset;
                        var sop = $"2.25.777{n}";
                        ds.Add(OrthancWeb.Dicom.Data.DicomTags.SOPInstanceUID, sop);
                        var data = DicomWriter.ToBytes(ds, TransferSyntax.ExplicitVRLittleEndian);
                        await using var scu = await DicomClient.ConnectAsync("127.0.0.1", port, "LARGE", "ORTHANCWEB",
                            [(CtImageStorage, [TransferSyntax.ExplicitVRLittleEndian.Uid])]);
                        var rsp = await scu.StoreAsync(CtImageStorage, sop, TransferSyntax.ExplicitVRLittleEndian, data);
                        Assert.Equal(DimseStatus.Success, rsp.Status);
                    }));
                }
                await Task.WhenAll(attacks);
                await attackOver.CancelAsync();
                var runs = await normalStores;

                var peak = PeakRssMb(server.ProcessId);
                Assert.True(peak < RssLimitMb, $"peak RSS {peak} MB (limit {RssLimitMb})\n{server.Log}");
                Assert.False(server.HasExited);
                // Nothing of the bombs is stored; the normal instance and the eight large ones are.
                var patients = (await Rest.GetJsonAsync(client, "/patients?expand")).AsArray()
                    .Select(p => p!["MainDicomTags"]!["PatientID"]!.GetValue<string>()).Order().ToArray();
                Assert.Equal(["LARGE", "NORMAL"], patients);
                Assert.Equal(9, Rest.Ids(await Rest.GetJsonAsync(client, "/instances")).Length);
                Assert.True(runs >= 1);
                Console.WriteLine($"bombs: peak RSS {peak} MB, {runs} storescu runs alongside");
            }
        }
        finally { Directory.Delete(folder, true); }
    }

    internal static int DicomPort(string folder) => int.Parse(File.ReadAllText(Path.Combine(folder, "ports")).Split(' ')[2], System.Globalization.CultureInfo.InvariantCulture);

    private static async Task FloodCommandFragmentsAsync(int port)
    {
        await using var stream = await AssociateRawAsync(port, (1, SopClasses.Verification, TransferSyntax.ImplicitVRLittleEndian.Uid));
        var fragment = PData(1, command: true, last: false, new byte[16 * 1024]);
        long sent = 0;
        var aborted = ReadUntilAbortAsync(stream);
        try
        {
            while (!aborted.IsCompleted && sent < 100L * 1024 * 1024)
            {
                await stream.WriteAsync(fragment);
                sent += fragment.Length;
            }
        }
        catch (IOException) { } // the server closed the connection after its A-ABORT
        Assert.True(await aborted.WaitAsync(TimeSpan.FromSeconds(30)), "no A-ABORT for a command set past 64 KB");
        Assert.True(sent < 20L * 1024 * 1024, $"{sent} bytes of command fragments were taken before the abort");
    }

    private static async Task OversizedPduAsync(int port)
    {
        await using var stream = await AssociateRawAsync(port, (1, SopClasses.Verification, TransferSyntax.ImplicitVRLittleEndian.Uid));
        // The header claims 100 MB; only the first bytes follow.
        await stream.WriteAsync(PData(1, command: true, last: true, EchoCommand(1), claimedPduLength: 100u * 1024 * 1024));
        Assert.True(await ReadUntilAbortAsync(stream).WaitAsync(TimeSpan.FromSeconds(30)), "no A-ABORT for a PDU longer than announced");
    }

    /// <summary>True once an A-ABORT PDU arrived (or the connection closed after one).</summary>
    private static async Task<bool> ReadUntilAbortAsync(Stream stream)
    {
        try
        {
            while (true)
            {
                var (type, _) = await ReadPduAsync(stream);
                if (type == PduType.Abort) return true;
            }
        }
        catch (Exception ex) when (ex is IOException or EndOfStreamException or SocketException or ObjectDisposedException) { return false; }
    }
}
