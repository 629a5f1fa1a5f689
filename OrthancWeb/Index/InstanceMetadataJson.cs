using System.Buffers;
using System.IO.Compression;
using System.Text;
using System.Text.Json;
using OrthancWeb.Dicom.Data;
using OrthancWeb.Dicom.IO;
using OrthancWeb.Dicom.Json;

namespace OrthancWeb.Index;

/// <summary>
/// Builds and reads the <see cref="InstanceJson"/> rows. Binary values longer than <see cref="InlineLimit"/>, and the
/// pixel data always, are left out as a BulkDataURI (PS3.18 F.2.7) that is stored relative ("studies/…/bulk/7FE00010");
/// the origin the client used is put in front when the JSON is served, since one server answers under several names.
/// </summary>
public static class InstanceMetadataJson
{
    /// <summary>Binary values up to this length are kept inline (base64): a few hundred bytes cost less than a round trip.</summary>
    public const int InlineLimit = 256;

    /// <summary>What the writer puts before each stored BulkDataURI, followed by the relative URI (no spaces: not indented).</summary>
    public static ReadOnlySpan<byte> BulkDataUriPrefix => "\"BulkDataURI\":\""u8;

    /// <summary>The deflated JSON of a header read up to the pixel data (<see cref="DicomFile.StoppedBeforeTag"/>).</summary>
    public static byte[] Encode(DicomFile header)
    {
        var ds = header.Dataset;
        var bulk = $"studies/{ds.GetStringOrEmpty(DicomTags.StudyInstanceUID)}/series/{ds.GetStringOrEmpty(DicomTags.SeriesInstanceUID)}" +
                   $"/instances/{ds.GetStringOrEmpty(DicomTags.SOPInstanceUID)}/bulk/";
        var model = new DicomJsonModel
        {
            BulkDataLocation = (location, item) =>
                item is DicomFragmentSequence || item.Tag == DicomTags.PixelData || item is DicomElement { Length: > InlineLimit } ? bulk + location : null,
        };
        // The header stops before the pixel data: announce them (their VR as stored, PS3.5 8.2) without reading them.
        // Only when it stopped at Pixel Data itself: trailing padding or a signature past 7FE0 is no image (an SR's, a KO's).
        var announce = header.StoppedAt == DicomTags.PixelData && !ds.Contains(DicomTags.PixelData);
        if (announce)
            ds.AddBytes(DicomTags.PixelData, header.TransferSyntax.IsEncapsulated || ds.GetValueOrDefault<int>(DicomTags.BitsAllocated, 0, 8) <= 8 ? DicomVR.OB : DicomVR.OW, ReadOnlyMemory<byte>.Empty);
        try
        {
            using var compressed = new MemoryStream();
            using (var deflate = new DeflateStream(compressed, CompressionLevel.Fastest, leaveOpen: true))
            using (var writer = new Utf8JsonWriter(deflate))
                model.Write(writer, ds, []);
            return compressed.ToArray();
        }
        finally
        {
            if (announce) ds.Remove(DicomTags.PixelData);
        }
    }

    /// <summary>The JSON object of a row, BulkDataURIs made absolute under <paramref name="dicomWebRoot"/> ("https://host/dicom-web/").</summary>
    public static void WriteTo(IBufferWriter<byte> output, byte[] data, ReadOnlySpan<byte> dicomWebRoot)
    {
        using var inflate = new DeflateStream(new MemoryStream(data, writable: false), CompressionMode.Decompress);
        using var json = new MemoryStream(data.Length * 4);
        inflate.CopyTo(json);
        var rest = json.GetBuffer().AsSpan(0, (int)json.Length);
        while (true)
        {
            var at = rest.IndexOf(BulkDataUriPrefix);
            if (at < 0) { output.Write(rest); return; }
            var end = at + BulkDataUriPrefix.Length;
            output.Write(rest[..end]);
            output.Write(dicomWebRoot);
            rest = rest[end..];
        }
    }

    /// <summary>The row as a data set (BulkDataURI values left empty): for matching and for attributes beyond the main tags.</summary>
    public static DicomDataset Decode(byte[] data)
    {
        var buffer = new ArrayBufferWriter<byte>(data.Length * 4);
        WriteTo(buffer, data, ""u8);
        return new DicomJsonModel().Deserialize(Encoding.UTF8.GetString(buffer.WrittenSpan));
    }
}
