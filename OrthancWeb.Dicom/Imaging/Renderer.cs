using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using OrthancWeb.Dicom.Data;

namespace OrthancWeb.Dicom.Imaging;

/// <summary>How to turn a frame into an 8-bit picture.</summary>
public sealed record RenderOptions
{
    public double? WindowCenter { get; init; }
    public double? WindowWidth { get; init; }
    /// <summary>Which window of the file when it lists several (0-based); ignored when explicit values are given.</summary>
    public int WindowIndex { get; init; }
    /// <summary>The box to fit the image in (aspect ratio kept); enlarging stops at <see cref="Renderer.MaximumSide"/>.</summary>
    public int? Width { get; init; }
    public int? Height { get; init; }
    public bool Smooth { get; init; } = true;
}

/// <summary>An 8-bit picture: 1 channel (grey) or 3 (RGB), rows top to bottom.</summary>
public sealed record RenderedImage(int Width, int Height, int Channels, byte[] Pixels);

/// <summary>
/// The grayscale and color pipelines of PS3.4 Annex N: stored values, modality LUT (rescale), VOI LUT (window),
/// MONOCHROME1 inversion; palette and YBR conversion to RGB; then resizing.
/// </summary>
public static class Renderer
{
    /// <summary>
    /// The longest side an image is enlarged to. A requested size is a box the client names (/rendered?width=46000
    /// would allocate 2 GB for one picture), so upscaling stops here; an image already larger is never enlarged, and
    /// shrinking is not limited. 4096 px covers a 4K screen and any use of an enlarged preview.
    /// </summary>
    public const int MaximumSide = 4096;

    public static RenderedImage Render(DecodedFrame frame, DicomDataset ds, RenderOptions options)
    {
        var info = frame.Info;
        RenderedImage image = frame.Photometric switch
        {
            "MONOCHROME1" or "MONOCHROME2" => RenderGrey(frame, ds, options),
            "PALETTE COLOR" => RenderPalette(frame, ds),
            "RGB" or "YBR_FULL" or "YBR_FULL_422" or "YBR_RCT" or "YBR_ICT" or "YBR_PARTIAL_422" => RenderColor(frame),
            _ => throw new ImagingException($"photometric interpretation {frame.Photometric} is not supported"),
        };
        return Resize(image, options);
    }

    /// <summary>Stored values of a monochrome frame as modality values (rescale slope and intercept applied).</summary>
    public static double[] ModalityValues(DecodedFrame frame, DicomDataset ds)
    {
        var info = frame.Info;
        var count = info.Rows * info.Columns;
        var data = frame.Data;
        var values = new double[count];
        var slope = ds.GetValueOrDefault(DicomTags.RescaleSlope, 0, 1.0);
        var intercept = ds.GetValueOrDefault(DicomTags.RescaleIntercept, 0, 0.0);
        if (slope == 0) slope = 1;
        if (info.IsFloat)
        {
            // Float and double pixel data carry real values already (PS3.3 §C.7.6.24): no rescale.
            for (var i = 0; i < count; i++)
                values[i] = info.BitsAllocated == 32 ? BitConverter.ToSingle(data, i * 4) : BitConverter.ToDouble(data, i * 8);
            return values;
        }
        var modalityLut = ds.GetSequence(DicomTags.ModalityLUTSequence)?.Items.FirstOrDefault() is { } item ? DataLut.From(item) : null;
        var bits = info.BitsStored;
        var mask = bits >= 32 ? uint.MaxValue : (1u << bits) - 1;
        var signBit = bits >= 32 ? 0x80000000u : 1u << (bits - 1);
        var bps = info.BytesPerSample;
        var step = bps * info.SamplesPerPixel;
        for (var i = 0; i < count; i++)
        {
            var at = i * step;
            if (at + bps > data.Length) throw new ImagingException("pixel data is shorter than Rows x Columns says");
            uint raw = bps switch
            {
                1 => data[at],
                2 => (uint)(data[at] | data[at + 1] << 8),
                _ => BitConverter.ToUInt32(data, at),
            };
            raw = (raw >> (info.HighBit + 1 - bits)) & mask;
            double v = info.IsSigned && (raw & signBit) != 0 ? (long)raw - ((long)mask + 1) : raw;
            values[i] = modalityLut is not null ? modalityLut.Map((int)v) : v * slope + intercept;
        }
        return values;
    }

