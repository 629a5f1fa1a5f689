using System.Buffers.Binary;
using System.Globalization;
using OrthancWeb.Dicom.Data;
using OrthancWeb.Dicom.IO;

namespace OrthancWeb.Dicom.Imaging;

/// <summary>
/// Re-encodes data sets from one transfer syntax into another: any syntax the registry decodes into any it writes
/// (uncompressed, or encapsulated through an encoder), frame by frame through the uncompressed form. Used for a peer
/// that does not accept the stored syntax (PS3.4 §B.4.1 and §C.4.2.3), and for REST and ingest transcoding.
/// </summary>
public static class Transcoder
{
    /// <summary>
    /// The transfer syntax named by <paramref name="uid"/> if it is one this toolkit can write, else an
    /// <see cref="ImagingException"/> saying why (unknown UID: invalid; known but no encoder: no codec).
    /// </summary>
    public static TransferSyntax ParseTarget(string? uid, CodecRegistry? codecs = null)
    {
        codecs ??= CodecRegistry.Default;
        var trimmed = uid?.Trim() ?? "";
        if (DicomUids.Find(trimmed) is not { IsTransferSyntax: true } entry)
            throw new ImagingException($"\"{trimmed}\" is not a transfer syntax UID");
        var syntax = TransferSyntax.Lookup(entry.Uid);
        if (!codecs.CanWrite(syntax))
            throw new ImagingException($"transcoding to {syntax.Name} ({syntax.Uid}) is not supported", failure: ImagingFailure.NoCodec);
        return syntax;
    }

    public static byte[] ToUncompressed(ReadOnlyMemory<byte> dataSet, TransferSyntax from, TransferSyntax to, CodecRegistry? codecs = null)
    {
        if (!to.IsUncompressed) throw new ArgumentException("only uncompressed targets are supported", nameof(to));
        return Transcode(dataSet, from, to, codecs);
    }

    /// <summary>A data set (in <paramref name="from"/>) re-encoded as a data set in <paramref name="to"/>.</summary>
    public static byte[] Transcode(ReadOnlyMemory<byte> dataSet, TransferSyntax from, TransferSyntax to, CodecRegistry? codecs = null, EncodeOptions? options = null)
    {
        var ds = DicomReader.ReadDataset(dataSet, from);
        TranscodePixelData(ds, from, to, codecs, options);
        return DicomWriter.ToBytes(ds, to);
    }

    /// <summary>A Part 10 file re-encoded in an uncompressed syntax, its meta group rebuilt for it (PS3.10 7.1).</summary>
    public static DicomFile ToUncompressedFile(DicomFile file, TransferSyntax to, CodecRegistry? codecs = null)
    {
        if (!to.IsUncompressed) throw new ArgumentException("only uncompressed targets are supported", nameof(to));
        return TranscodeFile(file, to, codecs);
    }

    /// <summary>
    /// A Part 10 file re-encoded in <paramref name="to"/>, its meta group rebuilt for it (PS3.10 §7.1). The given
    /// file is left as it is; a file already in <paramref name="to"/> is returned as it is.
    /// </summary>
    public static DicomFile TranscodeFile(DicomFile file, TransferSyntax to, CodecRegistry? codecs = null, EncodeOptions? options = null)
    {
        if (file.TransferSyntax.Equals(to)) return file;
        var ds = file.Dataset.Clone();
        TranscodePixelData(ds, file.TransferSyntax, to, codecs, options);
        var converted = new DicomFile(ds, to);
        converted.UpdateFileMetaInfo();
        return converted;
    }

