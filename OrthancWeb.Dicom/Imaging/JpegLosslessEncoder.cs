using System.Buffers.Binary;
using OrthancWeb.Dicom.IO;

namespace OrthancWeb.Dicom.Imaging;

/// <summary>
/// JPEG lossless, process 14 (ITU-T T.81 Annex H): predictive coding of each sample from its neighbours, the
/// differences Huffman coded with a table made for the frame (Annex K.2). Selection value 1 (left neighbour) is
/// transfer syntax .70, the one DICOM calls the default lossless JPEG (PS3.5 §A.4.1, §10.2); .57 may use any of the
/// seven predictors. Point transform 0, no restart intervals, all components in one interleaved scan (H = V = 1).
/// </summary>
public static class JpegLosslessEncoder
{
    public const string SelectionValue1Uid = "1.2.840.10008.1.2.4.70";
    public const string AnyPredictorUid = "1.2.840.10008.1.2.4.57";

    /// <summary>
    /// One frame (samples interleaved, little endian units of Bits Allocated) as a JPEG lossless stream with precision
    /// P = Bits Stored (2 to 16); signed samples are coded as their P-bit two's complement, as DICOM requires (PS3.5 §8.2.1).
    /// </summary>
    public static byte[] Encode(DecodedFrame frame, int predictor = 1)
    {
        var info = frame.Info;
        if (predictor is < 1 or > 7) throw new ArgumentOutOfRangeException(nameof(predictor), "selection values are 1 to 7 (T.81 Table H.1)");
        if (info.IsFloat || info.BitsAllocated is not (8 or 16) || info.BitsStored is < 2 or > 16)
            throw new ImagingException($"JPEG lossless holds 2 to 16 bits per sample, not {info.BitsStored} of {info.BitsAllocated} allocated{(info.IsFloat ? " floating point" : "")}");
        if (info.SamplesPerPixel > 4) throw new ImagingException($"JPEG lossless is encoded here with at most 4 components, not {info.SamplesPerPixel}");
        var (width, height, components, precision) = (info.Columns, info.Rows, info.SamplesPerPixel, info.BitsStored);
        var samples = ReadSamples(frame.Data, info);

        // Pass 1: the differences and the frequency of each magnitude category SSSS (T.81 Table H.2).
        var differences = new int[samples.Length];
        Span<long> frequencies = stackalloc long[17];
        var stride = width * components;
        for (var y = 0; y < height; y++)
        {
            var line = y * stride;
            for (var i = line; i < line + stride; i++)
            {
                int px;
                if (i - line < components)
                    px = y == 0 ? 1 << (precision - 1) : samples[i - stride]; // a line's first pixel: Rb (the scan's first: 2^(P-1))
                else if (y == 0 || predictor == 1)
                    px = samples[i - components];                             // Ra (all the first line uses, H.1.2.1)
                else
                    px = Predict(samples[i - components], samples[i - stride], samples[i - stride - components], predictor);
                // H.1.2.2: the difference is taken modulo 2^16 and read in -32767..32768.
                var diff = (samples[i] - px) & 0xFFFF;
                if (diff > 32768) diff -= 65536;
                differences[i] = diff;
                frequencies[Category(diff)]++;
            }
        }

        var table = HuffmanTable.Optimal(frequencies);
        var output = new ByteBuffer(samples.Length + 1024);
        output.Add(0xFF, 0xD8); // SOI
        WriteHuffmanTable(output, table);
        WriteFrameHeader(output, width, height, components, precision);
        WriteScanHeader(output, components, predictor);

        // Pass 2: the entropy-coded segment: each difference's code, then its additional bits (H.1.2.2): SSSS 16 (a
        // difference of 32768) has none, a negative one is sent as diff - 1 in SSSS bits. Bytes 0xFF are stuffed (F.1.2.3).
        ulong bits = 0;
        var count = 0;
        foreach (var diff in differences)
        {
            var ssss = Category(diff);
            var extra = ssss is > 0 and < 16 ? ((uint)(diff < 0 ? diff - 1 : diff) & ((1u << ssss) - 1)) : 0u;
            var extraLength = ssss < 16 ? ssss : 0;
            bits = (bits << (table.Sizes[ssss] + extraLength)) | ((ulong)table.Codes[ssss] << extraLength) | extra;
            count += table.Sizes[ssss] + extraLength;
            while (count >= 8)
            {
                count -= 8;
                output.AddStuffed((byte)(bits >> count));
            }
        }
        if (count > 0) output.AddStuffed((byte)((bits << (8 - count)) | ((1u << (8 - count)) - 1))); // padded with 1 bits (F.1.2.3)
        output.Add(0xFF, 0xD9); // EOI
        return output.ToArray();
    }

