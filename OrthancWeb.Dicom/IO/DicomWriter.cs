using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using OrthancWeb.Dicom.Data;

namespace OrthancWeb.Dicom.IO;

/// <summary>
/// Encodes data sets and Part 10 files. What was read is written back as it was: undefined lengths stay undefined,
/// values keep their bytes, and group lengths are recomputed so they are right whatever changed.
/// </summary>
public static class DicomWriter
{
    private static readonly byte[] Prefix = "DICM"u8.ToArray();

    public static void WriteFile(Stream stream, DicomFile file)
    {
        if (file.FileMetaInfo.Count == 0)
            file.UpdateFileMetaInfo();
        if (file.FileMetaInfo.GetString(DicomTags.TransferSyntaxUID) != file.TransferSyntax.Uid)
            file.FileMetaInfo.Add(DicomTags.TransferSyntaxUID, DicomVR.UI, file.TransferSyntax.Uid);

        stream.Write(file.Preamble ?? new byte[128]);
        stream.Write(Prefix);

        // File meta information: explicit VR little endian with its group length first (PS3.10 §7.1).
        var meta = file.FileMetaInfo;
        var metaLength = 0L;
        foreach (var item in meta)
            if (!item.Tag.IsGroupLength) metaLength += EncodedLength(item, TransferSyntax.ExplicitVRLittleEndian);
        meta.AddOrUpdate(new DicomElement(DicomTags.FileMetaInformationGroupLength, DicomVR.UL,
            DicomBuffer.From(BitConverter.GetBytes((uint)metaLength))));
        var output = new Encoder(stream, TransferSyntax.ExplicitVRLittleEndian);
        output.WriteDataset(meta);

        WriteDataset(stream, file.Dataset, file.TransferSyntax);
    }

    /// <summary>A bare data set in the given syntax (deflated when the syntax says so).</summary>
    public static void WriteDataset(Stream stream, DicomDataset dataset, TransferSyntax syntax)
    {
        if (syntax.IsDeflated)
        {
            using var deflate = new DeflateStream(stream, CompressionLevel.Optimal, leaveOpen: true);
            using var buffered = new BufferedStream(deflate, 1 << 16);
            new Encoder(buffered, syntax).WriteDataset(dataset);
            return;
        }
        new Encoder(stream, syntax).WriteDataset(dataset);
    }

    public static byte[] ToBytes(DicomDataset dataset, TransferSyntax syntax)
    {
        using var ms = new MemoryStream();
        WriteDataset(ms, dataset, syntax);
        return ms.ToArray();
    }

    /// <summary>The VR actually written: a 16-bit-length VR whose value no longer fits becomes UN (PS3.5 §6.2.2).</summary>
    private static DicomVR WireVR(DicomItem item) =>
        item is DicomElement e && !e.VR.HasLongLength && e.Length > 0xFFFF ? DicomVR.UN : item.VR;

    private static long HeaderLength(DicomVR vr, TransferSyntax ts) => !ts.IsExplicitVR ? 8 : vr.HasLongLength ? 12 : 8;

    /// <summary>Bytes one item takes in the given syntax, header included.</summary>
    internal static long EncodedLength(DicomItem item, TransferSyntax ts)
    {
        switch (item)
        {
            case DicomElement e:
                return HeaderLength(WireVR(e), ts) + Even(e.Length);
            case DicomSequence s:
                var itemSyntax = s.VR == DicomVR.UN && ts.IsExplicitVR ? TransferSyntax.ImplicitVRLittleEndian : ts;
                var total = HeaderLength(s.VR, ts);
                foreach (var i in s.Items)
                    total += 8 + DatasetLength(i, itemSyntax) + (i.UndefinedLength ? 8 : 0);
                return total + (s.UndefinedLength ? 8 : 0);
            case DicomFragmentSequence f:
                var len = HeaderLength(f.VR, ts) + 8 + Even(f.OffsetTable.Length) + 8;
                foreach (var frag in f.Fragments) len += 8 + Even(frag.Length);
                return len;
            default:
                throw new InvalidOperationException($"cannot encode {item.GetType().Name}");
        }
    }

    /// <summary>Values have even length (PS3.5 §7.1.1); an odd one read from a faulty file is padded on the way out.</summary>
    private static long Even(long length) => length + (length & 1);

    internal static long EncodedLengthForTests(DicomItem item, TransferSyntax ts) => EncodedLength(item, ts);

    internal static long DatasetLength(DicomDataset ds, TransferSyntax ts)
    {
        var total = 0L;
        foreach (var item in ds) total += EncodedLength(item, ts);
        return total;
    }

    private sealed class Encoder(Stream stream, TransferSyntax ts)
    {
        private readonly bool _big = ts.IsBigEndian;

        public void WriteDataset(DicomDataset ds)
        {
            foreach (var item in ds)
            {
                // Group lengths (retired outside group 0002, PS3.5 §7.2) are kept where present, with a true value.
                if (item.Tag.IsGroupLength && item is DicomElement && item.Tag.Group != 0x0002)
                {
                    WriteGroupLength(ds, item.Tag);
                    continue;
                }
                WriteItem(item);
            }
        }

