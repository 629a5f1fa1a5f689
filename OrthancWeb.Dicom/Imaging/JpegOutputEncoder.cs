using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace OrthancWeb.Dicom.Imaging;

/// <summary>
/// Baseline sequential JPEG (ITU-T T.81, 8-bit, Huffman, 4:4:4) of a rendered image, for Accept: image/jpeg.
/// Written for speed on the rendered-frame path: a separable AAN forward DCT in floats with its output scaling
/// folded into the quantizer, Huffman tables made for the image as T.81 K.2 describes (the example tables of Annex K
/// when asked, or for images too large to keep their coefficients), and one bit buffer with byte stuffing.
/// </summary>
public static class JpegOutputEncoder
{
    /// <summary>MCU rows per restart interval: the unit the image is cut into to be encoded on several cores.</summary>
    private const int RowsPerInterval = 8;

    /// <summary>
    /// The most samples whose quantized coefficients are kept between the two passes of optimized Huffman coding
    /// (2 bytes each, 8 MB here). Larger images are coded in one pass with the tables of Annex K instead of holding
    /// tens of MB per request.
    /// </summary>
    private const long OptimizedSamplesLimit = 4L * 1024 * 1024;

    /// <param name="optimizeHuffman">
    /// Code with Huffman tables made for the image (two passes, as libjpeg's -optimize) rather than those of Annex K
    /// (one pass, libjpeg's default). On the DICOMweb benchmark's rendered frame (a 512x512 CT through its window,
    /// quality 90): 173,363 bytes against 188,563, the sizes of `cjpeg -optimize` (173,369) and `cjpeg` (188,623), the
    /// same pixels, for about 0.2 ms more encoding (1.0 against 0.8 ms at best on 2 cores); served, the frame stayed at
    /// orthanc's time for the same picture (medians 4.5 ms both, interleaved on loopback).
    /// </param>
    public static byte[] Encode(RenderedImage image, int quality = 90, bool optimizeHuffman = true)
    {
        if (image.Channels is not (1 or 3)) throw new ImagingException($"a JPEG is encoded from 1 or 3 channels, not {image.Channels}");
        if (image.Width is < 1 or > 65535 || image.Height is < 1 or > 65535) throw new ImagingException("a JPEG is 1 to 65535 pixels on a side");
        quality = Math.Clamp(quality, 1, 100);
        var luma = Quantizer.For(Tables.Luminance, quality);
        var chroma = image.Channels == 3 ? Quantizer.For(Tables.Chrominance, quality) : null;
        var planes = Planes(image);
        var blocks = new BlockGrid(image.Width, image.Height, planes.Length);

        // Restart intervals of RowsPerInterval MCU rows (T.81 B.2.4.4, F.1.2.3): each starts its DC predictions afresh
        // and its entropy-coded segment on a byte, so the intervals are encoded side by side and joined with RSTm
        // markers. A 512x512 slice is 8 intervals: on 2 cores it is encoded in about half the time.
        // DRI holds at most 65535 MCUs: an image wider than 8,184 pixels is one interval.
        var intervals = blocks.PerRow * RowsPerInterval > ushort.MaxValue ? 1 : (blocks.Rows + RowsPerInterval - 1) / RowsPerInterval;
        (int First, int End) RowsOf(int k) => intervals == 1 ? (0, blocks.Rows) : (k * RowsPerInterval, Math.Min(blocks.Rows, (k + 1) * RowsPerInterval));
        var parallel = intervals > 1 && (long)image.Width * image.Height >= 64 * 1024;
        void Run(Action<int> body)
        {
            if (parallel) Parallel.For(0, intervals, body);
            else for (var k = 0; k < intervals; k++) body(k);
        }

        var segments = new Output[intervals];
        (HuffmanTable Dc, HuffmanTable Ac) lumaTables, chromaTables;
        if (optimizeHuffman && (long)blocks.Count * 64 <= OptimizedSamplesLimit)
        {
            // Two passes: quantize every block and count the symbols it will need, then code them with tables built
            // from those counts (T.81 K.2). The DCT is done once; the second pass only reads the kept coefficients.
            // Pooled: 512 KB of coefficients for a 512x512 slice, every element written before it is read, and a fresh
            // large-object allocation per frame would be zeroed and collected for nothing.
            var coefficients = ArrayPool<short>.Shared.Rent(blocks.Count * 64);
            var masks = ArrayPool<ulong>.Shared.Rent(blocks.Count);
            try
            {
                var counts = new SymbolCounts[intervals];
                Run(k =>
                {
                    counts[k] = new SymbolCounts();
                    Transform(planes, blocks, RowsOf(k), luma, chroma, coefficients, masks, 0, counts[k]);
                });
                var total = SymbolCounts.Sum(counts);
                lumaTables = (HuffmanTable.For(total.Dc[0]), HuffmanTable.For(total.Ac[0]));
                chromaTables = chroma is null ? lumaTables : (HuffmanTable.For(total.Dc[1]), HuffmanTable.For(total.Ac[1]));
                Run(k =>
                {
                    var rows = RowsOf(k);
                    var output = NewSegment(blocks, rows);
                    CodeRows(output, stackalloc int[blocks.Components], blocks, rows, coefficients, masks, 0, lumaTables, chromaTables);
                    output.Flush();
                    segments[k] = output;
                });
            }
            finally
            {
                ArrayPool<short>.Shared.Return(coefficients);
                ArrayPool<ulong>.Shared.Return(masks);
            }
        }
        else
        {
            // One MCU row at a time, coded as soon as transformed: the memory of a row, whatever the image's size.
            (lumaTables, chromaTables) = ((Tables.DcLuminance, Tables.AcLuminance), (Tables.DcChrominance, Tables.AcChrominance));
            Run(k =>
            {
                var rows = RowsOf(k);
                var output = NewSegment(blocks, rows);
                Span<int> lastDc = stackalloc int[blocks.Components];
                var perRow = blocks.FirstOf(1);
                var (coefficients, masks) = (new short[perRow * 64], new ulong[perRow]);
                for (var row = rows.First; row < rows.End; row++)
                {
                    Transform(planes, blocks, (row, row + 1), luma, chroma, coefficients, masks, blocks.FirstOf(row), null);
                    CodeRows(output, lastDc, blocks, (row, row + 1), coefficients, masks, blocks.FirstOf(row), lumaTables, chromaTables);
                }
                output.Flush();
                segments[k] = output;
            });
        }

        var result = new Output(segments.Sum(o => o.Length) + 2 * intervals + 1024);
        WriteHeaders(result, image, luma, chroma, lumaTables, chromaTables, intervals > 1 ? blocks.PerRow * RowsPerInterval : 0);
        for (var k = 0; k < intervals; k++)
        {
            if (k > 0) result.Marker((byte)(0xD0 + (k - 1) % 8)); // RST0..RST7 in turn
            result.Append(segments[k]);
        }
        result.Marker(0xD9); // EOI
        return result.ToArray();
    }

