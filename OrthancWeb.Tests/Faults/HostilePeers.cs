using System.Buffers.Binary;
using System.Globalization;
using System.IO.Compression;
using System.Net.Sockets;
using OrthancWeb.Dicom.Data;
using OrthancWeb.Dicom.IO;
using OrthancWeb.Dicom.Network.Dimse;
using OrthancWeb.Dicom.Network.Pdu;

namespace OrthancWeb.Tests.Faults;

/// <summary>What an attacker on the hospital network sends: deflate bombs, floods of fragments, oversized PDUs.</summary>
internal static class HostilePeers
{
    public const string CtImageStorage = "1.2.840.10008.5.1.4.1.1.2";

    /// <summary>The peak resident set of a process (VmHWM of /proc/pid/status), in MB.</summary>
    public static long PeakRssMb(int pid)
    {
        var line = File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
        return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024;
    }

    /// <summary>A small CT instance's identity, its own patient.</summary>
    public static DicomDataset Identity(string patientId, string sop)
    {
        var ds = new DicomDataset();
        ds.Add(DicomTags.SOPClassUID, CtImageStorage);
        ds.Add(DicomTags.SOPInstanceUID, sop);
        ds.Add(DicomTags.PatientName, "BOMB^" + patientId);
        ds.Add(DicomTags.PatientID, patientId);
        ds.Add(DicomTags.StudyInstanceUID, sop + ".1");
        ds.Add(DicomTags.SeriesInstanceUID, sop + ".2");
        ds.Add(DicomTags.Modality, "CT");
        return ds;
    }

    private static readonly Lock s_gate = new();
    private static byte[]? s_bombBody;

    /// <summary>
    /// The deflated body of a bomb (Deflated Explicit VR Little Endian, PS3.5 §A.5): a valid header, then a private
    /// OB value of 1 GiB of zeros that deflates to about a megabyte, then a little pixel data.
    /// </summary>
    public static byte[] BombBody()
    {
        lock (s_gate)
        {
            if (s_bombBody is not null) return s_bombBody;
            using var output = new MemoryStream();
            using (var deflate = new DeflateStream(output, CompressionLevel.SmallestSize, leaveOpen: true))
            {
                var ds = Identity("BOMB-TEMPLATE", "2.25.999");
                ds.Add(new DicomTag(0x0009, 0x0010), DicomVR.LO, "BOMB");
                deflate.Write(DicomWriter.ToBytes(ds, TransferSyntax.ExplicitVRLittleEndian));
                const uint huge = 1u << 30;
                Span<byte> header = stackalloc byte[12];
                BinaryPrimitives.WriteUInt16LittleEndian(header, 0x0009);
                BinaryPrimitives.WriteUInt16LittleEndian(header[2..], 0x1001);
                header[4] = (byte)'O'; header[5] = (byte)'B';
                BinaryPrimitives.WriteUInt32LittleEndian(header[8..], huge);
                deflate.Write(header);
                var zeros = new byte[1 << 20];
                for (var i = 0; i < huge / zeros.Length; i++) deflate.Write(zeros);
            }
            return s_bombBody = output.ToArray();
        }
    }

    /// <summary>
    /// The bomb as a Part 10 file. Its UIDs sit in the deflated body, so every copy names the same instance: harmless,
    /// since none may be stored.
    /// </summary>
    public static byte[] BombFile()
    {
        var file = new DicomFile(new DicomDataset(), TransferSyntax.DeflatedExplicitVRLittleEndian);
        file.Dataset.Add(DicomTags.SOPClassUID, CtImageStorage);
        file.Dataset.Add(DicomTags.SOPInstanceUID, "2.25.999");
        file.UpdateFileMetaInfo();
        file.Dataset.Remove(DicomTags.SOPClassUID);
        file.Dataset.Remove(DicomTags.SOPInstanceUID);
        var withEmpty = file.ToBytes();
        var metaEnd = 144 + (int)BinaryPrimitives.ReadUInt32LittleEndian(withEmpty.AsSpan(140));
        return [.. withEmpty.AsSpan(0, metaEnd), .. BombBody()];
    }

    /// <summary>A TCP connection with an A-ASSOCIATE-RQ sent and its A-ASSOCIATE-AC read: the raw association.</summary>
    public static async Task<NetworkStream> AssociateRawAsync(int port, params (byte Id, string AbstractSyntax, string Syntax)[] contexts)
    {
        var tcp = new TcpClient { NoDelay = true };
        await tcp.ConnectAsync("127.0.0.1", port);
        var stream = tcp.GetStream();
        var rq = new AssociationParameters { CalledAE = "ORTHANCWEB", CallingAE = "HOSTILE" };
        foreach (var (id, abs, ts) in contexts) rq.PresentationContexts.Add(new PresentationContext(id, abs, [ts]));
        await stream.WriteAsync(PduCodec.EncodeAssociate(rq, accept: false));
        var (type, _) = await ReadPduAsync(stream);
        if (type != PduType.AssociateAccept) throw new InvalidOperationException($"association not accepted: {type}");
        return stream;
    }

    public static async Task<(PduType Type, byte[] Body)> ReadPduAsync(Stream stream)
    {
        var header = new byte[6];
        await stream.ReadExactlyAsync(header);
        var body = new byte[BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(2))];
        await stream.ReadExactlyAsync(body);
        return ((PduType)header[0], body);
    }

    /// <summary>One P-DATA-TF with one PDV (PS3.8 §9.3.5).</summary>
    public static byte[] PData(byte contextId, bool command, bool last, ReadOnlySpan<byte> data, uint? claimedPduLength = null)
    {
        var pdu = new byte[12 + data.Length];
        pdu[0] = (byte)PduType.PData;
        BinaryPrimitives.WriteUInt32BigEndian(pdu.AsSpan(2), claimedPduLength ?? (uint)(data.Length + 6));
        BinaryPrimitives.WriteUInt32BigEndian(pdu.AsSpan(6), (uint)(data.Length + 2));
        pdu[10] = contextId;
        pdu[11] = (byte)((command ? 1 : 0) | (last ? 2 : 0));
        data.CopyTo(pdu.AsSpan(12));
        return pdu;
    }

    /// <summary>A C-ECHO-RQ command set, encoded as on the wire.</summary>
    public static byte[] EchoCommand(ushort id) => DimseMessage.EchoRequest(id).EncodeCommand();
}
