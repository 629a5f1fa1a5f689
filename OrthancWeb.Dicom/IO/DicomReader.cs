using System.Buffers.Binary;
using OrthancWeb.Dicom.Data;

namespace OrthancWeb.Dicom.IO;

/// <summary>
/// Decodes data sets (PS3.5 §7) and Part 10 files (PS3.10 §7). Every malformed input ends in a
/// <see cref="DicomReadException"/> with the byte offset; lengths are checked against the data present before
/// anything is allocated, so a lying length cannot make the reader allocate more than the input's size.
/// </summary>
public sealed class DicomReader
{
    private static readonly DicomTag PixelData = DicomTags.PixelData;
    private readonly DicomReadOptions _options;
    private readonly ByteSource _source;

    /// <summary>True when top-level reading ended at <see cref="DicomReadOptions.StopBeforeTag"/>, not at the end of data.</summary>
    private bool StoppedBeforeTag { get; set; }
    private DicomTag? StoppedAt { get; set; }
    private long? StoppedAtOffset { get; set; }

    private DicomReader(ByteSource source, DicomReadOptions options)
    {
        _source = source;
        _options = options;
    }

    // ---- Part 10 ----

    public static DicomFile ReadFile(string path, DicomReadOptions? options = null)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan);
        return ReadFile(stream, options);
    }

    public static DicomFile ReadFile(Stream stream, DicomReadOptions? options = null)
    {
        options ??= DicomReadOptions.Default;
        var bufferSize = options.StopBeforeTag is not null ? 16 * 1024 : 64 * 1024;
        return ReadFile(new StreamSource(stream, bufferSize), options);
    }

    public static DicomFile ReadFile(ReadOnlyMemory<byte> bytes, DicomReadOptions? options = null) =>
        ReadFile(new MemorySource(bytes), options ?? DicomReadOptions.Default);

    private static DicomFile ReadFile(ByteSource source, DicomReadOptions options)
    {
        try
        {
            return ReadFileUnchecked(source, options);
        }
        catch (Exception ex) when (ex is not DicomReadException and not IOException and not OutOfMemoryException)
        {
            // Malformed input must surface as one exception type, whatever conversion it tripped over on the way.
            throw new DicomReadException(source.Position, ex.Message, ex);
        }
    }

    private static DicomFile ReadFileUnchecked(ByteSource source, DicomReadOptions options)
    {
        var file = new DicomFile();
        ReadPreambleAndMeta(source, options, file);
        var syntax = file.TransferSyntax;
        var body = source;
        if (syntax.IsDeflated)
        {
            // Deflate covers everything after the meta group (PS3.5 §A.5): raw deflate, no zlib header.
            body = new StreamSource(Inflate(source, options));
        }
        var reader = new DicomReader(body, options);
        reader.ReadDataset(file.Dataset, syntax, long.MaxValue, 0);
        file.StoppedBeforeTag = reader.StoppedBeforeTag;
        file.StoppedAt = reader.StoppedAt;
        file.StoppedAtOffset = reader.StoppedAtOffset;
        return file;
    }

    private static void ReadPreambleAndMeta(ByteSource source, DicomReadOptions options, DicomFile file)
    {
        Span<byte> head = stackalloc byte[132];
        var n = source.Peek(head);
        if (n == 132 && head[128] == 'D' && head[129] == 'I' && head[130] == 'C' && head[131] == 'M')
        {
            file.Preamble = head[..128].ToArray();
            source.Skip(132);
        }
        else if (n < 8)
            throw new DicomReadException(0, "too short to be a DICOM file");

        var meta = new DicomReader(source, options);
        Span<byte> tag = stackalloc byte[8];
        if (source.Peek(tag) >= 2 && BinaryPrimitives.ReadUInt16LittleEndian(tag) == 0x0002)
        {
            // File meta information: always explicit VR little endian (PS3.10 §7.1).
            meta.ReadDataset(file.FileMetaInfo, TransferSyntax.ExplicitVRLittleEndian, long.MaxValue, 0, stopAtGroup: 0x0002);
        }
        else if (file.Preamble is not null)
            throw new DicomReadException(source.Position, "no file meta information after the DICM prefix");

        var tsUid = file.FileMetaInfo.GetString(DicomTags.TransferSyntaxUID);
        file.TransferSyntax = string.IsNullOrEmpty(tsUid) ? GuessSyntax(source) : TransferSyntax.Lookup(tsUid);
    }

    /// <summary>The deflated rest of a source, inflated within the limits of the options (see <see cref="InflatingStream"/>).</summary>
    private static InflatingStream Inflate(ByteSource source, DicomReadOptions options) => source switch
    {
        MemorySource m => new InflatingStream(new ReadOnlyMemoryStream(m.Rest), options),
        StreamSource s => new InflatingStream(s.RestAsStream(), options),
        _ => throw new NotSupportedException(),
    };

    /// <summary>
    /// Inflates the whole body of a deflated Part 10 file without keeping it, so that a file whose header reads well
    /// (reading stopped before the pixel data) but whose rest inflates past the limits is refused before it is stored.
    /// Throws <see cref="DicomReadException"/> when the limits of <paramref name="options"/> are passed.
    /// </summary>
    public static void CheckInflation(string path, DicomReadOptions? options = null)
    {
        options ??= DicomReadOptions.Default;
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan);
        var source = new StreamSource(stream, 16 * 1024);
        var file = new DicomFile();
        try
        {
            ReadPreambleAndMeta(source, options, file);
            if (!file.TransferSyntax.IsDeflated) return;
            using var inflated = Inflate(source, options);
            var sink = new byte[64 * 1024];
            while (inflated.Read(sink) > 0) { }
        }
        catch (Exception ex) when (ex is not DicomReadException and not IOException and not OutOfMemoryException)
        {
            throw new DicomReadException(source.Position, ex.Message, ex);
        }
    }

    /// <summary>Files without meta information: explicit if bytes 4-5 name a VR, big endian if the group reads swapped.</summary>
    private static TransferSyntax GuessSyntax(ByteSource source)
    {
        Span<byte> b = stackalloc byte[8];
        if (source.Peek(b) < 8) throw new DicomReadException(source.Position, "too short to hold a data element");
        var explicitVR = DicomVR.FromBytes(b[4], b[5]) is not null;
        var groupLE = BinaryPrimitives.ReadUInt16LittleEndian(b);
        var groupBE = BinaryPrimitives.ReadUInt16BigEndian(b);
        if (explicitVR && groupBE < groupLE && groupBE is 0x0008 or 0x0002 or 0x0010 or 0x0018 or 0x0020 or 0x0028)
            return TransferSyntax.ExplicitVRBigEndian;
        return explicitVR ? TransferSyntax.ExplicitVRLittleEndian : TransferSyntax.ImplicitVRLittleEndian;
    }

    /// <summary>A bare data set (no preamble, no meta), e.g. the payload of a C-STORE, in the given syntax.</summary>
    public static DicomDataset ReadDataset(ReadOnlyMemory<byte> bytes, TransferSyntax syntax, DicomReadOptions? options = null)
    {
        var ds = new DicomDataset();
        options ??= DicomReadOptions.Default;
        ByteSource source = new MemorySource(bytes);
        if (syntax.IsDeflated)
            source = new StreamSource(new InflatingStream(new ReadOnlyMemoryStream(bytes), options));
        new DicomReader(source, options).ReadDataset(ds, syntax, long.MaxValue, 0);
        return ds;
    }

    public static DicomDataset ReadDataset(Stream stream, TransferSyntax syntax, DicomReadOptions? options = null)
    {
        var ds = new DicomDataset();
        options ??= DicomReadOptions.Default;
        Stream s = syntax.IsDeflated ? new InflatingStream(stream, options, leaveOpen: true) : stream;
        new DicomReader(new StreamSource(s), options).ReadDataset(ds, syntax, long.MaxValue, 0);
        return ds;
    }

    // ---- data sets ----

    /// <summary>
    /// Reads elements into <paramref name="ds"/> until <paramref name="end"/> (a defined length), an Item Delimitation
    /// Item (undefined-length items), or the end of input at top level.
    /// </summary>
    private void ReadDataset(DicomDataset ds, TransferSyntax ts, long end, int depth, int stopAtGroup = -1)
    {
        var big = ts.IsBigEndian;
        Span<byte> peek = stackalloc byte[4];
        var undefinedItem = end == -1;
        while (true)
        {
            if (!undefinedItem && _source.Position >= end)
            {
                if (_source.Position > end && depth > 0)
                    throw new DicomReadException(_source.Position, "element runs past the end of its item");
                return;
            }
            var got = _source.Peek(peek);
            if (got == 0)
            {
                if (depth == 0) return;
                throw new DicomReadException(_source.Position, "data ends inside a sequence item");
            }
            if (got < 4)
                throw new DicomReadException(_source.Position, $"{got} stray bytes after the last element");
            var group = big ? BinaryPrimitives.ReadUInt16BigEndian(peek) : BinaryPrimitives.ReadUInt16LittleEndian(peek);
            var element = big ? BinaryPrimitives.ReadUInt16BigEndian(peek[2..]) : BinaryPrimitives.ReadUInt16LittleEndian(peek[2..]);
            var tag = new DicomTag(group, element);
            if (stopAtGroup >= 0 && group != stopAtGroup) return;
            if (depth == 0 && _options.StopBeforeTag is { } stop && tag >= stop)
            {
                StoppedBeforeTag = true;
                StoppedAt = tag;
                StoppedAtOffset = _source.Position;
                return;
            }

            var tagOffset = _source.Position;
            _source.Skip(4);
            if (group == 0xFFFE)
            {
                var len = _source.ReadUInt32(big);
                if (tag == DicomTag.ItemDelimitationItem && undefinedItem)
                    return;
                throw new DicomReadException(tagOffset, $"unexpected delimiter {tag} in a data set");
            }

            var (vr, length) = ReadHeader(ds, tag, ts, tagOffset);
            var item = ReadValue(ds, tag, vr, length, ts, depth, tagOffset);
            if (!ds.Append(item) && _options.Strict)
                throw new DicomReadException(tagOffset, $"{tag} is out of order or repeated");
        }
    }

    private (DicomVR vr, uint length) ReadHeader(DicomDataset ds, DicomTag tag, TransferSyntax ts, long tagOffset)
    {
        if (!ts.IsExplicitVR)
            return (ImplicitVR(ds, tag), _source.ReadUInt32(false));
        Span<byte> code = stackalloc byte[2];
        _source.ReadExactly(code);
        var vr = DicomVR.FromBytes(code[0], code[1])
            ?? throw new DicomReadException(tagOffset + 4, $"unknown VR code 0x{code[0]:X2}{code[1]:X2} for {tag}");
        if (vr.HasLongLength)
        {
            _source.Skip(2); // reserved (PS3.5 §7.1.2)
            return (vr, _source.ReadUInt32(ts.IsBigEndian));
        }
        return (vr, _source.ReadUInt16(ts.IsBigEndian));
    }

    /// <summary>VR of an implicit-VR element from the dictionary (PS3.5 §7.1.3, Annex A.1 for the ambiguous ones).</summary>
    internal static DicomVR ImplicitVR(DicomDataset ds, DicomTag tag)
    {
        if (tag.IsPrivateCreator) return DicomVR.LO;
        if (tag.IsGroupLength) return DicomVR.UL;
        var entry = ds.FindEntry(tag);
        if (entry is null || entry.VRs.Count == 0) return DicomVR.UN;
        if (entry.VRs.Count == 1) return entry.VRs[0];
        if (entry.VRs.Contains(DicomVR.OW) && (entry.VRs.Contains(DicomVR.OB) || tag.Group is 0x7FE0 || tag.Element == 0x3006 || tag.Element is 0x1201 or 0x1202 or 0x1203))
            return DicomVR.OW;
        if (entry.VRs.Contains(DicomVR.US) && entry.VRs.Contains(DicomVR.SS))
            return ds.GetValueOrDefault<int>(DicomTags.PixelRepresentation, 0, 0) == 1 ? DicomVR.SS : DicomVR.US;
        return entry.VRs[0];
    }

    private DicomItem ReadValue(DicomDataset ds, DicomTag tag, DicomVR vr, uint length, TransferSyntax ts, int depth, long tagOffset)
    {
        var undefined = length == 0xFFFFFFFF;
        if (vr == DicomVR.SQ || (undefined && vr == DicomVR.UN && tag != PixelData) || (undefined && !ts.IsExplicitVR && tag != PixelData))
        {
            // UN with undefined length is a sequence in implicit VR little endian (PS3.5 §6.2.2 Note 5).
            var itemSyntax = vr == DicomVR.UN ? TransferSyntax.ImplicitVRLittleEndian : ts;
            return ReadSequence(tag, vr == DicomVR.UN && ts.IsExplicitVR ? DicomVR.UN : DicomVR.SQ, length, itemSyntax, depth, tagOffset);
        }
        if (undefined)
            return ReadFragments(tag, vr, ts, tagOffset);

        if (_source.Remaining is { } rem && length > rem)
            throw new DicomReadException(tagOffset, $"{tag} {vr} claims {length} bytes but only {rem} remain");
        if ((length & 1) == 1 && _options.Strict)
            throw new DicomReadException(tagOffset, $"{tag} has odd length {length}");

        var swapUnit = ts.IsBigEndian ? SwapUnit(vr) : 1;
        if (length >= _options.LazyThreshold && _source.ReadLazy(length, swapUnit) is { } lazy)
            return new DicomElement(tag, vr, lazy);
        var bytes = _source.ReadMemory((int)length);
        if (swapUnit > 1)
        {
            var copy = bytes.ToArray();
            DicomBuffer.Swap(copy, swapUnit);
            bytes = copy;
        }
        return new DicomElement(tag, vr, DicomBuffer.From(bytes));
    }

    internal static int SwapUnit(DicomVR vr) => vr == DicomVR.AT ? 2 : vr.Kind is VRKind.Binary or VRKind.Bytes && vr != DicomVR.OB && vr != DicomVR.UN ? vr.UnitSize : 1;

    private DicomSequence ReadSequence(DicomTag tag, DicomVR vr, uint length, TransferSyntax ts, int depth, long tagOffset)
    {
        if (depth + 1 > _options.MaxDepth)
            throw new DicomReadException(tagOffset, $"sequences nested deeper than {_options.MaxDepth}");
        var seq = new DicomSequence(tag) { UndefinedLength = length == 0xFFFFFFFF };
        seq.VR = vr;
        var end = seq.UndefinedLength ? long.MaxValue : _source.Position + length;
        if (!seq.UndefinedLength && _source.Remaining is { } rem && length > rem)
            throw new DicomReadException(tagOffset, $"sequence {tag} claims {length} bytes but only {rem} remain");
        var big = ts.IsBigEndian;
        while (_source.Position < end)
        {
            var itemOffset = _source.Position;
            if (_source.AtEnd)
                throw new DicomReadException(itemOffset, $"data ends inside sequence {tag}");
            var g = _source.ReadUInt16(big);
            var e = _source.ReadUInt16(big);
            var itemTag = new DicomTag(g, e);
            var itemLength = _source.ReadUInt32(big);
            if (itemTag == DicomTag.SequenceDelimitationItem)
            {
                if (seq.UndefinedLength) break;
                throw new DicomReadException(itemOffset, $"sequence delimiter inside defined-length sequence {tag}");
            }
            if (itemTag != DicomTag.Item)
                throw new DicomReadException(itemOffset, $"expected an item in sequence {tag}, found {itemTag}");
            var item = new DicomDataset { UndefinedLength = itemLength == 0xFFFFFFFF };
            if (!item.UndefinedLength && _source.Remaining is { } r && itemLength > r)
                throw new DicomReadException(itemOffset, $"item of {tag} claims {itemLength} bytes but only {r} remain");
            seq.Items.Add(item);
            ReadDataset(item, ts, item.UndefinedLength ? -1 : _source.Position + itemLength, depth + 1);
        }
        if (_source.Position > end)
            throw new DicomReadException(_source.Position, $"items overrun the length of sequence {tag}");
        return seq;
    }

    private DicomFragmentSequence ReadFragments(DicomTag tag, DicomVR vr, TransferSyntax ts, long tagOffset)
    {
        var fragments = new DicomFragmentSequence(tag, vr);
        var first = true;
        while (true)
        {
            var offset = _source.Position;
            if (_source.AtEnd)
                throw new DicomReadException(offset, $"data ends inside encapsulated {tag}");
            var g = _source.ReadUInt16(ts.IsBigEndian);
            var e = _source.ReadUInt16(ts.IsBigEndian);
            var t = new DicomTag(g, e);
            var len = _source.ReadUInt32(ts.IsBigEndian);
            if (t == DicomTag.SequenceDelimitationItem) return fragments;
            if (t != DicomTag.Item)
                throw new DicomReadException(offset, $"expected a fragment item in {tag}, found {t}");
            if (len == 0xFFFFFFFF)
                throw new DicomReadException(offset, "fragment with undefined length");
            if (_source.Remaining is { } rem && len > rem)
                throw new DicomReadException(offset, $"fragment claims {len} bytes but only {rem} remain");
            var buffer = len >= _options.LazyThreshold ? _source.ReadLazy(len, 1) : null;
            buffer ??= DicomBuffer.From(_source.ReadMemory((int)len));
            if (first) fragments.OffsetTable = buffer; else fragments.Fragments.Add(buffer);
            first = false;
        }
    }
}