    /// <summary>Selection values 2 to 7 away from the first line and column (T.81 Table H.1).</summary>
    private static int Predict(int ra, int rb, int rc, int predictor) => predictor switch
    {
        2 => rb,
        3 => rc,
        4 => ra + rb - rc,
        5 => ra + ((rb - rc) >> 1),
        6 => rb + ((ra - rc) >> 1),
        _ => (ra + rb) >> 1,
    };

    /// <summary>SSSS: the number of bits of the difference's magnitude, 0 to 16 (T.81 Table H.2).</summary>
    private static int Category(int diff) => diff == 0 ? 0 : 32 - System.Numerics.BitOperations.LeadingZeroCount((uint)Math.Abs(diff));

    /// <summary>Samples as unsigned P-bit values (the bits above Bits Stored cleared).</summary>
    private static int[] ReadSamples(byte[] data, PixelDataInfo info)
    {
        var count = info.Rows * info.Columns * info.SamplesPerPixel;
        var needed = (long)count * info.BytesPerSample;
        if (data.Length < needed) throw new ImagingException($"the frame holds {data.Length} bytes, {needed} are needed");
        var mask = (1 << info.BitsStored) - 1;
        var samples = new int[count];
        if (info.BytesPerSample == 1)
            for (var i = 0; i < count; i++) samples[i] = data[i] & mask;
        else
            for (var i = 0; i < count; i++) samples[i] = BinaryPrimitives.ReadUInt16LittleEndian(data.AsSpan(2 * i)) & mask;
        return samples;
    }

    /// <summary>A growing byte array: the stream is built in one buffer, without a Stream call per byte.</summary>
    private sealed class ByteBuffer(int capacity)
    {
        private byte[] _bytes = new byte[Math.Max(capacity, 64)];
        private int _length;

        public void Add(byte b)
        {
            if (_length == _bytes.Length) Array.Resize(ref _bytes, _bytes.Length * 2);
            _bytes[_length++] = b;
        }

        public void Add(byte a, byte b)
        {
            Add(a);
            Add(b);
        }

        public void AddUInt16(int value) => Add((byte)(value >> 8), (byte)value);

        /// <summary>A byte of entropy-coded data: 0xFF is followed by a stuffed 0x00 (F.1.2.3).</summary>
        public void AddStuffed(byte b)
        {
            Add(b);
            if (b == 0xFF) Add(0);
        }

        public byte[] ToArray() => _bytes.AsSpan(0, _length).ToArray();
    }

    /// <summary>DHT (B.2.4.2): one table, class 0 (the DC class, which lossless coding uses), destination 0.</summary>
    private static void WriteHuffmanTable(ByteBuffer s, HuffmanTable table)
    {
        s.Add(0xFF, 0xC4);
        s.AddUInt16(2 + 1 + 16 + table.Values.Length);
        s.Add(0x00);
        for (var length = 1; length <= 16; length++) s.Add((byte)table.Bits[length]);
        foreach (var v in table.Values) s.Add(v);
    }

    /// <summary>SOF3 (B.2.2): lossless, Huffman; each component sampled 1x1, no quantisation table.</summary>
    private static void WriteFrameHeader(ByteBuffer s, int width, int height, int components, int precision)
    {
        s.Add(0xFF, 0xC3);
        s.AddUInt16(8 + 3 * components);
        s.Add((byte)precision);
        s.AddUInt16(height);
        s.AddUInt16(width);
        s.Add((byte)components);
        for (var c = 0; c < components; c++)
        {
            s.Add((byte)(c + 1));
            s.Add(0x11);
            s.Add(0);
        }
    }