    /// <summary>The 8x8 blocks of the image in coding order: MCU rows, then MCUs, then components (one block each at 4:4:4).</summary>
    private readonly record struct BlockGrid(int Width, int Height, int Components)
    {
        public int PerRow => (Width + 7) / 8;
        public int Rows => (Height + 7) / 8;
        public int Count => PerRow * Rows * Components;
        public int FirstOf(int mcuRow) => mcuRow * PerRow * Components;
    }

    /// <summary>
    /// The DCT and quantization of the blocks of some MCU rows, their zig-zag coefficients kept from block
    /// <paramref name="offset"/> of the arrays on; the symbols they will be coded with counted when asked.
    /// </summary>
    private static void Transform(byte[][] planes, BlockGrid blocks, (int First, int End) rows, Quantizer luma, Quantizer? chroma,
        short[] coefficients, ulong[] masks, int offset, SymbolCounts? counts)
    {
        Span<float> block = stackalloc float[64];
        Span<int> lastDc = stackalloc int[blocks.Components];
        var index = blocks.FirstOf(rows.First) - offset;
        for (var row = rows.First; row < rows.End; row++)
            for (var bx = 0; bx < blocks.PerRow; bx++)
                for (var c = 0; c < blocks.Components; c++, index++)
                {
                    ReadBlock(planes[c], blocks.Width, blocks.Height, bx * 8, row * 8, block);
                    ForwardDct(block);
                    var zz = coefficients.AsSpan(index * 64, 64);
                    masks[index] = Quantize(block, (c == 0 ? luma : chroma!).Reciprocals, zz);
                    if (counts is not null) lastDc[c] = counts.Add(c == 0 ? 0 : 1, zz, masks[index], lastDc[c]);
                }
    }

