using System.Buffers.Binary;
using System.Globalization;
using System.IO.Compression;
using System.Text;
using OrthancWeb.Dicom.Imaging;

namespace OrthancWeb.Imaging;

/// <summary>
/// Decoded frames as a NumPy array (/instances/{id}/numpy, /frames/{n}/numpy), in the .npy format
/// (numpy.org, numpy.lib.format, version 1.0), as Orthanc 1.10.1 answers: shape (frames, rows, columns, channels), the
/// frame axis left out for one frame; grayscale as stored (uint8, uint16, int16) or, rescaled (the default),
/// float32 through Rescale Slope and Intercept (PS3.3 C.11.1); RGB as uint8. What Orthanc does not convert (32-bit
/// samples, colour still in YBR) is null, its "Not implemented yet".
/// </summary>
public static class NumpyArrays
{
    public static byte[]? Encode(RenderingService.Loaded loaded, IReadOnlyList<int> frames, bool frameAxis, bool rescale, bool compress)
    {
        var decoded = frames.Select(i => CodecRegistry.Default.DecodeFrame(loaded.Frames, i)).ToList();
        var first = decoded[0];
        var info = first.Info;
        string descr;
        int channels, itemSize;
        if (info.IsFloat || info.BitsAllocated > 16) return null;
        if (first.Photometric is "MONOCHROME1" or "MONOCHROME2" && info.SamplesPerPixel == 1)
        {
            channels = 1;
            (descr, itemSize) = rescale ? ("<f4", 4) : info.BitsAllocated <= 8 ? ("|u1", 1) : info.IsSigned ? ("<i2", 2) : ("<u2", 2);
        }
        else if (first.Photometric == "RGB" && info.SamplesPerPixel == 3 && info.BitsAllocated == 8)
            (descr, itemSize, channels) = ("|u1", 1, 3);
        else return null;

        var pixels = info.Rows * info.Columns;
        var body = new byte[(long)decoded.Count * pixels * channels * itemSize];
        var at = 0;
        foreach (var frame in decoded)
        {
            if (channels == 3)
            {
                frame.Data.AsSpan(0, pixels * 3).CopyTo(body.AsSpan(at));
                at += pixels * 3;
                continue;
            }
            // Sample values with the sign and Bits Stored applied (no dataset: no rescale), then rescaled if asked.
            var values = Renderer.ModalityValues(frame, rescale ? loaded.File.Dataset : []);
            foreach (var v in values)
            {
                switch (descr)
                {
                    case "<f4": BinaryPrimitives.WriteSingleLittleEndian(body.AsSpan(at), (float)v); break;
                    case "|u1": body[at] = (byte)v; break;
                    case "<i2": BinaryPrimitives.WriteInt16LittleEndian(body.AsSpan(at), (short)v); break;
                    default: BinaryPrimitives.WriteUInt16LittleEndian(body.AsSpan(at), (ushort)v); break;
                }
                at += itemSize;
            }
        }
        var shape = (frameAxis ? $"{decoded.Count}, " : "") + $"{info.Rows}, {info.Columns}, {channels}";
        var npy = Npy(descr, shape, body);
        return compress ? Npz(npy) : npy;
    }

    private static ReadOnlySpan<byte> Magic => [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];

    /// <summary>Magic, version 1.0, the header's length, then a Python literal padded with spaces to a multiple of 64 bytes.</summary>
    private static byte[] Npy(string descr, string shape, byte[] body)
    {
        var header = string.Create(CultureInfo.InvariantCulture, $"{{'descr': '{descr}', 'fortran_order': False, 'shape': ({shape}), }}");
        var total = (10 + header.Length + 1 + 63) / 64 * 64;
        header = header.PadRight(total - 10 - 1) + "\n";
        var result = new byte[total + body.Length];
        Magic.CopyTo(result);
        result[6] = 1;
        BinaryPrimitives.WriteUInt16LittleEndian(result.AsSpan(8), (ushort)header.Length);
        Encoding.ASCII.GetBytes(header, result.AsSpan(10));
        body.CopyTo(result, total);
        return result;
    }

    /// <summary>?compress: an .npz, a deflated zip holding the array as "arr_0" (numpy.savez_compressed's name), as Orthanc.</summary>
    private static byte[] Npz(byte[] npy)
    {
        using var output = new MemoryStream();
        using (var zip = new ZipArchive(output, ZipArchiveMode.Create, leaveOpen: true))
        {
            using var entry = zip.CreateEntry("arr_0", CompressionLevel.Fastest).Open();
            entry.Write(npy);
        }
        return output.ToArray();
    }
}
