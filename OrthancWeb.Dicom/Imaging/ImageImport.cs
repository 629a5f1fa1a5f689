using System.Buffers.Binary;
using System.IO.Compression;
using JpegLibrary;
using OrthancWeb.Dicom.Data;

namespace OrthancWeb.Dicom.Imaging;

/// <summary>A picture decoded to native pixels: Image Pixel module values and the samples, little endian, interleaved.</summary>
public sealed record ImportedImage(int Columns, int Rows, int SamplesPerPixel, int BitsAllocated, byte[] Pixels)
{
    public string Photometric => SamplesPerPixel == 3 ? "RGB" : "MONOCHROME2";

    /// <summary>The Image Pixel module (PS3.3 C.7.6.3) and Pixel Data of this picture, in a native transfer syntax.</summary>
    public void AddTo(DicomDataset ds)
    {
        ds.Add(DicomTags.SamplesPerPixel, (ushort)SamplesPerPixel);
        ds.Add(DicomTags.PhotometricInterpretation, Photometric);
        if (SamplesPerPixel == 3) ds.Add(DicomTags.PlanarConfiguration, (ushort)0);
        ds.Add(DicomTags.Rows, (ushort)Rows);
        ds.Add(DicomTags.Columns, (ushort)Columns);
        ds.Add(DicomTags.BitsAllocated, (ushort)BitsAllocated);
        ds.Add(DicomTags.BitsStored, (ushort)BitsAllocated);
        ds.Add(DicomTags.HighBit, (ushort)(BitsAllocated - 1));
        ds.Add(DicomTags.PixelRepresentation, (ushort)0);
        ds.AddBytes(DicomTags.PixelData, BitsAllocated > 8 ? DicomVR.OW : DicomVR.OB, Pixels);
    }
}

/// <summary>
/// PNG (ISO/IEC 15948) and JPEG (ITU-T T.81, baseline and extended 8-bit) pictures decoded to native pixels, for
/// creating DICOM instances from them (Orthanc's /tools/create-dicom): grey or RGB, 8 or 16 bits; an alpha channel is
/// dropped, a palette expanded to RGB.
/// </summary>
public static class ImageImport
{
    private static readonly byte[] PngSignature = [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];

    public static ImportedImage DecodePng(ReadOnlySpan<byte> png)
    {
        if (png.Length < 8 || !png[..8].SequenceEqual(PngSignature)) throw new ImagingException("Not a PNG file (no PNG signature)");
        int width = 0, height = 0, depth = 0, colour = -1;
        byte[]? palette = null;
        using var idat = new MemoryStream();
        var at = 8;
        while (at + 12 <= png.Length)
        {
            var length = BinaryPrimitives.ReadInt32BigEndian(png[at..]);
            if (length < 0 || at + 12 + length > png.Length) throw new ImagingException("Truncated PNG chunk");
            var type = System.Text.Encoding.ASCII.GetString(png.Slice(at + 4, 4));
            var data = png.Slice(at + 8, length);
            switch (type)
            {
                case "IHDR":
                    width = BinaryPrimitives.ReadInt32BigEndian(data);
                    height = BinaryPrimitives.ReadInt32BigEndian(data[4..]);
                    depth = data[8];
                    colour = data[9];
                    if (data[12] != 0) throw new ImagingException("Interlaced (Adam7) PNG is not supported");
                    break;
                case "PLTE": palette = data.ToArray(); break;
                case "IDAT": idat.Write(data); break;
            }
            at += 12 + length;
            if (type == "IEND") break;
        }
        // Colour types (ISO/IEC 15948 §6.1): 0 grey, 2 RGB, 3 palette, 4 grey+alpha, 6 RGBA.
        var channels = colour switch { 0 => 1, 2 => 3, 3 => 1, 4 => 2, 6 => 4, _ => throw new ImagingException($"PNG colour type {colour} is not supported") };
        if (width is <= 0 or > 65535 || height is <= 0 or > 65535) throw new ImagingException($"PNG size {width}x{height} does not fit DICOM Rows and Columns");
        if (depth != 8 && !(depth == 16 && colour != 3)) throw new ImagingException($"PNG of {depth}-bit samples is not supported (8 or 16)");
        if (colour == 3 && palette is null) throw new ImagingException("Palette PNG without PLTE chunk");
        var bytesPerSample = depth / 8;
        var stride = width * channels * bytesPerSample;
        // A header may claim 64k x 64k pixels of 8 bytes: refused before anything that size is allocated.
        if ((long)(stride + 1) * height > 1L << 30) throw new ImagingException($"PNG of {width}x{height} pixels is too large");
        var raw = new byte[(long)(stride + 1) * height];
        idat.Position = 0;
        using (var inflate = new ZLibStream(idat, CompressionMode.Decompress))
            inflate.ReadExactly(raw);
        Unfilter(raw, stride, height, channels * bytesPerSample);

        var samples = colour is 2 or 3 or 6 ? 3 : 1;
        var pixels = new byte[(long)width * height * samples * bytesPerSample];
        for (var y = 0; y < height; y++)
        {
            var row = raw.AsSpan(y * (stride + 1) + 1, stride);
            for (var x = 0; x < width; x++)
            {
                var o = (y * width + x) * samples * bytesPerSample;
                if (colour == 3)
                {
                    var index = row[x] * 3;
                    if (index + 2 >= palette!.Length) throw new ImagingException("PNG palette index out of range");
                    pixels[o] = palette[index];
                    pixels[o + 1] = palette[index + 1];
                    pixels[o + 2] = palette[index + 2];
                    continue;
                }
                for (var s = 0; s < samples; s++)
                {
                    var i = (x * channels + s) * bytesPerSample;
                    // PNG samples are big endian (§7.1), DICOM native little endian.
                    if (bytesPerSample == 1) pixels[o + s] = row[i];
                    else
                    {
                        pixels[o + s * 2] = row[i + 1];
                        pixels[o + s * 2 + 1] = row[i];
                    }
                }
            }
        }
        return new ImportedImage(width, height, samples, depth, pixels);
    }

