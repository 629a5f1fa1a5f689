using System.Buffers.Binary;
using OrthancWeb.Dicom.Data;

namespace OrthancWeb.Dicom.Imaging;

/// <summary>
/// Elscint's private "PMSCT_RLE1" compression (old Elscint/Philips CT scanners): no Pixel Data element, the image in
/// the private element (07A1,100A), with (07A1,1011) saying "PMSCT_RLE1". Orthanc decodes it, so scripts and viewers
/// expect a picture where the standard finds none. Two passes undo it: a run-length pass (0xA5, count - 1, byte),
/// then a delta pass over the bytes it gives: 0x5A and a little-endian 16-bit sample sets the value; any other byte is a
/// signed difference from the previous sample. The result is native 16-bit pixel data.
/// </summary>
/// <remarks>No standard describes it; the layout was checked against Orthanc 1.10.1's decoder with files we encoded.</remarks>
public static class ElscintPmsctRle1
{
    public static readonly DicomTag CompressedPixelData = new(0x07A1, 0x100A);
    public static readonly DicomTag CompressionType = new(0x07A1, 0x1011);

    private const byte Run = 0xA5;
    private const byte Literal = 0x5A;

    /// <summary>Whether the data set holds its image this way (and no standard Pixel Data).</summary>
    public static bool Applies(DicomDataset dataset) =>
        dataset[DicomTags.PixelData] is null
        && dataset[CompressionType] is DicomElement type
        && System.Text.Encoding.ASCII.GetString(type.Buffer.Memory.Span).TrimEnd(' ', '\0') == "PMSCT_RLE1"
        && dataset[CompressedPixelData] is DicomElement;

    /// <summary>The image as native 16-bit little-endian pixel data of <paramref name="samples"/> samples.</summary>
    public static byte[] Decode(ReadOnlySpan<byte> compressed, int samples)
    {
        // Three bytes give at most 256 (a run): a file that claims more samples than its stream can hold is refused
        // before the image is allocated, so a small hostile file cannot make the server reserve gigabytes.
        if (samples < 0 || samples > (long)compressed.Length * 256 / 3 + 1)
            throw new ImagingException($"PMSCT_RLE1 pixel data of {compressed.Length} bytes cannot hold the {samples} samples Rows x Columns needs");
        var output = new byte[samples * 2L];
        var written = 0;
        ushort previous = 0;
        // The delta pass reads the run-length pass's bytes one at a time; a 0x5A takes the next two with it.
        var pending = 0;          // bytes of a 16-bit literal still to come (2, 1) or 0
        var low = 0;
        var runLeft = 0;
        byte runValue = 0;
        var i = 0;
        while (written < samples)
        {
            byte b;
            if (runLeft > 0) { b = runValue; runLeft--; }
            else if (i >= compressed.Length) break;
            else if (compressed[i] == Run)
            {
                if (i + 2 >= compressed.Length) throw new ImagingException("PMSCT_RLE1 pixel data ends inside a run");
                runLeft = compressed[i + 1] + 1;
                runValue = compressed[i + 2];
                i += 3;
                continue;
            }
            else b = compressed[i++];

            if (pending == 2) { low = b; pending = 1; continue; }
            if (pending == 1) { previous = (ushort)(low | b << 8); pending = 0; }
            else if (b == Literal) { pending = 2; continue; }
            else previous = (ushort)(previous + (sbyte)b);
            BinaryPrimitives.WriteUInt16LittleEndian(output.AsSpan(written++ * 2), previous);
        }
        if (written < samples)
            throw new ImagingException($"PMSCT_RLE1 pixel data gives {written} samples, Rows x Columns needs {samples}");
        return output;
    }

    /// <summary>The data set's image decoded into a Pixel Data element (OW), for the rest of the imaging code.</summary>
    public static DicomElement ToPixelData(DicomDataset dataset, PixelDataInfo info)
    {
        if (info.BitsAllocated != 16)
            throw new ImagingException($"PMSCT_RLE1 pixel data with Bits Allocated {info.BitsAllocated} (16 expected)");
        var compressed = (DicomElement)dataset[CompressedPixelData]!;
        var samples = (long)info.Rows * info.Columns * info.SamplesPerPixel * Math.Max(1, info.NumberOfFrames);
        if (samples > int.MaxValue / 2) throw new ImagingException($"PMSCT_RLE1 image of {samples} samples is too large to decode");
        return new DicomElement(DicomTags.PixelData, DicomVR.OW, DicomBuffer.From(Decode(compressed.Buffer.Memory.Span, (int)samples)));
    }
}