    /// <summary>An output sized for the entropy-coded segment of some MCU rows (about 3 bits a sample at quality 90).</summary>
    private static Output NewSegment(BlockGrid blocks, (int First, int End) rows) =>
        new((blocks.FirstOf(rows.End) - blocks.FirstOf(rows.First)) * 24 + 1024);

    /// <summary>
    /// Codes the blocks of some MCU rows from their kept coefficients (block <paramref name="offset"/> at index 0), the
    /// DC predictions carried in <paramref name="lastDc"/> from the rows before in the same restart interval.
    /// </summary>
    private static void CodeRows(Output output, Span<int> lastDc, BlockGrid blocks, (int First, int End) rows, short[] coefficients, ulong[] masks,
        int offset, (HuffmanTable Dc, HuffmanTable Ac) luma, (HuffmanTable Dc, HuffmanTable Ac) chroma)
    {
        var first = blocks.FirstOf(rows.First);
        var count = blocks.FirstOf(rows.End) - first;
        for (var i = 0; i < count; i++)
        {
            var c = i % blocks.Components;
            var (dc, ac) = c == 0 ? luma : chroma;
            var index = first - offset + i;
            output.Reserve(1024); // a block's worst case: 64 codes of at most 27 bits, every byte stuffed
            lastDc[c] = output.Block(coefficients.AsSpan(index * 64, 64), masks[index], lastDc[c], dc.Codes, ac.Codes);
        }
    }

    /// <summary>
    /// Quantizes a block (round to nearest) into zig-zag order, eight coefficients at a time and without branches: at
    /// diagnostic qualities which coefficients are zero is unpredictable. Returns the mask of the non-zero ones.
    /// </summary>
    private static ulong Quantize(Span<float> block, float[] reciprocals, Span<short> zz)
    {
        Span<int> natural = stackalloc int[64];
        var low = Vector256.Create(-1023);
        var high = Vector256.Create(1023);
        for (var i = 0; i < 64; i += 8)
        {
            var scaled = Vector256.Create<float>(block.Slice(i, 8)) * Vector256.Create<float>(reciprocals.AsSpan(i, 8));
            // Size 10 at most for AC and 11 for DC differences of 8-bit samples (T.81 F.1.2); rounding stays inside.
            Vector256.Min(Vector256.Max(Vector256.ConvertToInt32(Vector256.Round(scaled)), low), high).CopyTo(natural.Slice(i, 8));
        }
        var zigZag = Tables.ZigZag;
        ulong nonZero = 0;
        for (var k = 0; k < 64; k++)
        {
            var v = natural[zigZag[k]];
            zz[k] = (short)v;
            nonZero |= (ulong)Unsafe.BitCast<bool, byte>(v != 0) << k;
        }
        return nonZero;
    }

    /// <summary>Size category of a DC difference or AC value: the bits of its magnitude (T.81 F.1.2.1.1, Tables F.1 and F.2).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Size(int value)
    {
        var sign = value >> 31;
        return 32 - System.Numerics.BitOperations.LeadingZeroCount((uint)((value ^ sign) - sign));
    }

    /// <summary>How often each Huffman symbol occurs, per table: DC size categories, AC run/size pairs with ZRL and EOB.</summary>
    private sealed class SymbolCounts
    {
        public long[][] Dc { get; } = [new long[256], new long[256]];
        public long[][] Ac { get; } = [new long[256], new long[256]];

        /// <summary>Counts a block's symbols as Output.Block will code them; returns its DC value.</summary>
        public int Add(int table, ReadOnlySpan<short> zz, ulong nonZero, int previousDc)
        {
            Dc[table][Size(zz[0] - previousDc)]++;
            var ac = Ac[table];
            nonZero &= ~1UL;
            var last = 0;
            while (nonZero != 0)
            {
                var k = System.Numerics.BitOperations.TrailingZeroCount(nonZero);
                var run = k - last - 1;
                for (; run > 15; run -= 16) ac[0xF0]++;
                ac[run << 4 | Size(zz[k])]++;
                last = k;
                nonZero &= nonZero - 1;
            }
            if (last != 63) ac[0x00]++;
            return zz[0];
        }

