using System.Globalization;
using System.Text;
using OrthancWeb.Dicom.Imaging;

namespace OrthancWeb.Imaging;

/// <summary>
/// One decoded frame as a MATLAB/Octave expression (/instances/{id}/matlab, /frames/{n}/matlab), the text Orthanc
/// 1.10.1 answers, byte for byte: grayscale as <c>double([ r0c0 r0c1 ... ; r1c0 ... ])</c>, one row of the image per
/// matrix row; RGB as the samples in file order reshaped and permuted, <c>double(permute(reshape([ ... ], [ 3 R C ]),
/// [ 3 2 1 ]))</c> (orthanc writes Rows before Columns in the reshape, which we keep so that scripts get what they
/// got). Sample values are the stored ones, signed as Pixel Representation says, without Rescale Slope/Intercept;
/// 1-bit images read 0 and 255, as orthanc's decoder expands them. What orthanc does not convert (32-bit samples,
/// 16-bit colour, colour still in YBR) is null, its "Not implemented yet".
/// </summary>
public static class MatlabText
{
    /// <summary>
    /// Whether orthanc 1.10.1 exports this kind of image, known before any frame is decoded: it answers "Not
    /// implemented" for the others even for a frame beyond the last. Native colour must be RGB; a compressed one may
    /// be YBR, which its decoder turns into RGB.
    /// </summary>
    public static bool Supports(FrameSource frames)
    {
        var info = frames.Info;
        if (info.IsFloat) return false;
        if (info.SamplesPerPixel == 1) return info.Photometric is "MONOCHROME1" or "MONOCHROME2" && info.BitsAllocated <= 16;
        return info.SamplesPerPixel == 3 && info.BitsAllocated == 8 && (info.Photometric == "RGB" || frames.IsEncapsulated);
    }

    public static string? Encode(RenderingService.Loaded loaded, int frame)
    {
        var decoded = CodecRegistry.Default.DecodeFrame(loaded.Frames, frame);
        var info = decoded.Info;
        if (info.IsFloat) return null;
        var text = new StringBuilder("double(");
        if (decoded.Photometric is "MONOCHROME1" or "MONOCHROME2" && info.SamplesPerPixel == 1 && info.BitsAllocated <= 16)
        {
            // No dataset: the sample values with their sign and Bits Stored applied, no Modality LUT.
            var values = Renderer.ModalityValues(decoded, []);
            var scale = loaded.Frames.Info.BitsAllocated == 1 ? 255 : 1;
            text.Append("[ ");
            for (var row = 0; row < info.Rows; row++)
            {
                if (row > 0) text.Append("; ");
                for (var column = 0; column < info.Columns; column++)
                    text.Append(((long)values[row * info.Columns + column] * scale).ToString(CultureInfo.InvariantCulture)).Append(' ');
            }
            text.Append(']');
        }
        else if (decoded.Photometric == "RGB" && info.SamplesPerPixel == 3 && info.BitsAllocated == 8)
        {
            text.Append("permute(reshape([ ");
            foreach (var sample in decoded.Data.AsSpan(0, info.Rows * info.Columns * 3))
                text.Append(sample.ToString(CultureInfo.InvariantCulture)).Append(' ');
            text.Append(CultureInfo.InvariantCulture, $"], [ 3 {info.Rows} {info.Columns} ]), [ 3 2 1 ])");
        }
        else return null;
        return text.Append(')').ToString();
    }
}