        private void WriteGroupLength(DicomDataset ds, DicomTag lengthTag)
        {
            var sum = 0L;
            foreach (var other in ds)
                if (other.Tag.Group == lengthTag.Group && !other.Tag.IsGroupLength) sum += EncodedLength(other, ts);
            var value = new byte[4];
            if (_big) BinaryPrimitives.WriteUInt32BigEndian(value, (uint)sum); else BinaryPrimitives.WriteUInt32LittleEndian(value, (uint)sum);
            WriteHeader(lengthTag, DicomVR.UL, 4);
            stream.Write(value);
        }

        private void WriteItem(DicomItem item)
        {
            switch (item)
            {
                case DicomElement e:
                {
                    var vr = WireVR(e);
                    WriteHeader(e.Tag, vr, (uint)Even(e.Length));
                    var unit = _big ? DicomReader.SwapUnit(e.VR) : 1;
                    if (unit > 1)
                    {
                        var copy = e.Buffer.Memory.ToArray();
                        DicomBuffer.Swap(copy, unit);
                        stream.Write(copy);
                    }
                    else
                        e.Buffer.CopyTo(stream);
                    if ((e.Length & 1) == 1) stream.WriteByte(e.VR.Padding);
                    break;
                }
                case DicomSequence s:
                {
                    var itemSyntax = s.VR == DicomVR.UN && ts.IsExplicitVR ? TransferSyntax.ImplicitVRLittleEndian : ts;
                    var length = s.UndefinedLength ? 0xFFFFFFFF : (uint)(EncodedLength(s, ts) - HeaderLength(s.VR, ts));
                    WriteHeader(s.Tag, s.VR, length);
                    var inner = itemSyntax == ts ? this : new Encoder(stream, itemSyntax);
                    foreach (var child in s.Items)
                    {
                        inner.WriteRaw(DicomTag.Item, child.UndefinedLength ? 0xFFFFFFFF : (uint)DatasetLength(child, itemSyntax));
                        inner.WriteDataset(child);
                        if (child.UndefinedLength) inner.WriteRaw(DicomTag.ItemDelimitationItem, 0);
                    }
                    if (s.UndefinedLength) WriteRaw(DicomTag.SequenceDelimitationItem, 0);
                    break;
                }
                case DicomFragmentSequence f:
                {
                    WriteHeader(f.Tag, f.VR, 0xFFFFFFFF);
                    foreach (var frag in f.Fragments.Prepend(f.OffsetTable))
                    {
                        WriteRaw(DicomTag.Item, (uint)Even(frag.Length));
                        frag.CopyTo(stream);
                        if ((frag.Length & 1) == 1) stream.WriteByte(0);
                    }
                    WriteRaw(DicomTag.SequenceDelimitationItem, 0);
                    break;
                }
            }
        }

        /// <summary>Tag and 32-bit length with no VR: items and delimiters (PS3.5 §7.5).</summary>
        private void WriteRaw(DicomTag tag, uint length)
        {
            Span<byte> h = stackalloc byte[8];
            WriteTag(h, tag);
            if (_big) BinaryPrimitives.WriteUInt32BigEndian(h[4..], length); else BinaryPrimitives.WriteUInt32LittleEndian(h[4..], length);
            stream.Write(h);
        }

        private void WriteTag(Span<byte> h, DicomTag tag)
        {
            if (_big)
            {
                BinaryPrimitives.WriteUInt16BigEndian(h, tag.Group);
                BinaryPrimitives.WriteUInt16BigEndian(h[2..], tag.Element);
            }
            else
            {
                BinaryPrimitives.WriteUInt16LittleEndian(h, tag.Group);
                BinaryPrimitives.WriteUInt16LittleEndian(h[2..], tag.Element);
            }
        }

        private void WriteHeader(DicomTag tag, DicomVR vr, uint length)
        {
            Span<byte> h = stackalloc byte[12];
            WriteTag(h, tag);
            if (!ts.IsExplicitVR)
            {
                BinaryPrimitives.WriteUInt32LittleEndian(h[4..], length);
                stream.Write(h[..8]);
                return;
            }
            h[4] = (byte)vr.Code[0];
            h[5] = (byte)vr.Code[1];
            if (vr.HasLongLength)
            {
                h[6] = h[7] = 0;
                if (_big) BinaryPrimitives.WriteUInt32BigEndian(h[8..], length); else BinaryPrimitives.WriteUInt32LittleEndian(h[8..], length);
                stream.Write(h);
            }
            else
            {
                if (_big) BinaryPrimitives.WriteUInt16BigEndian(h[6..], (ushort)length); else BinaryPrimitives.WriteUInt16LittleEndian(h[6..], (ushort)length);
                stream.Write(h[..8]);
            }
        }
    }
}
