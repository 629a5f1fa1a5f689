using System.Buffers.Binary;
using OrthancWeb.Dicom.Data;
using OrthancWeb.Dicom.IO;

namespace OrthancWeb.Dicom.Imaging;

/// <summary>
/// The frames of a data set's pixel data, still encoded as stored: slices of native pixel data, or the fragments
/// of encapsulated pixel data grouped into frames by the Extended or Basic Offset Table, or by one fragment per
/// frame when there is none (PS3.5 §A.4).
/// </summary>
public sealed class FrameSource
{
    private readonly DicomItem _pixelData;
    private List<ReadOnlyMemory<byte>>? _encapsulatedFrames;

    public FrameSource(DicomDataset dataset, TransferSyntax syntax)
    {
        Dataset = dataset;
        Syntax = syntax;
        Info = PixelDataInfo.From(dataset);
        _pixelData = dataset[DicomTags.PixelData] ?? dataset[DicomTags.FloatPixelData] ?? dataset[DicomTags.DoubleFloatPixelData]
            ?? (ElscintPmsctRle1.Applies(dataset) ? ElscintPmsctRle1.ToPixelData(dataset, Info) : null)
            ?? throw new ImagingException("the instance has no pixel data");
        if (_pixelData.Tag != DicomTags.PixelData)
            Info = Info with { IsFloat = true, BitsAllocated = _pixelData.Tag == DicomTags.FloatPixelData ? 32 : 64, BitsStored = _pixelData.Tag == DicomTags.FloatPixelData ? 32 : 64 };
    }

    public DicomDataset Dataset { get; }
    public TransferSyntax Syntax { get; }
    public PixelDataInfo Info { get; }
    public bool IsEncapsulated => _pixelData is DicomFragmentSequence;

    /// <summary>
    /// 32-bit samples of big-endian OW pixel data: the reader swapped them as 16-bit words (OW's unit), so each
    /// sample's two halves are still in big-endian order (PS3.5 7.3 and A.3: a sample is a whole 32-bit value).
    /// </summary>
    internal bool HasSwappedWords => Syntax.IsBigEndian && Info.BitsAllocated == 32 && _pixelData is DicomElement { VR: var vr } && vr == DicomVR.OW;

    public int FrameCount => _pixelData switch
    {
        DicomFragmentSequence => EncapsulatedFrames().Count,
        _ => Info.NumberOfFrames,
    };

    /// <summary>The encoded bytes of frame <paramref name="index"/> (0-based).</summary>
    public ReadOnlyMemory<byte> GetFrame(int index)
    {
        if (index < 0 || index >= FrameCount)
            throw new ImagingException($"frame {index} does not exist (the instance has {FrameCount})", failure: ImagingFailure.NoSuchFrame);
        if (_pixelData is DicomFragmentSequence)
            return EncapsulatedFrames()[index];
        var all = ((DicomElement)_pixelData).Buffer.Memory;
        var length = Info.FrameLength;
        if (Info.BitsAllocated == 1 && index > 0)
        {
            // 1-bit frames need not start on a byte boundary (PS3.5 §8.1.1): extract bit by bit.
            var bitOffset = (long)index * Info.Rows * Info.Columns * Info.SamplesPerPixel;
            var bits = (long)Info.Rows * Info.Columns * Info.SamplesPerPixel;
            if ((bitOffset + bits + 7) / 8 > all.Length) throw new ImagingException("pixel data is shorter than Rows x Columns x frames says");
            var frame = new byte[(bits + 7) / 8];
            var src = all.Span;
            for (long b = 0; b < bits; b++)
                if ((src[(int)((bitOffset + b) >> 3)] >> (int)((bitOffset + b) & 7) & 1) != 0)
                    frame[b >> 3] |= (byte)(1 << (int)(b & 7));
            return frame;
        }
        var offset = index * length;
        if (offset + length > all.Length)
            throw new ImagingException($"pixel data holds {all.Length} bytes, frame {index} needs bytes {offset} to {offset + length}");
        return all.Slice((int)offset, (int)length);
    }