        public static SymbolCounts Sum(SymbolCounts[] parts)
        {
            var total = new SymbolCounts();
            foreach (var part in parts)
                for (var t = 0; t < 2; t++)
                    for (var s = 0; s < 256; s++)
                    {
                        total.Dc[t][s] += part.Dc[t][s];
                        total.Ac[t][s] += part.Ac[t][s];
                    }
            return total;
        }
    }

    /// <summary>Grey as is; RGB as YCbCr (JFIF, ITU-T T.871). One byte per sample, rows top to bottom.</summary>
    private static byte[][] Planes(RenderedImage image)
    {
        if (image.Channels == 1) return [image.Pixels];
        var n = image.Width * image.Height;
        byte[] y = new byte[n], cb = new byte[n], cr = new byte[n];
        var px = image.Pixels;
        for (var i = 0; i < n; i++)
        {
            float r = px[3 * i], g = px[3 * i + 1], b = px[3 * i + 2];
            y[i] = Clamp(0.299f * r + 0.587f * g + 0.114f * b);
            cb[i] = Clamp(128 - 0.168736f * r - 0.331264f * g + 0.5f * b);
            cr[i] = Clamp(128 + 0.5f * r - 0.418688f * g - 0.081312f * b);
        }
        return [y, cb, cr];
    }

    private static byte Clamp(float v) => (byte)Math.Clamp((int)(v + 0.5f), 0, 255);

    /// <summary>An 8x8 block, level-shifted by 128 (T.81 A.3.1); past the right and bottom edges the last column and row repeat.</summary>
    private static void ReadBlock(byte[] plane, int width, int height, int x, int y, Span<float> block)
    {
        for (var r = 0; r < 8; r++)
        {
            var row = plane.AsSpan(Math.Min(y + r, height - 1) * width);
            var dst = block.Slice(r * 8, 8);
            if (x + 8 <= width)
                for (var c = 0; c < 8; c++) dst[c] = row[x + c] - 128f;
            else
                for (var c = 0; c < 8; c++) dst[c] = row[Math.Min(x + c, width - 1)] - 128f;
        }
    }

