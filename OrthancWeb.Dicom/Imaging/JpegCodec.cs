using JpegLibrary;
using OrthancWeb.Dicom.IO;

namespace OrthancWeb.Dicom.Imaging;

/// <summary>
/// JPEG baseline and extended (8 and 12 bit, processes 1, 2 and 4) and lossless (process 14, selection value 1 or
/// any), decoded by the managed JpegLibrary. Components come out as planes; YCbCr is turned into RGB here when the
/// data set says YBR_FULL or YBR_FULL_422 (PS3.5 §8.2.1), or when a 3-component JFIF stream carries no Adobe RGB
/// marker and the photometric interpretation says nothing else.
/// </summary>
public sealed class JpegCodec : IFrameCodec, IFrameEncoder
{
    private static readonly HashSet<string> Syntaxes =
    [
        "1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51", "1.2.840.10008.1.2.4.57", "1.2.840.10008.1.2.4.70",
    ];

    public bool Supports(TransferSyntax syntax) => Syntaxes.Contains(syntax.Uid);

    public DecodedFrame Decode(ReadOnlyMemory<byte> frame, PixelDataInfo info)
    {
        var decoder = new JpegDecoder();
        decoder.SetInput(frame);
        decoder.Identify();
        var width = decoder.Width;
        var height = decoder.Height;
        var components = decoder.NumberOfComponents;
        if (width != info.Columns || height != info.Rows)
            throw new ImagingException($"JPEG stream is {width}x{height}, the data set says {info.Columns}x{info.Rows}");
        var writer = new PlaneWriter(width, height, components);
        decoder.SetOutputWriter(writer);
        decoder.Decode();

        var lossless = decoder.StartOfFrame is JpegMarker.StartOfFrame3;
        var bps = info.BytesPerSample;
        var pixels = width * height;
        var output = new byte[pixels * components * bps];
        var photometric = info.Photometric;
        var toRgb = components == 3 && !lossless && photometric is "YBR_FULL" or "YBR_FULL_422" or "YBR_PARTIAL_422";
        var max = (1 << Math.Min(decoder.Precision, 16)) - 1;
        for (var p = 0; p < pixels; p++)
        {
            if (toRgb)
            {
                // ITU-T T.871 / PS3.3 §C.7.6.3.1.2 YBR_FULL to RGB.
                double y = writer.Planes[0][p], cb = writer.Planes[1][p] - 128, cr = writer.Planes[2][p] - 128;
                output[p * 3] = Clamp8(y + 1.402 * cr);
                output[p * 3 + 1] = Clamp8(y - 0.344136 * cb - 0.714136 * cr);
                output[p * 3 + 2] = Clamp8(y + 1.772 * cb);
                continue;
            }
            for (var c = 0; c < components; c++)
            {
                // Lossless samples are P-bit unsigned values, which JpegLibrary's 16-bit blocks hold as shorts (65535
                // comes as -1); lossy ones may overshoot the range after the IDCT and are clamped.
                var v = lossless ? writer.Planes[c][p] & max : Math.Clamp(writer.Planes[c][p], 0, max);
                var at = (p * components + c) * bps;
                output[at] = (byte)v;
                if (bps > 1) output[at + 1] = (byte)(v >> 8);
            }
        }
        if (toRgb) photometric = "RGB";
        return new DecodedFrame(output, info with { PlanarConfiguration = 0, SamplesPerPixel = components }, photometric);
    }

    /// <summary>
    /// JPEG baseline (.50) through the shared baseline encoder of the rendering path (8-bit, Huffman, 4:4:4), and
    /// lossless process 14 (.70 with selection value 1, .57 with predictor 1 too) through our own
    /// <see cref="JpegLosslessEncoder"/>: JpegLibrary 0.4.32's encoder is baseline only.
    /// </summary>
    public bool CanEncode(TransferSyntax syntax) =>
        syntax.Uid is "1.2.840.10008.1.2.4.50" or JpegLosslessEncoder.SelectionValue1Uid or JpegLosslessEncoder.AnyPredictorUid;

    /// <summary>
    /// Lossless: the samples as they are, photometric interpretation kept (PS3.5 §8.2.1: no colour transform).
    /// Baseline: 8-bit unsigned grey or RGB (PS3.5 §A.4.1, §8.2.1); colour is written as YCbCr without
    /// subsampling, so the photometric interpretation becomes YBR_FULL.
    /// </summary>
    public EncodedFrame Encode(DecodedFrame frame, TransferSyntax syntax, EncodeOptions options)
    {
        if (syntax.Uid is JpegLosslessEncoder.SelectionValue1Uid or JpegLosslessEncoder.AnyPredictorUid)
            return new EncodedFrame(JpegLosslessEncoder.Encode(frame, predictor: 1), frame.Photometric);
        var info = frame.Info;
        if (info.BitsAllocated != 8 || info.IsSigned || info.IsFloat)
            throw new ImagingException($"JPEG baseline holds 8-bit unsigned samples, not {info.BitsStored} bit{(info.IsSigned ? " signed" : "")} ones of {info.BitsAllocated} allocated");
        var colour = info.SamplesPerPixel == 3 && frame.Photometric == "RGB";
        if (!colour && !(info.SamplesPerPixel == 1 && info.IsMonochrome))
            throw new ImagingException($"JPEG baseline is encoded here from MONOCHROME or RGB pixels, not {frame.Photometric}");
        var pixels = Transcoder.MaskToBitsStored(frame.Data, info);
        var jpeg = JpegOutputEncoder.Encode(new RenderedImage(info.Columns, info.Rows, info.SamplesPerPixel, pixels), options.JpegQuality);
        return new EncodedFrame(jpeg, colour ? "YBR_FULL" : frame.Photometric);
    }

    private static byte Clamp8(double v) => (byte)Math.Clamp((int)Math.Round(v), 0, 255);

    /// <summary>Receives 8x8 blocks per component and stores them as full-resolution planes (upsampling chroma).</summary>
    private sealed class PlaneWriter(int width, int height, int components) : JpegBlockOutputWriter
    {
        public int[][] Planes { get; } = Enumerable.Range(0, components).Select(_ => new int[width * height]).ToArray();

        public override void WriteBlock(ref short blockRef, int componentIndex, int x, int y)
        {
            var plane = Planes[componentIndex];
            var rows = Math.Min(8, height - y);
            var cols = Math.Min(8, width - x);
            for (var r = 0; r < rows; r++)
            {
                var line = (y + r) * width + x;
                for (var c = 0; c < cols; c++)
                    plane[line + c] = System.Runtime.CompilerServices.Unsafe.Add(ref blockRef, r * 8 + c);
            }
        }
    }
}