    /// <summary>Undoes the five PNG filter types (ISO/IEC 15948 §9.2) in place; each row starts with its filter byte.</summary>
    private static void Unfilter(byte[] raw, int stride, int height, int bpp)
    {
        for (var y = 0; y < height; y++)
        {
            var start = y * (stride + 1);
            var filter = raw[start];
            var row = raw.AsSpan(start + 1, stride);
            var prior = y == 0 ? Span<byte>.Empty : raw.AsSpan(start - stride, stride);
            for (var i = 0; i < stride; i++)
            {
                int a = i >= bpp ? row[i - bpp] : 0, b = y > 0 ? prior[i] : 0, c = y > 0 && i >= bpp ? prior[i - bpp] : 0;
                row[i] = filter switch
                {
                    0 => row[i],
                    1 => (byte)(row[i] + a),
                    2 => (byte)(row[i] + b),
                    3 => (byte)(row[i] + (a + b) / 2),
                    4 => (byte)(row[i] + Paeth(a, b, c)),
                    _ => throw new ImagingException($"PNG filter type {filter} is not defined"),
                };
            }
        }
    }

    private static int Paeth(int a, int b, int c)
    {
        int p = a + b - c, pa = Math.Abs(p - a), pb = Math.Abs(p - b), pc = Math.Abs(p - c);
        return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
    }

    /// <summary>
    /// A JPEG picture decoded (8-bit grey or YCbCr, which becomes RGB): stored natively, as Orthanc 1.10 does, so that
    /// every viewer reads it whatever codecs it has.
    /// </summary>
    public static ImportedImage DecodeJpeg(ReadOnlyMemory<byte> jpeg)
    {
        var decoder = new JpegDecoder();
        decoder.SetInput(jpeg);
        try { decoder.Identify(); }
        catch (InvalidDataException ex) { throw new ImagingException("Not a JPEG file: " + ex.Message, ex); }
        if (decoder.Precision != 8) throw new ImagingException($"JPEG of {decoder.Precision}-bit samples is not supported here (8)");
        var components = decoder.NumberOfComponents;
        if (components is not (1 or 3)) throw new ImagingException($"JPEG of {components} components is not supported (1 or 3)");
        var info = new PixelDataInfo(decoder.Height, decoder.Width, components, 8, 8, 7, false, 0, components == 3 ? "YBR_FULL" : "MONOCHROME2", 1);
        var frame = new JpegCodec().Decode(jpeg, info);
        return new ImportedImage(decoder.Width, decoder.Height, components, 8, frame.Data);
    }
}
