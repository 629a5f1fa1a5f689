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

    [Theory]
    [InlineData(1, 1)]
    [InlineData(9, 17)]
    [InlineData(512, 512)]
    public void Grey_noise_decodes_to_its_picture_at_its_size(int width, int height)
    {
        var pixels = new byte[width * height];
        new Random(width + height).NextBytes(pixels);
        var image = new RenderedImage(width, height, 1, pixels);
        Assert.True(JpegChecks.Psnr(pixels, JpegChecks.Decode(TurboJpegEncoder.Encode(image, 100), image)) > 45, "quality 100 keeps noise within a few grey levels");
        // The same quality scale and tables as our encoder with Annex K's Huffman tables: the same error, near the same size.
        var (turbo, ours) = (TurboJpegEncoder.Encode(image, 90), JpegOutputEncoder.Encode(image, 90, optimizeHuffman: false));
        Assert.InRange(JpegChecks.Psnr(pixels, JpegChecks.Decode(turbo, image)), JpegChecks.Psnr(pixels, JpegChecks.Decode(ours, image)) - 0.5, double.PositiveInfinity);
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
            Assert.True(JpegChecks.Psnr(image.Pixels, JpegChecks.Decode(jpeg, image)) > 30, $"{image.Channels} channel(s) at quality 90");
    }

    [Fact]
    public void Pictures_it_cannot_encode_are_refused_clearly()
    {
        Assert.Throws<ImagingException>(() => TurboJpegEncoder.Encode(new RenderedImage(2, 2, 2, new byte[8])));
        Assert.Throws<ImagingException>(() => TurboJpegEncoder.Encode(new RenderedImage(70000, 1, 1, new byte[70000])));
        Assert.Throws<ImagingException>(() => TurboJpegEncoder.Encode(new RenderedImage(4, 4, 1, new byte[15])));
        // Refused inside the library (libjpeg's limit is 65,500 pixels a side): an error, and the compressor stays usable.
        var error = Assert.Throws<ImagingException>(() => TurboJpegEncoder.Encode(new RenderedImage(65535, 1, 1, new byte[65535])));
        Assert.StartsWith("libjpeg-turbo:", error.Message);
        var small = new RenderedImage(8, 8, 1, new byte[64]);
        Assert.Equal(new byte[64], JpegChecks.Decode(TurboJpegEncoder.Encode(small, 100), small));
    }

    [Fact]
    public void A_picture_past_the_pooled_size_is_encoded_in_a_buffer_the_library_grows()
    {
        // 4200x4200 grey noise: its worst case (tjBufSize, 2 bytes a pixel for grey) is past the pooled 32 MB.
        var pixels = new byte[4200 * 4200];
        new Random(3).NextBytes(pixels);
        var image = new RenderedImage(4200, 4200, 1, pixels);
        Assert.True(JpegChecks.Psnr(pixels, JpegChecks.Decode(TurboJpegEncoder.Encode(image, 95), image)) > 30);
    }
}
