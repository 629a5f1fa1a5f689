using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using OrthancWeb.Dicom.Data;
using OrthancWeb.Dicom.IO;
using OrthancWeb.Dicom.Network.Dimse;
using OrthancWeb.Dicom.Network.Pdu;
using OrthancWeb.Dicom.Network.Services;
using OrthancWeb.Tests.Infrastructure;
using OrthancWeb.Tests.Server;
using Xunit.Abstractions;
using static OrthancWeb.Tests.Faults.HostilePeers;

namespace OrthancWeb.Tests.Faults;

/// <summary>
/// "Load and faults", last bullet: 10,000 mutated associations (mutations of a valid exchange: bit flips, truncations,
/// length fields changed, PDU types swapped, garbage after the A-ASSOCIATE-RQ, items with huge lengths) against the
/// listener of a real server process. It must not crash, its memory stays bounded, every connection is closed by the
/// server once the peer has said all it will, and a real echoscu running alongside succeeds throughout.
/// FUZZ_ASSOCIATIONS scales the count for a long run; FUZZ_SEED replays one.
/// </summary>
public sealed class FuzzTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Mutated_associations_never_crash_the_listener_nor_starve_a_well_behaved_peer()
    {
        var count = int.TryParse(Environment.GetEnvironmentVariable("FUZZ_ASSOCIATIONS"), CultureInfo.InvariantCulture, out var c) ? c : 10_000;
        var seed = int.TryParse(Environment.GetEnvironmentVariable("FUZZ_SEED"), CultureInfo.InvariantCulture, out var s) ? s : Environment.TickCount;
        output.WriteLine($"FUZZ_SEED={seed}");
        var folder = Directory.CreateTempSubdirectory("ow-fuzz-").FullName;
        try
        {
            // The well-behaved peer is a known modality: the fuzzers, unknown AEs from the same address, may take at most
            // 8 associations there and never the slots kept for modalities.
            var server = await ServerProcess.StartAsync(folder, """
                , "DicomModalities": { "wellbehaved": { "AET": "WELLBEHAVED", "Host": "127.0.0.1", "Port": 1 } }
                """);
            await using (server)
            {
                var port = BombTests.DicomPort(folder);
                var exchange = ValidExchange();
                using var done = new CancellationTokenSource();
                var echoes = Task.Run(() =>
                {
                    var runs = 0;
                    while (!done.IsCancellationRequested || runs == 0)
                    {
                        var r = Peers.Run("echoscu", "-aec", "ORTHANCWEB", "-aet", "WELLBEHAVED", "127.0.0.1", port.ToString(CultureInfo.InvariantCulture));
                        Assert.True(r.ExitCode == 0, $"echoscu failed during the fuzzing (run {runs}):\n{r.Stdout}{r.Stderr}");
                        runs++;
                    }
                    return runs;
                });

                var next = -1;
                var unclosed = 0;
                var clock = Stopwatch.StartNew();
                var workers = Enumerable.Range(0, 12).Select(_ => Task.Run(async () =>
                {
                    int i;
                    while ((i = Interlocked.Increment(ref next)) < count)
                    {
                        var bytes = Mutate(exchange, new Random(HashCode.Combine(seed, i)));
                        if (!await SendAsync(port, bytes)) Interlocked.Increment(ref unclosed);
                    }
                })).ToArray();
                await Task.WhenAll(workers);
                await done.CancelAsync();
                var echoRuns = await echoes;

                Assert.False(server.HasExited, "the server died:\n" + server.Log);
                Assert.Equal(0, unclosed);
                var peak = PeakRssMb(server.ProcessId);
                Assert.True(peak < 600, $"peak RSS {peak} MB");
                // Still serving: a well-formed association after all of it.
                var last = Peers.Run("echoscu", "-aec", "ORTHANCWEB", "-aet", "WELLBEHAVED", "127.0.0.1", port.ToString(CultureInfo.InvariantCulture));
                Assert.Equal(0, last.ExitCode);
                Assert.DoesNotContain("Unhandled exception", server.Log, StringComparison.Ordinal);
                // Every malformed exchange is a protocol error the toolkit names (logged as information); an
                // unexpected exception in an association is logged as an error ("fail:"), and is a bug.
                var failures = server.Log.Split('\n').Select((line, i) => (line, i)).Where(l => l.line.StartsWith("fail:", StringComparison.Ordinal))
                    .Select(l => string.Join('\n', server.Log.Split('\n').Skip(l.i).Take(6))).Take(5).ToList();
                Assert.True(failures.Count == 0, "unexpected failures in the server:\n" + string.Join("\n---\n", failures));
                output.WriteLine($"{count} mutated associations in {clock.Elapsed.TotalSeconds:0.0} s, {echoRuns} echoscu runs alongside, peak RSS {peak} MB");
            }
        }
        finally { Directory.Delete(folder, true); }
    }

    /// <summary>One exchange of a well-behaved SCU, as PDUs: associate, C-ECHO, C-STORE, C-FIND, release.</summary>
    internal sealed record Exchange(byte[] Bytes, int[] PduOffsets);

    internal static Exchange ValidExchange()
    {
        var rq = new AssociationParameters { CalledAE = "ORTHANCWEB", CallingAE = "FUZZER" };
        rq.PresentationContexts.Add(new PresentationContext(1, SopClasses.Verification, [TransferSyntax.ImplicitVRLittleEndian.Uid]));
        rq.PresentationContexts.Add(new PresentationContext(3, CtImageStorage, [TransferSyntax.ExplicitVRLittleEndian.Uid]));
        rq.PresentationContexts.Add(new PresentationContext(5, SopClasses.StudyRootFind, [TransferSyntax.ExplicitVRLittleEndian.Uid, TransferSyntax.DeflatedExplicitVRLittleEndian.Uid]));
        var pdus = new List<byte[]> { PduCodec.EncodeAssociate(rq, accept: false) };
        pdus.Add(PData(1, true, true, EchoCommand(1)));
        var ds = Identity("FUZZ", "2.25.4242");
        ds.AddBytes(DicomTags.PixelData, DicomVR.OW, new byte[512]);
        var data = DicomWriter.ToBytes(ds, TransferSyntax.ExplicitVRLittleEndian);
        pdus.Add(PData(3, true, true, DimseMessage.StoreRequest(2, CtImageStorage, "2.25.4242", data).EncodeCommand()));
        pdus.Add(PData(3, false, false, data.AsSpan(0, data.Length / 2)));
        pdus.Add(PData(3, false, true, data.AsSpan(data.Length / 2)));
        var query = new DicomDataset().Add(DicomTags.QueryRetrieveLevel, "STUDY").Add(DicomTags.PatientID, "FUZZ*").Add(DicomTags.StudyInstanceUID, "");
        var identifier = DicomWriter.ToBytes(query, TransferSyntax.ExplicitVRLittleEndian);
        pdus.Add(PData(5, true, true, DimseMessage.QueryRequest(CommandField.CFindRequest, 3, SopClasses.StudyRootFind, identifier).EncodeCommand()));
        pdus.Add(PData(5, false, true, identifier));
        pdus.Add(PduCodec.ReleaseRequest());
        var offsets = new List<int>();
        var all = new List<byte>();
        foreach (var p in pdus) { offsets.Add(all.Count); all.AddRange(p); }
        return new Exchange([.. all], [.. offsets]);
    }

    /// <summary>One to three mutations of the valid exchange.</summary>
    internal static byte[] Mutate(Exchange exchange, Random rng)
    {
        var bytes = exchange.Bytes.ToList();
        var offsets = exchange.PduOffsets.ToList();
        var mutations = 1 + rng.Next(3);
        for (var m = 0; m < mutations; m++)
        {
            if (bytes.Count == 0) break;
            var pdu = offsets[rng.Next(offsets.Count)];
            switch (rng.Next(8))
            {
                case 0: // bit flips anywhere
                    for (var k = 1 + rng.Next(8); k > 0; k--) { var at = rng.Next(bytes.Count); bytes[at] ^= (byte)(1 << rng.Next(8)); }
                    break;
                case 1: // truncated
                    var cut = rng.Next(bytes.Count);
                    bytes.RemoveRange(cut, bytes.Count - cut);
                    break;
                case 2: // a PDU length changed
                    if (pdu + 6 <= bytes.Count) WriteUInt32(bytes, pdu + 2, Lengths(rng, ReadUInt32(bytes, pdu + 2)));
                    break;
                case 3: // a PDU type swapped
                    if (pdu < bytes.Count) bytes[pdu] = (byte)rng.Next(0, 10);
                    break;
                case 4: // garbage after the A-ASSOCIATE-RQ
                    var garbage = new byte[rng.Next(1, 2048)];
                    rng.NextBytes(garbage);
                    bytes.InsertRange(Math.Min(offsets.Count > 1 ? offsets[1] : bytes.Count, bytes.Count), garbage);
                    break;
                case 5: // an item or sub-item of the A-ASSOCIATE-RQ with a huge (or wrong) length
                    var assocEnd = Math.Min(offsets.Count > 1 ? offsets[1] : bytes.Count, bytes.Count);
                    if (assocEnd > 80)
                    {
                        var at = 74 + rng.Next(assocEnd - 76);
                        bytes[at] = 0xFF;
                        bytes[at + 1] = (byte)rng.Next(256);
                    }
                    break;
                case 6: // a PDV item length changed, or its control header
                    if (pdu + 12 <= bytes.Count && bytes[pdu] == (byte)PduType.PData)
                    {
                        if (rng.Next(2) == 0) WriteUInt32(bytes, pdu + 6, Lengths(rng, ReadUInt32(bytes, pdu + 6)));
                        else bytes[pdu + 11] = (byte)rng.Next(256);
                    }
                    break;
                default: // a PDU repeated or dropped
                    var idx = offsets.IndexOf(pdu);
                    var end = idx + 1 < offsets.Count ? offsets[idx + 1] : exchange.Bytes.Length;
                    if (end <= bytes.Count && pdu < end)
                    {
                        var copy = bytes.GetRange(pdu, end - pdu);
                        if (rng.Next(2) == 0) bytes.InsertRange(end, copy);
                        else bytes.RemoveRange(pdu, end - pdu);
                    }
                    break;
            }
        }
        return [.. bytes];
    }

    private static uint Lengths(Random rng, uint valid) => rng.Next(6) switch
    {
        0 => 0,
        1 => uint.MaxValue,
        2 => valid + 1,
        3 => valid == 0 ? 1 : valid - 1,
        4 => (uint)rng.Next(),
        _ => 0x7FFFFFFF,
    };

    private static uint ReadUInt32(List<byte> b, int at) => BinaryPrimitives.ReadUInt32BigEndian([b[at], b[at + 1], b[at + 2], b[at + 3]]);

    private static void WriteUInt32(List<byte> b, int at, uint v)
    {
        Span<byte> s = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(s, v);
        for (var i = 0; i < 4; i++) b[at + i] = s[i];
    }

    /// <summary>
    /// Sends the bytes, says it is done (FIN), and reads whatever comes back until the server closes. False when the
    /// server keeps the connection open for 10 s after the peer has finished: a leaked association.
    /// </summary>
    private static async Task<bool> SendAsync(int port, byte[] bytes)
    {
        using var tcp = new TcpClient { NoDelay = true };
        await tcp.ConnectAsync("127.0.0.1", port);
        var socket = tcp.Client;
        var drain = Task.Run(async () =>
        {
            var sink = new byte[16 * 1024];
            try { while (await socket.ReceiveAsync(sink, SocketFlags.None) > 0) { } }
            catch (SocketException) { }
            catch (ObjectDisposedException) { }
        });
        try
        {
            await socket.SendAsync(bytes, SocketFlags.None);
            socket.Shutdown(SocketShutdown.Send);
        }
        catch (SocketException) { } // the server already aborted and closed: fine
        return await Task.WhenAny(drain, Task.Delay(TimeSpan.FromSeconds(10))) == drain;
    }
}