    /// <summary>
    /// Replaces the pixel data of <paramref name="ds"/> (read in <paramref name="from"/>) by its encoding in
    /// <paramref name="to"/>, with the attributes that change with it (PS3.5 §8.2; PS3.3 §C.7.6.1.1.5 for lossy).
    /// A data set without pixel data, or already in a syntax with the same pixel encoding, is left as it is.
    /// </summary>
    public static void TranscodePixelData(DicomDataset ds, TransferSyntax from, TransferSyntax to, CodecRegistry? codecs = null, EncodeOptions? options = null)
    {
        codecs ??= CodecRegistry.Default;
        options ??= EncodeOptions.Default;
        if (ds[DicomTags.PixelData] is not { } pixelItem) return;
        var sourceEncapsulated = pixelItem is DicomFragmentSequence;
        if (from.Equals(to) || (!sourceEncapsulated && !to.IsEncapsulated)) return; // the writer changes byte order and VR
        if (!to.IsEncapsulated)
        {
            Decompress(ds, from, codecs);
            return;
        }
        var encoder = codecs.FindEncoder(to);
        var source = new FrameSource(ds, from);
        var info = source.Info;
        if (!sourceEncapsulated && info.Photometric is "YBR_FULL_422" or "YBR_PARTIAL_422")
            throw new ImagingException($"native {info.Photometric} pixel data cannot be re-encoded; decode it to RGB first");
        if (info.BitsAllocated == 1 || info.IsFloat)
            throw new ImagingException($"{to.Name} cannot hold {(info.IsFloat ? "floating point" : "1-bit")} pixel data");
        var fragments = new List<byte[]>(source.FrameCount);
        string? photometric = null;
        long uncompressed = 0;
        for (var i = 0; i < source.FrameCount; i++)
        {
            var decoded = codecs.DecodeFrame(source, i);
            uncompressed += decoded.Data.Length;
            var encoded = encoder.Encode(decoded, to, options);
            photometric ??= encoded.Photometric;
            // Fragments have even lengths (PS3.5 §A.4): codecs pad with a trailing zero, which every decoder ignores
            // after the end-of-image marker (RLE pads its segments itself).
            fragments.Add(encoded.Data.Length % 2 == 0 ? encoded.Data : [.. encoded.Data, 0]);
        }
        ds.AddOrUpdate(Encapsulate(fragments));
        ds.Remove(DicomTags.ExtendedOffsetTable);
        ds.Remove(DicomTags.ExtendedOffsetTableLengths);
        if (info.SamplesPerPixel > 1) ds.Add(DicomTags.PlanarConfiguration, DicomVR.US, (ushort)0);
        if (photometric is not null && photometric != info.Photometric) ds.Add(DicomTags.PhotometricInterpretation, DicomVR.CS, photometric);
        if (to.IsLossy)
        {
            // Lossy compression is recorded for good: ratio and method are appended to any earlier ones (PS3.3 §C.7.6.1.1.5).
            var compressed = fragments.Sum(f => (long)f.Length);
            var ratio = (uncompressed / (double)Math.Max(1, compressed)).ToString("0.###", CultureInfo.InvariantCulture);
            var method = to.Uid switch
            {
                "1.2.840.10008.1.2.4.81" => "ISO_14495_1",
                "1.2.840.10008.1.2.4.91" => "ISO_15444_1",
                _ => "ISO_10918_1",
            };
            ds.Add(DicomTags.LossyImageCompression, DicomVR.CS, "01");
            ds.Add(DicomTags.LossyImageCompressionRatio, DicomVR.DS, [.. ds.GetStrings(DicomTags.LossyImageCompressionRatio), ratio]);
            ds.Add(DicomTags.LossyImageCompressionMethod, DicomVR.CS, [.. ds.GetStrings(DicomTags.LossyImageCompressionMethod), method]);
        }
        else if (from.IsLossy && sourceEncapsulated)
        {
            ds.Add(DicomTags.LossyImageCompression, DicomVR.CS, "01");
        }
    }

    /// <summary>
    /// Encapsulated pixel data (PS3.5 §A.4): a Basic Offset Table giving each frame's first fragment, counted from the
    /// first fragment's item tag, and one fragment per frame.
    /// </summary>
    public static DicomFragmentSequence Encapsulate(IReadOnlyList<byte[]> frames)
    {
        var seq = new DicomFragmentSequence(DicomTags.PixelData, DicomVR.OB);
        var table = new byte[4 * frames.Count];
        long offset = 0;
        for (var i = 0; i < frames.Count; i++)
        {
            if (offset > uint.MaxValue)
                throw new ImagingException("the encoded frames exceed the 4 GB a Basic Offset Table can address");
            BinaryPrimitives.WriteUInt32LittleEndian(table.AsSpan(4 * i), (uint)offset);
            offset += 8 + frames[i].Length;
            seq.Fragments.Add(DicomBuffer.From(frames[i]));
        }
        seq.OffsetTable = DicomBuffer.From(table);
        return seq;
    }

    /// <summary>Samples with the bits above Bits Stored cleared (a copy when any had to change).</summary>
    internal static byte[] MaskToBitsStored(byte[] data, PixelDataInfo info)
    {
        if (info.BitsStored >= info.BitsAllocated) return data;
        if (info.BytesPerSample == 1)
        {
            var mask8 = (byte)((1 << info.BitsStored) - 1);
            var copy8 = (byte[])data.Clone();
            for (var i = 0; i < copy8.Length; i++) copy8[i] &= mask8;
            return copy8;
        }
        if (info.BytesPerSample != 2) return data;
        var mask = (ushort)((1 << info.BitsStored) - 1);
        var copy = (byte[])data.Clone();
        for (var i = 0; i + 1 < copy.Length; i += 2)
            BinaryPrimitives.WriteUInt16LittleEndian(copy.AsSpan(i), (ushort)(BinaryPrimitives.ReadUInt16LittleEndian(copy.AsSpan(i)) & mask));
        return copy;
    }

    private static void Decompress(DicomDataset ds, TransferSyntax from, CodecRegistry codecs)
    {
        var source = new FrameSource(ds, from);
        var frames = Enumerable.Range(0, source.FrameCount).Select(i => codecs.DecodeFrame(source, i)).ToList();
        var first = frames[0];
        var total = frames.Sum(f => (long)f.Data.Length);
        var pixels = new byte[total + (total & 1)];
        var offset = 0;
        foreach (var f in frames) { f.Data.CopyTo(pixels, offset); offset += f.Data.Length; }
        ds.AddBytes(DicomTags.PixelData, first.Info.BitsAllocated > 8 ? DicomVR.OW : DicomVR.OB, pixels);
        ds.Remove(DicomTags.ExtendedOffsetTable);
        ds.Remove(DicomTags.ExtendedOffsetTableLengths);
        // The decoded frames are interleaved, and color JPEG comes out as RGB (PS3.5 §8.2.1 lists what changes).
        if (first.Info.SamplesPerPixel > 1) ds.Add(DicomTags.PlanarConfiguration, DicomVR.US, (ushort)0);
        if (first.Photometric != source.Info.Photometric) ds.Add(DicomTags.PhotometricInterpretation, DicomVR.CS, first.Photometric);
        if (from.IsLossy) ds.Add(DicomTags.LossyImageCompression, DicomVR.CS, "01");
    }
}
