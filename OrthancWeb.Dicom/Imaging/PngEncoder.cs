using System.Buffers.Binary;
using System.IO.Compression;

namespace OrthancWeb.Dicom.Imaging;

/// <summary>PNG (ISO/IEC 15948) writer for 8-bit grey/RGB and 16-bit grey images: IHDR, one zlib IDAT, IEND.</summary>
public static class PngEncoder
{
    private static readonly uint[] CrcTable = BuildCrcTable();

    public static byte[] Encode(RenderedImage image) => Encode(image.Pixels, image.Width, image.Height, image.Channels, 8);

    /// <summary><paramref name="bitDepth"/> 16 takes samples as 16-bit little-endian (as decoded) and writes them big endian.</summary>
    public static byte[] Encode(ReadOnlySpan<byte> pixels, int width, int height, int channels, int bitDepth)
    {
        var bytesPerSample = bitDepth / 8;
        var stride = width * channels * bytesPerSample;
        // All rows with their filter byte (0, None) in one buffer, compressed in one call: many small writes into
        // the compressor cost more than the compression itself.
        var filtered = new byte[(stride + 1) * height];
        for (var y = 0; y < height; y++)
        {
            var row = pixels.Slice(y * stride, stride);
            var line = filtered.AsSpan(y * (stride + 1) + 1, stride);
            if (bytesPerSample == 1) row.CopyTo(line);
            else
                for (var i = 0; i < stride; i += 2) { line[i] = row[i + 1]; line[i + 1] = row[i]; }
        }
        using var raw = new MemoryStream(filtered.Length / 2 + 1024);
        using (var z = new ZLibStream(raw, CompressionLevel.Fastest, leaveOpen: true))
            z.Write(filtered);
        using var png = new MemoryStream();
        png.Write([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A]);
        var ihdr = new byte[13];
        BinaryPrimitives.WriteUInt32BigEndian(ihdr, (uint)width);
        BinaryPrimitives.WriteUInt32BigEndian(ihdr.AsSpan(4), (uint)height);
        ihdr[8] = (byte)bitDepth;
        ihdr[9] = channels switch { 1 => 0, 3 => 2, 4 => 6, _ => throw new ArgumentOutOfRangeException(nameof(channels)) };
        Chunk(png, "IHDR", ihdr);
        Chunk(png, "IDAT", raw.ToArray());
        Chunk(png, "IEND", []);
        return png.ToArray();
    }

    private static void Chunk(Stream s, string type, ReadOnlySpan<byte> data)
    {
        Span<byte> header = stackalloc byte[8];
        BinaryPrimitives.WriteUInt32BigEndian(header, (uint)data.Length);
        for (var i = 0; i < 4; i++) header[4 + i] = (byte)type[i];
        s.Write(header);
        s.Write(data);
        var crc = Crc(header[4..], 0xFFFFFFFF);
        crc = Crc(data, crc) ^ 0xFFFFFFFF;
        Span<byte> c = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(c, crc);
        s.Write(c);
    }

    private static uint Crc(ReadOnlySpan<byte> data, uint crc)
    {
        foreach (var b in data) crc = CrcTable[(crc ^ b) & 0xFF] ^ (crc >> 8);
        return crc;
    }

    private static uint[] BuildCrcTable()
    {
        var table = new uint[256];
        for (uint n = 0; n < 256; n++)
        {
            var c = n;
            for (var k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB88320 ^ (c >> 1) : c >> 1;
            table[n] = c;
        }
        return table;
    }
}
