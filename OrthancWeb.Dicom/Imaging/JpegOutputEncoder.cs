using System.Buffers;
using JpegLibrary;

namespace OrthancWeb.Dicom.Imaging;

/// <summary>Baseline JPEG (8-bit, 4:4:4, standard tables scaled by quality) of a rendered image, for Accept: image/jpeg.</summary>
public static class JpegOutputEncoder
{
    public static byte[] Encode(RenderedImage image, int quality = 90)
    {
        quality = Math.Clamp(quality, 1, 100);
        var encoder = new JpegEncoder();
        var p8 = JpegElementPrecision.Precision8Bit;
        encoder.SetQuantizationTable(JpegStandardQuantizationTable.ScaleByQuality(JpegStandardQuantizationTable.GetLuminanceTable(p8, 0), quality));
        encoder.SetHuffmanTable(true, 0, JpegStandardHuffmanEncodingTable.GetLuminanceDCTable());
        encoder.SetHuffmanTable(false, 0, JpegStandardHuffmanEncodingTable.GetLuminanceACTable());
        encoder.AddComponent(1, 0, 0, 0, 1, 1);
        if (image.Channels == 3)
        {
            encoder.SetQuantizationTable(JpegStandardQuantizationTable.ScaleByQuality(JpegStandardQuantizationTable.GetChrominanceTable(p8, 1), quality));
            encoder.SetHuffmanTable(true, 1, JpegStandardHuffmanEncodingTable.GetChrominanceDCTable());
            encoder.SetHuffmanTable(false, 1, JpegStandardHuffmanEncodingTable.GetChrominanceACTable());
            encoder.AddComponent(2, 1, 1, 1, 1, 1);
            encoder.AddComponent(3, 1, 1, 1, 1, 1);
        }
        encoder.SetInputReader(new Reader(image));
        var output = new ArrayBufferWriter<byte>(image.Width * image.Height / 4 + 1024);
        encoder.SetOutput(output);
        encoder.Encode();
        return output.WrittenSpan.ToArray();
    }

    /// <summary>Hands the encoder 8x8 blocks: grey as is, RGB as YCbCr (JFIF, ITU-T T.871), edges replicated.</summary>
    private sealed class Reader(RenderedImage image) : JpegBlockInputReader
    {
        private readonly byte[][] _planes = Planes(image);

        public override int Width => image.Width;
        public override int Height => image.Height;

        private static byte[][] Planes(RenderedImage image)
        {
            var n = image.Width * image.Height;
            if (image.Channels == 1) return [image.Pixels];
            byte[] y = new byte[n], cb = new byte[n], cr = new byte[n];
            var px = image.Pixels;
            for (var i = 0; i < n; i++)
            {
                double r = px[3 * i], g = px[3 * i + 1], b = px[3 * i + 2];
                y[i] = (byte)Math.Clamp((int)Math.Round(0.299 * r + 0.587 * g + 0.114 * b), 0, 255);
                cb[i] = (byte)Math.Clamp((int)Math.Round(128 - 0.168736 * r - 0.331264 * g + 0.5 * b), 0, 255);
                cr[i] = (byte)Math.Clamp((int)Math.Round(128 + 0.5 * r - 0.418688 * g - 0.081312 * b), 0, 255);
            }
            return [y, cb, cr];
        }

        public override void ReadBlock(ref short blockRef, int componentIndex, int x, int y)
        {
            var plane = _planes[componentIndex];
            for (var r = 0; r < 8; r++)
            {
                var row = Math.Min(y + r, image.Height - 1) * image.Width;
                for (var c = 0; c < 8; c++)
                    System.Runtime.CompilerServices.Unsafe.Add(ref blockRef, r * 8 + c) = plane[row + Math.Min(x + c, image.Width - 1)];
            }
        }
    }
}
