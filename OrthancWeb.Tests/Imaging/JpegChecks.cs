using OrthancWeb.Dicom.Imaging;

namespace OrthancWeb.Tests.Imaging;

/// <summary>What the JPEG encoders' tests measure a stream by: our own codec's decoding of it, and its error.</summary>
internal static class JpegChecks
{
    public static double Psnr(byte[] expected, byte[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        var mse = expected.Zip(actual, (a, b) => (double)(a - b) * (a - b)).Average();
        return mse == 0 ? double.PositiveInfinity : 10 * Math.Log10(255.0 * 255 / mse);
    }

    /// <summary>A whole JFIF stream (SOI to EOI) decoded by our JPEG codec, as the picture's samples.</summary>
    public static byte[] Decode(byte[] jpeg, RenderedImage image)
    {
        Assert.Equal((0xFF, 0xD8), (jpeg[0], jpeg[1]));
        Assert.Equal((0xFF, 0xD9), (jpeg[^2], jpeg[^1]));
        // YBR_FULL_422 is what a JFIF colour stream is in DICOM terms: the codec turns it back into RGB.
        var info = new PixelDataInfo(image.Height, image.Width, image.Channels, 8, 8, 7, false, 0, image.Channels == 3 ? "YBR_FULL_422" : "MONOCHROME2", 1);
        return new JpegCodec().Decode(jpeg, info).Data;
    }
}
