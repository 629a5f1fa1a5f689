using System.Buffers.Binary;
using OrthancWeb.Dicom.IO;

namespace OrthancWeb.Dicom.Imaging;

/// <summary>
/// RLE Lossless (PS3.5 Annex G): a 64-byte header of segment offsets, one PackBits-style segment per byte of each
/// sample, most significant byte first.
/// </summary>
public sealed class RleCodec : IFrameCodec, IFrameEncoder
{
    public bool Supports(TransferSyntax syntax) => syntax.Uid == TransferSyntax.RLELossless.Uid;

    public DecodedFrame Decode(ReadOnlyMemory<byte> frame, PixelDataInfo info)
    {
        var s = frame.Span;
        if (s.Length < 64) throw new ImagingException("RLE frame shorter than its header");
        var segments = (int)BinaryPrimitives.ReadUInt32LittleEndian(s);
        var bps = info.BytesPerSample;
        var spp = info.SamplesPerPixel;
        if (segments != bps * spp || segments > 15)
            throw new ImagingException($"RLE frame has {segments} segments, {bps * spp} expected for {spp} sample(s) of {info.BitsAllocated} bits");
        var pixels = info.Rows * info.Columns;
        var output = new byte[pixels * spp * bps];
        var segment = new byte[pixels];
        for (var k = 0; k < segments; k++)
        {
            var start = (int)BinaryPrimitives.ReadUInt32LittleEndian(s[(4 + 4 * k)..]);
            var end = k + 1 < segments ? (int)BinaryPrimitives.ReadUInt32LittleEndian(s[(8 + 4 * k)..]) : s.Length;
            if (start < 64 || start > s.Length || end > s.Length || end < start)
                throw new ImagingException($"RLE segment {k} has offsets {start}..{end} outside the frame");
            Array.Clear(segment);
            DecodeSegment(s[start..end], segment);
            // Segment k holds byte (k % bps) of sample (k / bps), most significant first (PS3.5 §G.2).
            var sample = k / bps;
            var byteInSample = bps - 1 - k % bps;
            for (var p = 0; p < pixels; p++)
                output[(p * spp + sample) * bps + byteInSample] = segment[p];
        }
        return new DecodedFrame(output, info with { PlanarConfiguration = 0 }, info.Photometric);
    }

    private static void DecodeSegment(ReadOnlySpan<byte> input, Span<byte> output)
    {
        int i = 0, o = 0;
        while (i < input.Length && o < output.Length)
        {
            var n = (sbyte)input[i++];
            if (n >= 0)
            {
                var count = Math.Min(n + 1, Math.Min(output.Length - o, input.Length - i));
                input.Slice(i, count).CopyTo(output[o..]);
                i += n + 1;
                o += count;
            }
            else if (n != -128)
            {
                if (i >= input.Length) break;
                var count = Math.Min(1 - n, output.Length - o);
                output.Slice(o, count).Fill(input[i++]);
                o += count;
            }
        }
        if (o < output.Length) throw new ImagingException($"RLE segment decodes to {o} bytes, {output.Length} expected");
    }

    public bool CanEncode(TransferSyntax syntax) => Supports(syntax);

    /// <summary>RLE keeps the photometric interpretation (PS3.5 §G.2: one segment per byte of each sample, at most 15).</summary>
    public EncodedFrame Encode(DecodedFrame frame, TransferSyntax syntax, EncodeOptions options)
    {
        var info = frame.Info;
        if (info.BitsAllocated is not (8 or 16 or 32) || info.BytesPerSample * info.SamplesPerPixel > 15)
            throw new ImagingException($"RLE Lossless cannot hold {info.SamplesPerPixel} sample(s) of {info.BitsAllocated} bits");
        return new EncodedFrame(Encode(frame.Data, info), frame.Photometric);
    }

    /// <summary>Encodes a native (little-endian, interleaved) frame as one RLE frame.</summary>
    public static byte[] Encode(ReadOnlySpan<byte> frame, PixelDataInfo info)
    {
        var bps = info.BytesPerSample;
        var spp = info.SamplesPerPixel;
        var pixels = info.Rows * info.Columns;
        var segments = bps * spp;
        var encoded = new List<byte[]>(segments);
        var plane = new byte[pixels];
        for (var k = 0; k < segments; k++)
        {
            var sample = k / bps;
            var byteInSample = bps - 1 - k % bps;
            for (var p = 0; p < pixels; p++) plane[p] = frame[(p * spp + sample) * bps + byteInSample];
            encoded.Add(EncodeSegment(plane));
        }
        var header = new byte[64];
        BinaryPrimitives.WriteUInt32LittleEndian(header, (uint)segments);
        var offset = 64;
        for (var k = 0; k < segments; k++)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(4 + 4 * k), (uint)offset);
            offset += encoded[k].Length;
        }
        var result = new byte[offset + (offset & 1)];
        header.CopyTo(result, 0);
        var pos = 64;
        foreach (var e in encoded) { e.CopyTo(result, pos); pos += e.Length; }
        return result;
    }

    private static byte[] EncodeSegment(ReadOnlySpan<byte> data)
    {
        var output = new List<byte>(data.Length / 2 + 16);
        var i = 0;
        while (i < data.Length)
        {
            // A run of 2+ equal bytes is a replicate run (up to 128); otherwise a literal run up to 128 bytes.
            var run = 1;
            while (i + run < data.Length && run < 128 && data[i + run] == data[i]) run++;
            if (run >= 2)
            {
                output.Add((byte)(sbyte)(1 - run));
                output.Add(data[i]);
                i += run;
                continue;
            }
            var start = i;
            var literal = 0;
            while (i < data.Length && literal < 128 && !(i + 1 < data.Length && data[i + 1] == data[i]))
            {
                i++;
                literal++;
            }
            if (literal == 0) { i++; literal = 1; }
            output.Add((byte)(literal - 1));
            for (var k = 0; k < literal; k++) output.Add(data[start + k]);
        }
        if ((output.Count & 1) == 1) output.Add(0x80); // even segment length; -128 is a no-op
        return output.ToArray();
    }
}
