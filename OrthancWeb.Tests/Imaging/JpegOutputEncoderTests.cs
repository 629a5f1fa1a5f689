using OrthancWeb.Dicom.Imaging;

namespace OrthancWeb.Tests.Imaging;

/// <summary>
/// Our baseline JPEG encoder against an independent decoder (JpegLibrary's, which our JPEG codec wraps): sizes that
/// are not multiples of 8, grey and colour, noise whose entropy-coded bytes need 0xFF stuffing, and the quality scale.
/// </summary>
public sealed class JpegOutputEncoderTests
{
    private static double Psnr(byte[] expected, byte[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        var mse = expected.Zip(actual, (a, b) => (double)(a - b) * (a - b)).Average();
        return mse == 0 ? double.PositiveInfinity : 10 * Math.Log10(255.0 * 255 / mse);
    }

    private static byte[] Decode(byte[] jpeg, RenderedImage image)
    {
        Assert.Equal((0xFF, 0xD8), (jpeg[0], jpeg[1]));
        Assert.Equal((0xFF, 0xD9), (jpeg[^2], jpeg[^1]));
        // YBR_FULL_422 is what a JFIF colour stream is in DICOM terms: the codec turns it back into RGB.
        var info = new PixelDataInfo(image.Height, image.Width, image.Channels, 8, 8, 7, false, 0, image.Channels == 3 ? "YBR_FULL_422" : "MONOCHROME2", 1);
        return new JpegCodec().Decode(jpeg, info).Data;
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(8, 8)]
    [InlineData(9, 17)]
    [InlineData(67, 45)]
    [InlineData(512, 512)]
    public void Grey_noise_decodes_near_losslessly_at_quality_100(int width, int height)
    {
        // Uniform noise: every coefficient is non-zero, the codes are long, and the output is full of 0xFF bytes.
        var pixels = new byte[width * height];
        new Random(width * 1000 + height).NextBytes(pixels);
        var image = new RenderedImage(width, height, 1, pixels);
        var jpeg = JpegOutputEncoder.Encode(image, 100);
        Assert.True(Psnr(pixels, Decode(jpeg, image)) > 50, "quality 100 keeps noise within a grey level or two");
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(67, 45)]
    [InlineData(300, 200)]
    public void Colour_gradients_keep_their_colours(int width, int height)
    {
        var pixels = new byte[width * height * 3];
        for (var y = 0; y < height; y++)
            for (var x = 0; x < width; x++)
            {
                var i = 3 * (y * width + x);
                (pixels[i], pixels[i + 1], pixels[i + 2]) = ((byte)(x * 255 / width), (byte)(y * 255 / height), (byte)((x + y) % 256));
            }
        var image = new RenderedImage(width, height, 3, pixels);
        Assert.True(Psnr(pixels, Decode(JpegOutputEncoder.Encode(image, 90), image)) > 35, "colour at quality 90");
    }

    [Fact]
    public void Lower_quality_gives_smaller_files_and_more_error()
    {
        // A smooth disc with some noise, like a CT slice.
        var (w, h) = (256, 256);
        var pixels = new byte[w * h];
        var random = new Random(7);
        for (var y = 0; y < h; y++)
            for (var x = 0; x < w; x++)
                pixels[y * w + x] = (byte)Math.Clamp(((x - 128) * (x - 128) + (y - 128) * (y - 128) < 100 * 100 ? 160 : 20) + random.Next(-10, 11), 0, 255);
        var image = new RenderedImage(w, h, 1, pixels);
        var (high, low) = (JpegOutputEncoder.Encode(image, 95), JpegOutputEncoder.Encode(image, 30));
        Assert.True(low.Length < high.Length / 2, $"quality 30: {low.Length} bytes, quality 95: {high.Length}");
        var (psnrHigh, psnrLow) = (Psnr(pixels, Decode(high, image)), Psnr(pixels, Decode(low, image)));
        Assert.True(psnrHigh > psnrLow + 3 && psnrLow > 28, $"PSNR {psnrHigh:N1} dB at 95, {psnrLow:N1} dB at 30");
    }

    [Fact]
    public void Images_it_cannot_encode_are_refused_clearly()
    {
        Assert.Throws<ImagingException>(() => JpegOutputEncoder.Encode(new RenderedImage(2, 2, 2, new byte[8])));
        Assert.Throws<ImagingException>(() => JpegOutputEncoder.Encode(new RenderedImage(70000, 1, 1, new byte[70000])));
    }
}
