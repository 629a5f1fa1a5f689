using System.Buffers.Binary;
using System.IO.Compression;
using OrthancWeb.Dicom.Imaging;

namespace OrthancWeb.Tests.Imaging;

/// <summary>
/// The PNG reader of /tools/create-dicom on what other writers produce and ours does not: every filter type
/// (ISO/IEC 15948 §9.2) row by row, palettes, and alpha channels, against the pixels the file was made from.
/// </summary>
public sealed class ImageImportTests
{
    [Theory]
    [InlineData(0, 8, 1)] // grey
    [InlineData(0, 16, 1)]
    [InlineData(2, 8, 3)] // RGB
    [InlineData(2, 16, 3)]
    [InlineData(4, 8, 2)] // grey + alpha: the alpha goes
    [InlineData(6, 8, 4)] // RGBA: the alpha goes
    public void Every_filter_type_decodes_to_the_pixels_it_was_made_from(int colourType, int depth, int channels)
    {
        const int width = 13, height = 10; // rows 0-9 use filters 0, 1, 2, 3, 4, 0, 1, ...
        var bytesPerSample = depth / 8;
        var stride = width * channels * bytesPerSample;
        var raw = new byte[height * stride];
        new Random(colourType * 100 + depth).NextBytes(raw);
        var image = ImageImport.DecodePng(Png(width, height, depth, colourType, raw, stride, channels * bytesPerSample));

        var kept = colourType is 4 or 6 ? channels - 1 : channels;
        Assert.Equal((width, height, kept, depth), (image.Columns, image.Rows, image.SamplesPerPixel, image.BitsAllocated));
        for (var y = 0; y < height; y++)
            for (var x = 0; x < width; x++)
                for (var s = 0; s < kept; s++)
                    for (var b = 0; b < bytesPerSample; b++)
                    {
                        // PNG big endian in, DICOM little endian out.
                        var expected = raw[y * stride + (x * channels + s) * bytesPerSample + b];
                        var actual = image.Pixels[((y * width + x) * kept + s) * bytesPerSample + (bytesPerSample - 1 - b)];
                        Assert.True(expected == actual, $"pixel ({x},{y}) sample {s} byte {b}: {actual}, expected {expected}");
                    }
    }

    [Fact]
    public void A_palette_picture_becomes_rgb()
    {
        byte[] palette = [10, 20, 30, 200, 100, 50];
        var image = ImageImport.DecodePng(Png(2, 1, 8, 3, [1, 0], 2, 1, palette));
        Assert.Equal((3, "RGB"), (image.SamplesPerPixel, image.Photometric));
        Assert.Equal(new byte[] { 200, 100, 50, 10, 20, 30 }, image.Pixels);
    }

    [Fact]
    public void A_file_that_is_not_png_or_claims_a_huge_size_is_refused()
    {
        Assert.Throws<ImagingException>(() => ImageImport.DecodePng("GIF89a"u8));
        var huge = Png(1, 1, 8, 0, [0], 1, 1);
        BinaryPrimitives.WriteInt32BigEndian(huge.AsSpan(16), 65535);
        BinaryPrimitives.WriteInt32BigEndian(huge.AsSpan(20), 65535);
        huge[24] = 16;
        huge[25] = 6;
        Assert.Contains("too large", Assert.Throws<ImagingException>(() => ImageImport.DecodePng(huge)).Message);
    }

    /// <summary>A PNG whose row y uses filter type y % 5, computed from the unfiltered bytes as a PNG writer does.</summary>
    private static byte[] Png(int width, int height, int depth, int colourType, byte[] raw, int stride, int bpp, byte[]? palette = null)
    {
        var filtered = new byte[height * (stride + 1)];
        for (var y = 0; y < height; y++)
        {
            var type = (byte)(y % 5);
            filtered[y * (stride + 1)] = type;
            for (var i = 0; i < stride; i++)
            {
                int x = raw[y * stride + i];
                int a = i >= bpp ? raw[y * stride + i - bpp] : 0, b = y > 0 ? raw[(y - 1) * stride + i] : 0, c = y > 0 && i >= bpp ? raw[(y - 1) * stride + i - bpp] : 0;
                var predicted = type switch { 0 => 0, 1 => a, 2 => b, 3 => (a + b) / 2, _ => Paeth(a, b, c) };
                filtered[y * (stride + 1) + 1 + i] = (byte)(x - predicted);
            }
        }
        using var compressed = new MemoryStream();
        using (var z = new ZLibStream(compressed, CompressionLevel.Optimal, leaveOpen: true)) z.Write(filtered);
        using var png = new MemoryStream();
        png.Write([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A]);
        var header = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(header, width);
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4), height);
        header[8] = (byte)depth;
        header[9] = (byte)colourType;
        Chunk(png, "IHDR", header);
        if (palette is not null) Chunk(png, "PLTE", palette);
        Chunk(png, "IDAT", compressed.ToArray());
        Chunk(png, "IEND", []);
        return png.ToArray();
    }

    private static int Paeth(int a, int b, int c)
    {
        int p = a + b - c, pa = Math.Abs(p - a), pb = Math.Abs(p - b), pc = Math.Abs(p - c);
        return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
    }

    /// <summary>A chunk with its CRC left at 0: the reader does not check it, so a test needs none.</summary>
    private static void Chunk(Stream s, string type, byte[] data)
    {
        var length = new byte[4];
        BinaryPrimitives.WriteInt32BigEndian(length, data.Length);
        s.Write(length);
        s.Write(System.Text.Encoding.ASCII.GetBytes(type));
        s.Write(data);
        s.Write(new byte[4]);
    }
}