    /// <summary>SOS (B.2.3): every component with table 0; Ss is the predictor, Se 0, Ah 0 and Al (point transform) 0 (H.2.2).</summary>
    private static void WriteScanHeader(ByteBuffer s, int components, int predictor)
    {
        s.Add(0xFF, 0xDA);
        s.AddUInt16(6 + 2 * components);
        s.Add((byte)components);
        for (var c = 0; c < components; c++) s.Add((byte)(c + 1), 0x00);
        s.Add((byte)predictor);
        s.Add(0, 0);
    }

    /// <summary>A Huffman table for the categories 0 to 16: BITS, HUFFVAL, and the code of each category (Annex C).</summary>
    private sealed class HuffmanTable
    {
        public int[] Bits { get; } = new int[17];
        public byte[] Values { get; private init; } = [];
        public uint[] Codes { get; } = new uint[17];
        public int[] Sizes { get; } = new int[17];

        /// <summary>
        /// The optimal table for these frequencies, limited to 16-bit codes and with no code of all 1 bits (T.81 Annex
        /// K.2, Figures K.1 to K.4: a reserved symbol of frequency 1 takes the all-ones code and is then removed).
        /// </summary>
        public static HuffmanTable Optimal(ReadOnlySpan<long> frequencies)
        {
            const int reserved = 17;
            var freq = new long[18];
            frequencies.CopyTo(freq);
            freq[reserved] = 1;
            var codeSize = new int[18];
            var others = Enumerable.Repeat(-1, 18).ToArray();
            while (true)
            {
                // V1: the least frequency above zero (the larger symbol on ties), V2: the next least.
                int v1 = -1, v2 = -1;
                for (var i = 0; i < 18; i++)
                    if (freq[i] > 0 && (v1 < 0 || freq[i] <= freq[v1])) v1 = i;
                for (var i = 0; i < 18; i++)
                    if (freq[i] > 0 && i != v1 && (v2 < 0 || freq[i] <= freq[v2])) v2 = i;
                if (v2 < 0) break;
                freq[v1] += freq[v2];
                freq[v2] = 0;
                codeSize[v1]++;
                while (others[v1] >= 0) { v1 = others[v1]; codeSize[v1]++; }
                others[v1] = v2;
                codeSize[v2]++;
                while (others[v2] >= 0) { v2 = others[v2]; codeSize[v2]++; }
            }
            var bits = new int[33];
            for (var i = 0; i < 18; i++)
                if (codeSize[i] > 0) bits[codeSize[i]]++;
            // Adjust_BITS (K.3): no code longer than 16 bits.
            for (var i = 32; i > 16;)
            {
                if (bits[i] > 0)
                {
                    var j = i - 2;
                    while (bits[j] == 0) j--;
                    bits[i] -= 2;
                    bits[i - 1]++;
                    bits[j + 1] += 2;
                    bits[j]--;
                }
                else i--;
            }
            var longest = 16;
            while (bits[longest] == 0) longest--;
            bits[longest]--; // the reserved symbol's code goes
            // HUFFVAL (K.4): by code size, then by symbol.
            var values = Enumerable.Range(0, 17).Where(v => codeSize[v] > 0)
                .OrderBy(v => codeSize[v]).ThenBy(v => v).Select(v => (byte)v).ToArray();
            var table = new HuffmanTable { Values = values };
            Array.Copy(bits, table.Bits, 17);
            // Generate_size_table and Generate_code_table (C.1, C.2): canonical codes in HUFFVAL order.
            uint code = 0;
            var k = 0;
            for (var length = 1; length <= 16; length++)
            {
                for (var n = 0; n < table.Bits[length]; n++, k++)
                {
                    table.Codes[values[k]] = code++;
                    table.Sizes[values[k]] = length;
                }
                code <<= 1;
            }
            return table;
        }
    }
}