    /// <summary>
    /// Where frame <paramref name="index"/> of native pixel data lies in its file, when its bytes there are the frame as
    /// is (not loaded, not swapped, whole bytes): a server can then copy the range to a client without loading it.
    /// </summary>
    public bool TryGetFrameRange(int index, out string path, out long offset, out long length)
    {
        (path, offset, length) = ("", 0, 0);
        if (index < 0 || index >= FrameCount || Info.BitsAllocated == 1 || HasSwappedWords
            || _pixelData is not DicomElement { Buffer: FileRangeBuffer { IsVerbatim: true } range }) return false;
        (path, offset, length) = (range.Path, range.Offset + index * Info.FrameLength, Info.FrameLength);
        return offset - range.Offset + length <= range.Length;
    }

    private List<ReadOnlyMemory<byte>> EncapsulatedFrames()
    {
        if (_encapsulatedFrames is not null) return _encapsulatedFrames;
        var seq = (DicomFragmentSequence)_pixelData;
        var fragments = seq.Fragments.Select(f => f.Memory).ToList();
        var frames = new List<ReadOnlyMemory<byte>>();
        var expected = Info.NumberOfFrames;
        var offsets = new List<long>();
        if (Dataset.GetBytes(DicomTags.ExtendedOffsetTable) is { Length: > 0 } eot)
        {
            for (var i = 0; i + 8 <= eot.Length; i += 8) offsets.Add((long)BinaryPrimitives.ReadUInt64LittleEndian(eot.Span[i..]));
        }
        else if (seq.OffsetTable.Length >= 4)
        {
            var bot = seq.OffsetTable.Memory.Span;
            for (var i = 0; i + 4 <= bot.Length; i += 4) offsets.Add(BinaryPrimitives.ReadUInt32LittleEndian(bot[i..]));
        }
        if (offsets.Count > 0)
        {
            // Offsets count bytes from the first fragment's item tag: 8 bytes of item header per fragment.
            var starts = new List<long>();
            long position = 0;
            foreach (var f in fragments) { starts.Add(position); position += 8 + f.Length; }
            for (var k = 0; k < offsets.Count; k++)
            {
                var first = starts.IndexOf(offsets[k]);
                var last = k + 1 < offsets.Count ? starts.IndexOf(offsets[k + 1]) : fragments.Count;
                if (first < 0 || last < first) throw new ImagingException("the offset table does not point at fragment boundaries");
                frames.Add(Join(fragments.GetRange(first, last - first)));
            }
        }
        else if (fragments.Count == expected || expected == 1)
        {
            // No offset table: one fragment per frame, or every fragment for a single frame.
            if (expected == 1) frames.Add(Join(fragments));
            else frames.AddRange(fragments);
        }
        else
        {
            // Several fragments per frame and no table: split at the codec's start markers (JPEG SOI FFD8, J2K FF4F).
            var current = new List<ReadOnlyMemory<byte>>();
            foreach (var f in fragments)
            {
                var s = f.Span;
                var starts = s.Length >= 2 && s[0] == 0xFF && (s[1] == 0xD8 || s[1] == 0x4F);
                if (starts && current.Count > 0) { frames.Add(Join(current)); current.Clear(); }
                current.Add(f);
            }
            if (current.Count > 0) frames.Add(Join(current));
        }
        return _encapsulatedFrames = frames;
    }

    private static ReadOnlyMemory<byte> Join(List<ReadOnlyMemory<byte>> parts)
    {
        if (parts.Count == 1) return parts[0];
        var total = parts.Sum(p => p.Length);
        var joined = new byte[total];
        var o = 0;
        foreach (var p in parts) { p.CopyTo(joined.AsMemory(o)); o += p.Length; }
        return joined;
    }
}