    private static RenderedImage RenderGrey(DecodedFrame frame, DicomDataset ds, RenderOptions o)
    {
        var info = frame.Info;
        if (info.BitsStored > 16 || info.BytesPerSample > 2 || info.IsFloat || ds.Contains(DicomTags.ModalityLUTSequence)
            || (o.WindowCenter is null && !ds.Contains(DicomTags.WindowWidth) && ds.Contains(DicomTags.VOILUTSequence)))
            return RenderGreyGeneral(frame, ds, o);
        // Up to 16 bits stored: one lookup table from stored value to output byte (modality, VOI and MONOCHROME1
        // inversion folded in) over the range the frame uses, found by a first pass; then one lookup per pixel.
        var count = info.Rows * info.Columns;
        var data = frame.Data;
        var bits = info.BitsStored;
        var mask = (1 << bits) - 1;
        var shift = info.HighBit + 1 - bits;
        var signBit = info.IsSigned ? 1 << (bits - 1) : 0; // (raw ^ signBit) - signBit extends the sign; 0 leaves raw alone
        var bps = info.BytesPerSample;
        var step = bps * info.SamplesPerPixel;
        if ((long)(count - 1) * step + bps > data.Length) throw new ImagingException("pixel data is shorter than Rows x Columns says");
        // 16-bit grey, the usual CT and MR frame, is read as a span of words: no per-pixel width test or bounds check.
        var words = bps == 2 && step == 2 && BitConverter.IsLittleEndian ? MemoryMarshal.Cast<byte, ushort>(data.AsSpan(0, count * 2)) : default;
        int min = int.MaxValue, max = int.MinValue;
        if (!words.IsEmpty)
            foreach (var w in words)
            {
                var v = (((w >> shift) & mask) ^ signBit) - signBit;
                min = Math.Min(min, v);
                max = Math.Max(max, v);
            }
        else
            for (var i = 0; i < count; i++)
            {
                var v = Stored(data, i * step, bps, shift, mask, signBit);
                min = Math.Min(min, v);
                max = Math.Max(max, v);
            }
        var slope = ds.GetValueOrDefault(DicomTags.RescaleSlope, 0, 1.0);
        if (slope == 0) slope = 1;
        var intercept = ds.GetValueOrDefault(DicomTags.RescaleIntercept, 0, 0.0);
        var (center, width) = Window(ds, o, () => (min * slope + intercept, max * slope + intercept));
        var invert = frame.Photometric == "MONOCHROME1";
        var lut = new byte[max - min + 1];
        for (var v = min; v <= max; v++)
        {
            var b = Voi(v * slope + intercept, center, width);
            lut[v - min] = invert ? (byte)(255 - b) : b;
        }
        var pixels = new byte[count];
        if (!words.IsEmpty)
        {
            // Every value is within [min, max], so the index is within the table.
            ref var table = ref MemoryMarshal.GetArrayDataReference(lut);
            for (var i = 0; i < words.Length; i++)
                pixels[i] = Unsafe.Add(ref table, ((((words[i] >> shift) & mask) ^ signBit) - signBit) - min);
        }
        else
            for (var i = 0; i < count; i++) pixels[i] = lut[Stored(data, i * step, bps, shift, mask, signBit) - min];
        return new RenderedImage(info.Columns, info.Rows, 1, pixels);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Stored(byte[] data, int at, int bps, int shift, int mask, int signBit)
    {
        var raw = ((bps == 1 ? data[at] : data[at] | data[at + 1] << 8) >> shift) & mask;
        return (raw ^ signBit) - signBit;
    }

    /// <summary>Explicit window, else the file's (chosen by index), else the full range of the values.</summary>
    private static (double Center, double Width) Window(DicomDataset ds, RenderOptions o, Func<(double Min, double Max)> range)
    {
        if (o.WindowCenter is { } c && o.WindowWidth is { } w && w > 0) return (c, w);
        if (ds.GetValues<double>(DicomTags.WindowCenter) is { Length: > 0 } centers && ds.GetValues<double>(DicomTags.WindowWidth) is { Length: > 0 } widths
            && widths[Math.Min(o.WindowIndex, widths.Length - 1)] > 0)
            return (centers[Math.Min(o.WindowIndex, centers.Length - 1)], widths[Math.Min(o.WindowIndex, widths.Length - 1)]);
        var (min, max) = range();
        return ((min + max) / 2, Math.Max(1, max - min));
    }

    /// <summary>The LINEAR VOI function (PS3.3 §C.11.2.1.2.1) to 0..255.</summary>
    private static byte Voi(double x, double center, double width)
    {
        var low = center - 0.5 - (width - 1) / 2;
        var high = center - 0.5 + (width - 1) / 2;
        double y = x <= low ? 0 : x > high ? 255 : ((x - (center - 0.5)) / (width - 1) + 0.5) * 255;
        return (byte)Math.Clamp((int)Math.Round(y), 0, 255);
    }

    private static RenderedImage RenderGreyGeneral(DecodedFrame frame, DicomDataset ds, RenderOptions o)
    {
        var info = frame.Info;
        var values = ModalityValues(frame, ds);
        // VOI LUT Sequence (PS3.3 §C.11.2) when no window is given or stored: its output range scaled to 8 bits.
        if (o.WindowCenter is null && !ds.Contains(DicomTags.WindowWidth)
            && ds.GetSequence(DicomTags.VOILUTSequence)?.Items.ElementAtOrDefault(o.WindowIndex) is { } voiItem)
        {
            var voi = DataLut.From(voiItem);
            var invertVoi = frame.Photometric == "MONOCHROME1";
            var outMax = Math.Max(1, (1 << voi.Bits) - 1);
            var result = new byte[values.Length];
            for (var i = 0; i < values.Length; i++)
            {
                var b = (byte)Math.Clamp((int)Math.Round(voi.Map((int)Math.Round(values[i])) * 255.0 / outMax), 0, 255);
                result[i] = invertVoi ? (byte)(255 - b) : b;
            }
            return new RenderedImage(info.Columns, info.Rows, 1, result);
        }
        var (center, width) = Window(ds, o, () =>
        {
            double min = double.MaxValue, max = double.MinValue;
            foreach (var v in values) { if (v < min) min = v; if (v > max) max = v; }
            return (min, max);
        });
        var invert = frame.Photometric == "MONOCHROME1";
        var pixels = new byte[values.Length];
        for (var i = 0; i < values.Length; i++)
        {
            var b = Voi(values[i], center, width);
            pixels[i] = invert ? (byte)(255 - b) : b;
        }
        return new RenderedImage(info.Columns, info.Rows, 1, pixels);
    }

    private static RenderedImage RenderColor(DecodedFrame frame)
    {
        var info = frame.Info;
        var count = info.Rows * info.Columns;
        var rgb = new byte[count * 3];
        var data = frame.Data;
        var shift = Math.Max(0, info.BitsStored - 8);
        byte Sample(int index) => info.BytesPerSample == 1 ? data[index] : (byte)((data[index * 2] | data[index * 2 + 1] << 8) >> shift);
        if (frame.Photometric == "YBR_FULL_422" && info.BytesPerSample == 1 && data.Length >= count * 2 && data.Length < count * 3)
        {
            // Native 4:2:2: Y1 Y2 Cb Cr for each pair of pixels (PS3.3 §C.7.6.3.1.2).
            for (var p = 0; p + 1 < count; p += 2)
            {
                var at = p * 2;
                Ybr(data[at], data[at + 2], data[at + 3], rgb, p * 3);
                Ybr(data[at + 1], data[at + 2], data[at + 3], rgb, p * 3 + 3);
            }
            return new RenderedImage(info.Columns, info.Rows, 3, rgb);
        }
        if (data.Length < count * 3 * info.BytesPerSample) throw new ImagingException("pixel data is shorter than Rows x Columns x 3 says");
        var ybr = frame.Photometric is "YBR_FULL" or "YBR_FULL_422" or "YBR_PARTIAL_422";
        for (var p = 0; p < count; p++)
        {
            if (ybr) Ybr(Sample(p * 3), Sample(p * 3 + 1), Sample(p * 3 + 2), rgb, p * 3);
            else
            {
                rgb[p * 3] = Sample(p * 3);
                rgb[p * 3 + 1] = Sample(p * 3 + 1);
                rgb[p * 3 + 2] = Sample(p * 3 + 2);
            }
        }
        return new RenderedImage(info.Columns, info.Rows, 3, rgb);
    }

    private static void Ybr(byte y, byte cb, byte cr, byte[] rgb, int at)
    {
        double Y = y, Cb = cb - 128, Cr = cr - 128;
        rgb[at] = (byte)Math.Clamp((int)Math.Round(Y + 1.402 * Cr), 0, 255);
        rgb[at + 1] = (byte)Math.Clamp((int)Math.Round(Y - 0.344136 * Cb - 0.714136 * Cr), 0, 255);
        rgb[at + 2] = (byte)Math.Clamp((int)Math.Round(Y + 1.772 * Cb), 0, 255);
    }

    /// <summary>PALETTE COLOR: stored values index the Red/Green/Blue Palette Color LUTs (PS3.3 §C.7.6.3.1.5-6).</summary>
    private static RenderedImage RenderPalette(DecodedFrame frame, DicomDataset ds)
    {
        var info = frame.Info;
        var luts = new[] { (DicomTags.RedPaletteColorLookupTableDescriptor, DicomTags.RedPaletteColorLookupTableData),
                           (DicomTags.GreenPaletteColorLookupTableDescriptor, DicomTags.GreenPaletteColorLookupTableData),
                           (DicomTags.BluePaletteColorLookupTableDescriptor, DicomTags.BluePaletteColorLookupTableData) }
            .Select(t => Lut.FromDataset(ds, t.Item1, t.Item2)).ToArray();
        var count = info.Rows * info.Columns;
        var rgb = new byte[count * 3];
        var data = frame.Data;
        for (var p = 0; p < count; p++)
        {
            var index = info.BytesPerSample == 1 ? data[p] : data[p * 2] | data[p * 2 + 1] << 8;
            for (var c = 0; c < 3; c++) rgb[p * 3 + c] = luts[c].Lookup8(index);
        }
        return new RenderedImage(info.Columns, info.Rows, 3, rgb);
    }

    private sealed record Lut(int Entries, int FirstMapped, int Bits, ushort[] Data)
    {
        public static Lut FromDataset(DicomDataset ds, DicomTag descriptor, DicomTag dataTag)
        {
            var d = ds.GetValues<int>(descriptor);
            if (d.Length < 3) throw new ImagingException("palette color LUT descriptor missing");
            var entries = d[0] == 0 ? 65536 : d[0];
            var bytes = ds.GetBytes(dataTag).Span;
            var segmentedTag = new DicomTag(dataTag.Group, (ushort)(dataTag.Element + 0x20)); // (0028,1221-1223)
            if (bytes.Length == 0 && ds.GetBytes(segmentedTag) is { Length: > 0 } segmented)
                return new Lut(entries, d[1], d[2], ExpandSegmented(segmented.Span, entries));
            if (bytes.Length == 0) throw new ImagingException("palette color LUT data missing");
            var data = new ushort[entries];
            if (d[2] == 8 && bytes.Length == entries)
                for (var i = 0; i < entries; i++) data[i] = bytes[i];
            else
                for (var i = 0; i < entries && 2 * i + 1 < bytes.Length; i++) data[i] = (ushort)(bytes[2 * i] | bytes[2 * i + 1] << 8);
            return new Lut(entries, d[1], d[2], data);
        }

        /// <summary>Segmented palette data (PS3.3 §C.7.9.2): discrete, linear and indirect segments of 16-bit words.</summary>
        private static ushort[] ExpandSegmented(ReadOnlySpan<byte> bytes, int entries)
        {
            var words = new ushort[bytes.Length / 2];
            for (var i = 0; i < words.Length; i++) words[i] = (ushort)(bytes[2 * i] | bytes[2 * i + 1] << 8);
            var output = new List<ushort>(entries);
            Expand(words, 0, words.Length, output, 0);
            if (output.Count < entries) output.AddRange(Enumerable.Repeat(output.Count > 0 ? output[^1] : (ushort)0, entries - output.Count));
            return output.Take(entries).ToArray();
        }

        private static void Expand(ushort[] words, int start, int end, List<ushort> output, int depth)
        {
            if (depth > 4) throw new ImagingException("segmented palette nests indirect segments too deeply");
            var i = start;
            while (i + 1 < end)
            {
                var opcode = words[i];
                var length = words[i + 1];
                switch (opcode)
                {
                    case 0: // discrete: the next `length` words are values
                        for (var k = 0; k < length && i + 2 + k < end; k++) output.Add(words[i + 2 + k]);
                        i += 2 + length;
                        break;
                    case 1: // linear: from the last value to words[i+2] over `length` entries
                        var y0 = output.Count > 0 ? output[^1] : 0;
                        var y1 = i + 2 < end ? words[i + 2] : y0;
                        for (var k = 1; k <= length; k++) output.Add((ushort)Math.Round(y0 + (y1 - y0) * (double)k / length));
                        i += 3;
                        break;
                    case 2: // indirect: repeat `length` segments starting at a 32-bit word offset
                        if (i + 3 >= end) throw new ImagingException("truncated indirect segment");
                        var offset = words[i + 2] | words[i + 3] << 16;
                        var pos = offset;
                        for (var k = 0; k < length && pos + 1 < words.Length; k++)
                        {
                            var segEnd = pos + (words[pos] == 0 ? 2 + words[pos + 1] : words[pos] == 1 ? 3 : 4);
                            Expand(words, pos, Math.Min(segEnd, words.Length), output, depth + 1);
                            pos = segEnd;
                        }
                        i += 4;
                        break;
                    default:
                        throw new ImagingException($"unknown segmented palette opcode {opcode}");
                }
                if (output.Count > 65536) throw new ImagingException("segmented palette expands past 65536 entries");
            }
        }

        public byte Lookup8(int value)
        {
            var i = Math.Clamp(value - FirstMapped, 0, Entries - 1);
            return Bits > 8 ? (byte)(Data[i] >> (Bits - 8)) : (byte)Data[i];
        }
    }

    /// <summary>A LUT item (Modality or VOI LUT Sequence): descriptor [entries, first value mapped, bits] and data.</summary>
    private sealed record DataLut(int Entries, int FirstMapped, int Bits, int[] Data)
    {
        public static DataLut From(DicomDataset item)
        {
            var d = item.GetValues<int>(DicomTags.LUTDescriptor);
            if (d.Length < 3) throw new ImagingException("LUT Descriptor missing");
            var entries = d[0] == 0 ? 65536 : d[0];
            var bytes = item.GetBytes(DicomTags.LUTData).Span;
            var data = new int[entries];
            var eightBitData = bytes.Length == entries && d[2] <= 8;
            for (var i = 0; i < entries; i++)
                data[i] = eightBitData ? bytes[i] : 2 * i + 1 < bytes.Length ? bytes[2 * i] | bytes[2 * i + 1] << 8 : 0;
            return new DataLut(entries, d[1], d[2], data);
        }

        public int Map(int value) => Data[Math.Clamp(value - FirstMapped, 0, Entries - 1)];
    }

    private static RenderedImage Resize(RenderedImage image, RenderOptions o)
    {
        if (o.Width is null && o.Height is null) return image;
        var (w0, h0) = (image.Width, image.Height);
        // Keep the aspect ratio within the box asked for (Orthanc's /rendered semantics).
        var scale = Math.Min(o.Width is { } w && w > 0 ? (double)w / w0 : double.MaxValue, o.Height is { } h && h > 0 ? (double)h / h0 : double.MaxValue);
        if (scale == double.MaxValue) return image;
        scale = Math.Min(scale, Math.Max(1.0, (double)MaximumSide / Math.Max(w0, h0)));
        var nw = Math.Max(1, (int)Math.Round(w0 * scale));
        var nh = Math.Max(1, (int)Math.Round(h0 * scale));
        var ch = image.Channels;
        var src = image.Pixels;
        var dst = new byte[nw * nh * ch];
        for (var y = 0; y < nh; y++)
        {
            var sy = (y + 0.5) / scale - 0.5;
            for (var x = 0; x < nw; x++)
            {
                var sx = (x + 0.5) / scale - 0.5;
                for (var c = 0; c < ch; c++)
                {
                    double v;
                    if (o.Smooth)
                    {
                        int x0 = Math.Clamp((int)Math.Floor(sx), 0, w0 - 1), y0 = Math.Clamp((int)Math.Floor(sy), 0, h0 - 1);
                        int x1 = Math.Min(x0 + 1, w0 - 1), y1 = Math.Min(y0 + 1, h0 - 1);
                        double fx = Math.Clamp(sx - x0, 0, 1), fy = Math.Clamp(sy - y0, 0, 1);
                        v = (src[(y0 * w0 + x0) * ch + c] * (1 - fx) + src[(y0 * w0 + x1) * ch + c] * fx) * (1 - fy)
                          + (src[(y1 * w0 + x0) * ch + c] * (1 - fx) + src[(y1 * w0 + x1) * ch + c] * fx) * fy;
                    }
                    else
                        v = src[(Math.Clamp((int)Math.Round(sy), 0, h0 - 1) * w0 + Math.Clamp((int)Math.Round(sx), 0, w0 - 1)) * ch + c];
                    dst[(y * nw + x) * ch + c] = (byte)Math.Clamp((int)Math.Round(v), 0, 255);
                }
            }
        }
        return new RenderedImage(nw, nh, ch, dst);
    }
}