    /// <summary>
    /// The 2-D forward DCT as rows then columns of the Arai-Agui-Nakajima factorisation: 5 multiplications per
    /// 8 points. Its outputs are the true coefficients times s(u)s(v)*8, s(0) = 1, s(k) = cos(k pi/16) sqrt 2; the
    /// quantizer's reciprocals divide that out.
    /// </summary>
    private static void ForwardDct(Span<float> d)
    {
        for (var i = 0; i < 8; i++) Dct8(d, i * 8, 1);
        for (var i = 0; i < 8; i++) Dct8(d, i, 8);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Dct8(Span<float> d, int o, int s)
    {
        float t0 = d[o] + d[o + 7 * s], t7 = d[o] - d[o + 7 * s];
        float t1 = d[o + s] + d[o + 6 * s], t6 = d[o + s] - d[o + 6 * s];
        float t2 = d[o + 2 * s] + d[o + 5 * s], t5 = d[o + 2 * s] - d[o + 5 * s];
        float t3 = d[o + 3 * s] + d[o + 4 * s], t4 = d[o + 3 * s] - d[o + 4 * s];

        // Even part.
        float t10 = t0 + t3, t13 = t0 - t3, t11 = t1 + t2, t12 = t1 - t2;
        d[o] = t10 + t11;
        d[o + 4 * s] = t10 - t11;
        var z1 = (t12 + t13) * 0.707106781f;
        d[o + 2 * s] = t13 + z1;
        d[o + 6 * s] = t13 - z1;

        // Odd part.
        t10 = t4 + t5;
        t11 = t5 + t6;
        t12 = t6 + t7;
        var z5 = (t10 - t12) * 0.382683433f;
        var z2 = 0.541196100f * t10 + z5;
        var z4 = 1.306562965f * t12 + z5;
        var z3 = t11 * 0.707106781f;
        float z11 = t7 + z3, z13 = t7 - z3;
        d[o + 5 * s] = z13 + z2;
        d[o + 3 * s] = z13 - z2;
        d[o + s] = z11 + z4;
        d[o + 7 * s] = z11 - z4;
    }

    private static void WriteHeaders(Output o, RenderedImage image, Quantizer luma, Quantizer? chroma,
        (HuffmanTable Dc, HuffmanTable Ac) lumaTables, (HuffmanTable Dc, HuffmanTable Ac) chromaTables, int restartInterval)
    {
        o.Marker(0xD8); // SOI
        // APP0 JFIF 1.01, no density, no thumbnail (ITU-T T.871 10.1): says the components are Y, Cb, Cr.
        o.Segment(0xE0, [(byte)'J', (byte)'F', (byte)'I', (byte)'F', 0, 1, 1, 0, 0, 1, 0, 1, 0, 0]);
        o.Segment(0xDB, chroma is null ? luma.Dqt(0) : [.. luma.Dqt(0), .. chroma.Dqt(1)]);
        var n = (byte)image.Channels;
        var sof = new List<byte> { 8, (byte)(image.Height >> 8), (byte)image.Height, (byte)(image.Width >> 8), (byte)image.Width, n };
        for (var c = 0; c < n; c++) sof.AddRange([(byte)(c + 1), 0x11, (byte)(c == 0 ? 0 : 1)]); // 1x1 sampling: 4:4:4
        o.Segment(0xC0, [.. sof]); // SOF0: baseline
        var dht = new List<byte>();
        dht.AddRange(lumaTables.Dc.Dht(0x00));
        dht.AddRange(lumaTables.Ac.Dht(0x10));
        if (n == 3)
        {
            dht.AddRange(chromaTables.Dc.Dht(0x01));
            dht.AddRange(chromaTables.Ac.Dht(0x11));
        }
        o.Segment(0xC4, [.. dht]);
        if (restartInterval > 0) o.Segment(0xDD, [(byte)(restartInterval >> 8), (byte)restartInterval]); // DRI: MCUs per interval
        var sos = new List<byte> { n };
        for (var c = 0; c < n; c++) sos.AddRange([(byte)(c + 1), (byte)(c == 0 ? 0x00 : 0x11)]);
        sos.AddRange([0, 63, 0]); // Ss, Se, Ah/Al of a sequential scan
        o.Segment(0xDA, [.. sos]);
    }

    /// <summary>A quantization table at a quality, with the DCT's scaling folded into one multiplier per coefficient.</summary>
    private sealed class Quantizer
    {
        private readonly byte[] _natural = new byte[64];
        public float[] Reciprocals { get; } = new float[64];

        /// <summary>Annex K's example table scaled as the IJG quality scale does: 50 is the table, 100 all ones.</summary>
        public static Quantizer For(byte[] table, int quality)
        {
            var scale = quality < 50 ? 5000 / quality : 200 - 2 * quality;
            var q = new Quantizer();
            for (var i = 0; i < 64; i++)
            {
                q._natural[i] = (byte)Math.Clamp((table[i] * scale + 50) / 100, 1, 255);
                int u = i >> 3, v = i & 7;
                q.Reciprocals[i] = (float)(1.0 / (q._natural[i] * Aan(u) * Aan(v) * 8));
            }
            return q;
        }

        private static double Aan(int k) => k == 0 ? 1 : Math.Cos(k * Math.PI / 16) * Math.Sqrt(2);

        /// <summary>A DQT entry: precision 0 (8-bit) and the table id, then the 64 values in zig-zag order (T.81 B.2.4.1).</summary>
        public byte[] Dqt(int id)
        {
            var entry = new byte[65];
            entry[0] = (byte)id;
            for (var k = 0; k < 64; k++) entry[k + 1] = _natural[Tables.ZigZag[k]];
            return entry;
        }
    }

    /// <summary>The entropy-coded output: a growing buffer and a 64-bit bit accumulator, 0xFF bytes stuffed with 0x00 (T.81 F.1.2.3).</summary>
    private sealed class Output(int capacity)
    {
        private byte[] _buffer = new byte[capacity];
        private int _length;
        private ulong _bits;
        private int _count;

        public void Reserve(int bytes)
        {
            if (_length + bytes > _buffer.Length) Array.Resize(ref _buffer, Math.Max(_buffer.Length * 2, _length + bytes));
        }

        public void Marker(byte code)
        {
            Reserve(2);
            _buffer[_length++] = 0xFF;
            _buffer[_length++] = code;
        }

        public void Segment(byte code, byte[] body)
        {
            Marker(code);
            Reserve(body.Length + 2);
            BinaryPrimitives.WriteUInt16BigEndian(_buffer.AsSpan(_length), (ushort)(body.Length + 2));
            body.CopyTo(_buffer, _length + 2);
            _length += body.Length + 2;
        }

        /// <summary>
        /// Codes one quantized block (T.81 F.1.2.1 and F.1.2.2); returns its DC value for the next block's difference.
        /// The zero runs are read from the mask of the non-zero coefficients rather than tested one by one: at
        /// diagnostic qualities most coefficients are non-zero and which ones is unpredictable.
        /// </summary>
        public int Block(ReadOnlySpan<short> zz, ulong nonZero, int previousDc, HuffmanCode[] dc, HuffmanCode[] ac)
        {
            var bits = _bits;
            var count = _count;
            Code(ref bits, ref count, dc, zz[0] - previousDc, 0);
            nonZero &= ~1UL;
            var last = 0;
            while (nonZero != 0)
            {
                var k = System.Numerics.BitOperations.TrailingZeroCount(nonZero);
                var run = k - last - 1;
                for (; run > 15; run -= 16) Put(ref bits, ref count, ac[0xF0].Bits, ac[0xF0].Length); // ZRL: sixteen zeros
                Code(ref bits, ref count, ac, zz[k], run << 4);
                last = k;
                nonZero &= nonZero - 1;
            }
            if (last != 63) Put(ref bits, ref count, ac[0x00].Bits, ac[0x00].Length); // EOB
            (_bits, _count) = (bits, count);
            return zz[0];
        }

        /// <summary>A value as its size category's code then its low bits, ones' complement when negative (T.81 F.1.2.1.1).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private void Code(ref ulong bits, ref int count, HuffmanCode[] table, int value, int runNibble)
        {
            var sign = value >> 31; // -1 when negative
            var size = 32 - System.Numerics.BitOperations.LeadingZeroCount((uint)((value ^ sign) - sign));
            var code = table[runNibble | size];
            var extra = (uint)(value + sign) & ((1u << size) - 1);
            Put(ref bits, ref count, ((ulong)code.Bits << size) | extra, code.Length + size);
        }

        /// <summary>Appends bits; every 32 of them go out at once unless one of their bytes is 0xFF and needs its stuffing byte.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private void Put(ref ulong bits, ref int count, ulong value, int length)
        {
            bits = (bits << length) | value;
            count += length;
            if (count < 32) return;
            count -= 32;
            var word = (uint)(bits >> count);
            var inverted = ~word;
            if (((inverted - 0x01010101u) & ~inverted & 0x80808080u) == 0)
            {
                BinaryPrimitives.WriteUInt32BigEndian(_buffer.AsSpan(_length), word);
                _length += 4;
            }
            else
                for (var shift = 24; shift >= 0; shift -= 8)
                {
                    var b = (byte)(word >> shift);
                    _buffer[_length++] = b;
                    if (b == 0xFF) _buffer[_length++] = 0;
                }
        }

        /// <summary>The last bits, padded with ones to a byte boundary (T.81 F.1.2.3).</summary>
        public void Flush()
        {
            Reserve(16);
            var pad = (8 - _count % 8) % 8;
            _bits = (_bits << pad) | ((1UL << pad) - 1);
            _count += pad;
            for (; _count >= 8; _count -= 8)
            {
                var b = (byte)(_bits >> (_count - 8));
                _buffer[_length++] = b;
                if (b == 0xFF) _buffer[_length++] = 0;
            }
        }

        public int Length => _length;

        /// <summary>Another output's bytes after these (its bits flushed).</summary>
        public void Append(Output other)
        {
            Reserve(other._length);
            other._buffer.AsSpan(0, other._length).CopyTo(_buffer.AsSpan(_length));
            _length += other._length;
        }

        public byte[] ToArray() => _buffer.AsSpan(0, _length).ToArray();
    }

    private readonly record struct HuffmanCode(ushort Bits, int Length);

    /// <summary>A Huffman table as DHT carries it (how many codes of each length 1..16, then the symbols in code order) and its codes.</summary>
    private sealed class HuffmanTable
    {
        private readonly byte[] _bits;
        private readonly byte[] _values;

        /// <summary>The code of each symbol, indexed by symbol.</summary>
        public HuffmanCode[] Codes { get; }

        public HuffmanTable(byte[] bits, byte[] values)
        {
            if (bits.Length != 16 || bits.Sum(b => b) != values.Length) throw new InvalidOperationException("a Huffman table's counts do not match its symbols");
            (_bits, _values) = (bits, values);
            // T.81 C.2: codes count up within a length and shift left to the next length.
            Codes = new HuffmanCode[256];
            var (code, k) = (0, 0);
            for (var length = 1; length <= 16; length++, code <<= 1)
                for (var i = 0; i < bits[length - 1]; i++)
                    Codes[values[k++]] = new HuffmanCode((ushort)code++, length);
        }

        /// <summary>A DHT entry: table class and id, the 16 counts, the symbols (T.81 B.2.4.2).</summary>
        public byte[] Dht(byte classAndId) => [classAndId, .. _bits, .. _values];

        /// <summary>
        /// The table that codes these symbol counts in the fewest bits with codes of at most 16 bits and none all
        /// ones, built as T.81 Annex K.2 describes: code lengths by repeatedly merging the two least frequent entries
        /// (Figure K.1, with one reserved symbol of count 1 so that no real code is all ones), lengths over 16 moved up
        /// the tree (Figure K.3), then the symbols sorted by code length (Figure K.4).
        /// </summary>
        public static HuffmanTable For(long[] counts)
        {
            const int Reserved = 256;
            var frequency = new long[257];
            counts.AsSpan(0, 256).CopyTo(frequency);
            frequency[Reserved] = 1;
            var codeSize = new int[257];
            var next = new int[257]; // the entries merged into a symbol's subtree, as a chain (OTHERS in K.1)
            Array.Fill(next, -1);
            while (true)
            {
                // The least frequent entry and the next least; on equal counts the larger symbol first (K.1).
                int v1 = -1, v2 = -1;
                for (var v = 0; v <= Reserved; v++)
                    if (frequency[v] > 0 && (v1 < 0 || frequency[v] <= frequency[v1])) v1 = v;
                for (var v = 0; v <= Reserved; v++)
                    if (v != v1 && frequency[v] > 0 && (v2 < 0 || frequency[v] <= frequency[v2])) v2 = v;
                if (v2 < 0) break;
                frequency[v1] += frequency[v2];
                frequency[v2] = 0;
                for (var v = v1; ; v = next[v])
                {
                    codeSize[v]++;
                    if (next[v] < 0) { next[v] = v2; break; }
                }
                for (var v = v2; v >= 0; v = next[v]) codeSize[v]++;
            }

            var lengths = new int[258];
            foreach (var size in codeSize) if (size > 0) lengths[size]++;
            // K.3: a pair of codes longer than 16 bits becomes one a bit shorter, and a shorter code's place splits in two.
            for (var i = lengths.Length - 1; i > 16; i--)
                while (lengths[i] > 0)
                {
                    var j = i - 2;
                    while (lengths[j] == 0) j--;
                    lengths[i] -= 2;
                    lengths[i - 1]++;
                    lengths[j + 1] += 2;
                    lengths[j]--;
                }
            // The reserved symbol had the longest code: drop it.
            var longest = 16;
            while (lengths[longest] == 0) longest--;
            lengths[longest]--;

            var bits = new byte[16];
            for (var i = 1; i <= 16; i++) bits[i - 1] = (byte)lengths[i];
            // K.4: the symbols by their K.1 code length (most frequent first), in symbol order within a length; they fill
            // the counts per length as K.3 left them.
            var values = Enumerable.Range(0, 256).Where(v => codeSize[v] > 0).OrderBy(v => codeSize[v]).ThenBy(v => v).Select(v => (byte)v).ToArray();
            return new HuffmanTable(bits, values);
        }
    }

    /// <summary>The example tables of T.81 Annex K, with which a baseline encoder needs no statistics pass.</summary>
    private static class Tables
    {
        /// <summary>Zig-zag position k to the natural (row-major) index of its coefficient (T.81 Figure A.6).</summary>
        public static readonly int[] ZigZag =
        [
            0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5,
            12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21, 28,
            35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51,
            58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
        ];

        /// <summary>Table K.1, natural order.</summary>
        public static readonly byte[] Luminance =
        [
            16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55,
            14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62,
            18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
            49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
        ];

        /// <summary>Table K.2, natural order.</summary>
        public static readonly byte[] Chrominance =
        [
            17, 18, 24, 47, 99, 99, 99, 99, 18, 21, 26, 66, 99, 99, 99, 99,
            24, 26, 56, 99, 99, 99, 99, 99, 47, 66, 99, 99, 99, 99, 99, 99,
            99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99,
            99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99,
        ];

        // Tables K.3 to K.6: how many codes of each length 1..16, then the symbols in code order.
        public static readonly byte[] DcLuminanceBits = [0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0];
        public static readonly byte[] DcChrominanceBits = [0, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0];
        public static readonly byte[] DcValues = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
        public static readonly byte[] AcLuminanceBits = [0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 0x7D];
        public static readonly byte[] AcLuminanceValues =
        [
            0x01, 0x02, 0x03, 0x00, 0x04, 0x11, 0x05, 0x12, 0x21, 0x31, 0x41, 0x06, 0x13, 0x51, 0x61, 0x07,
            0x22, 0x71, 0x14, 0x32, 0x81, 0x91, 0xA1, 0x08, 0x23, 0x42, 0xB1, 0xC1, 0x15, 0x52, 0xD1, 0xF0,
            0x24, 0x33, 0x62, 0x72, 0x82, 0x09, 0x0A, 0x16, 0x17, 0x18, 0x19, 0x1A, 0x25, 0x26, 0x27, 0x28,
            0x29, 0x2A, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3A, .. Runs(0x43, 0x53, 0x63, 0x73, 0x83, 0x92, 0xA2, 0xB2, 0xC2, 0xD2, 0xE1, 0xF1),
        ];
        public static readonly byte[] AcChrominanceBits = [0, 2, 1, 2, 4, 4, 3, 4, 7, 5, 4, 4, 0, 1, 2, 0x77];
        public static readonly byte[] AcChrominanceValues =
        [
            0x00, 0x01, 0x02, 0x03, 0x11, 0x04, 0x05, 0x21, 0x31, 0x06, 0x12, 0x41, 0x51, 0x07, 0x61, 0x71,
            0x13, 0x22, 0x32, 0x81, 0x08, 0x14, 0x42, 0x91, 0xA1, 0xB1, 0xC1, 0x09, 0x23, 0x33, 0x52, 0xF0,
            0x15, 0x62, 0x72, 0xD1, 0x0A, 0x16, 0x24, 0x34, 0xE1, 0x25, 0xF1, 0x17, 0x18, 0x19, 0x1A, 0x26,
            0x27, 0x28, 0x29, 0x2A, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3A, .. Runs(0x43, 0x53, 0x63, 0x73, 0x82, 0x92, 0xA2, 0xB2, 0xC2, 0xD2, 0xE2, 0xF2),
        ];

        /// <summary>The tails of K.5 and K.6: for each start, the symbols up to size 10 of that run length.</summary>
        private static byte[] Runs(params int[] starts) =>
            [.. starts.SelectMany(s => Enumerable.Range(s, (s & 0xF0 | 0x0A) - s + 1).Select(v => (byte)v))];

        public static readonly HuffmanTable DcLuminance = new(DcLuminanceBits, DcValues);
        public static readonly HuffmanTable AcLuminance = new(AcLuminanceBits, AcLuminanceValues);
        public static readonly HuffmanTable DcChrominance = new(DcChrominanceBits, DcValues);
        public static readonly HuffmanTable AcChrominance = new(AcChrominanceBits, AcChrominanceValues);
    }
}
