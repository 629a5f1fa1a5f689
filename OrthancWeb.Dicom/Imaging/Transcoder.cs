using OrthancWeb.Dicom.Data;
using OrthancWeb.Dicom.IO;

namespace OrthancWeb.Dicom.Imaging;

/// <summary>
/// Re-encodes a data set into an uncompressed transfer syntax, decoding encapsulated pixel data frame by frame
/// (for a peer that does not accept the stored syntax, PS3.4 §B.4.1 and §C.4.2.3).
/// </summary>
public static class Transcoder
{
    public static byte[] ToUncompressed(ReadOnlyMemory<byte> dataSet, TransferSyntax from, TransferSyntax to, CodecRegistry? codecs = null)
    {
        if (!to.IsUncompressed) throw new ArgumentException("only uncompressed targets are supported", nameof(to));
        var ds = DicomReader.ReadDataset(dataSet, from);
        if (from.IsEncapsulated && ds[DicomTags.PixelData] is DicomFragmentSequence)
        {
            codecs ??= CodecRegistry.Default;
            var source = new FrameSource(ds, from);
            var frames = Enumerable.Range(0, source.FrameCount).Select(i => codecs.DecodeFrame(source, i)).ToList();
            var first = frames[0];
            var pixels = new byte[frames.Sum(f => (long)f.Data.Length) + (frames.Sum(f => (long)f.Data.Length) & 1)];
            var offset = 0;
            foreach (var f in frames) { f.Data.CopyTo(pixels, offset); offset += f.Data.Length; }
            ds.AddBytes(DicomTags.PixelData, first.Info.BitsAllocated > 8 ? DicomVR.OW : DicomVR.OB, pixels);
            // The decoded frames are interleaved, and color JPEG comes out as RGB (PS3.5 §8.2.1 lists what changes).
            if (first.Info.SamplesPerPixel > 1) ds.Add(DicomTags.PlanarConfiguration, DicomVR.US, (ushort)0);
            if (first.Photometric != source.Info.Photometric) ds.Add(DicomTags.PhotometricInterpretation, DicomVR.CS, first.Photometric);
            if (from.IsLossy)
            {
                ds.Add(DicomTags.LossyImageCompression, DicomVR.CS, "01");
            }
        }
        return DicomWriter.ToBytes(ds, to);
    }

    /// <summary>A Part 10 file re-encoded in an uncompressed syntax, its meta group rebuilt for it (PS3.10 7.1).</summary>
    public static DicomFile ToUncompressedFile(DicomFile file, TransferSyntax to, CodecRegistry? codecs = null)
    {
        var dataset = ToUncompressed(DicomWriter.ToBytes(file.Dataset, file.TransferSyntax), file.TransferSyntax, to, codecs);
        var converted = new DicomFile(DicomReader.ReadDataset(dataset, to), to);
        converted.UpdateFileMetaInfo();
        return converted;
    }
}
