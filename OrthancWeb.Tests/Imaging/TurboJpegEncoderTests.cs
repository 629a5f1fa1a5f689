using OrthancWeb.Dicom.Imaging;

namespace OrthancWeb.Tests.Imaging;

/// <summary>
/// Rendered frames through libjpeg-turbo (Debian's libturbojpeg0, which CI installs): decoded by our own JPEG codec
/// to the picture it was given, at its size, in grey and in colour, and the same quantization as our encoder's.
/// </summary>
public sealed class TurboJpegEncoderTests
{
    public TurboJpegEncoderTests() =>
        Assert.True(TurboJpegEncoder.IsAvailable, "libturbojpeg.so.0 is missing: apt-get install libturbojpeg0");

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
        var info = new PixelDataInfo(image.Height, image.Width, image.Channels, 8, 8, 7, false, 0, image.Channels == 3 ? "YBR_FULL_422" : "MONOCHROME2", 1);
        return new JpegCodec().Decode(jpeg, info).Data;
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(9, 17)]
    [InlineData(512, 512)]
    public void Grey_noise_decodes_to_its_picture_at_its_size(int width, int height)
    {
        var pixels = new byte[width * height];
        new Random(width + height).NextBytes(pixels);
        var image = new RenderedImage(width, height, 1, pixels);
        Assert.True(Psnr(pixels, Decode(TurboJpegEncoder.Encode(image, 100), image)) > 45, "quality 100 keeps noise within a few grey levels");
        // The same quality scale and tables as our encoder with Annex K's Huffman tables: the same error, near the same size.
        var (turbo, ours) = (TurboJpegEncoder.Encode(image, 90), JpegOutputEncoder.Encode(image, 90, optimizeHuffman: false));
        Assert.InRange(Psnr(pixels, Decode(turbo, image)), Psnr(pixels, Decode(ours, image)) - 0.5, double.PositiveInfinity);
        Assert.InRange(turbo.Length, ours.Length * 0.9, ours.Length * 1.1);
    }

    [Fact]
    public void Colour_keeps_its_colours_and_concurrent_encodings_do_not_mix()
    {
        var (width, height) = (300, 200);
        var pixels = new byte[width * height * 3];
        for (var y = 0; y < height; y++)
            for (var x = 0; x < width; x++)
            {
                var i = 3 * (y * width + x);
                (pixels[i], pixels[i + 1], pixels[i + 2]) = ((byte)(x * 255 / width), (byte)(y * 255 / height), (byte)((x + y) % 256));
            }
        var colour = new RenderedImage(width, height, 3, pixels);
        var grey = new RenderedImage(width, height, 1, pixels[..(width * height)]);
        // Compressors are pooled between requests: encodings side by side each get their own and their own output.
        var results = Enumerable.Range(0, 16).AsParallel().Select(i => (Image: i % 2 == 0 ? colour : grey, Jpeg: TurboJpegEncoder.Encode(i % 2 == 0 ? colour : grey, 90))).ToList();
        foreach (var (image, jpeg) in results)
            Assert.True(Psnr(image.Pixels, Decode(jpeg, image)) > 30, $"{image.Channels} channel(s) at quality 90");
    }

    [Fact]
    public void Pictures_it_cannot_encode_are_refused_clearly()
    {
        Assert.Throws<ImagingException>(() => TurboJpegEncoder.Encode(new RenderedImage(2, 2, 2, new byte[8])));
        Assert.Throws<ImagingException>(() => TurboJpegEncoder.Encode(new RenderedImage(70000, 1, 1, new byte[70000])));
        Assert.Throws<ImagingException>(() => TurboJpegEncoder.Encode(new RenderedImage(4, 4, 1, new byte[15])));
    }
}
