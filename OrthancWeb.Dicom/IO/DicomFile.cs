using OrthancWeb.Dicom.Data;

namespace OrthancWeb.Dicom.IO;

/// <summary>A Part 10 file (PS3.10 §7.1): optional preamble, file meta information, and the data set.</summary>
public sealed class DicomFile
{
    public DicomFile() { }

    public DicomFile(DicomDataset dataset, TransferSyntax syntax)
    {
        Dataset = dataset;
        TransferSyntax = syntax;
    }

    /// <summary>The 128 bytes before "DICM", or null for a file that had none (written back as zeros).</summary>
    public byte[]? Preamble { get; set; }

    public DicomDataset FileMetaInfo { get; } = new();

    public DicomDataset Dataset { get; } = new();

    public TransferSyntax TransferSyntax { get; set; } = TransferSyntax.ExplicitVRLittleEndian;

    /// <summary>
    /// True when reading stopped at <see cref="DicomReadOptions.StopBeforeTag"/>; false when it read to the end of
    /// the data it was given (so a header read from the first bytes of a file is complete only if this is true).
    /// </summary>
    public bool StoppedBeforeTag { get; internal set; }

    /// <summary>The tag reading stopped at (the first at or past the stop tag: Pixel Data, or trailing padding, a signature...).</summary>
    public DicomTag? StoppedAt { get; internal set; }

    /// <summary>
    /// Where the element reading stopped at begins, in bytes from the start of the input (Orthanc's PixelDataOffset
    /// when it is Pixel Data); meaningless for a deflated data set, whose offsets are in the inflated stream.
    /// </summary>
    public long? StoppedAtOffset { get; internal set; }

    public static DicomFile Open(string path, DicomReadOptions? options = null) => DicomReader.ReadFile(path, options);

    public static DicomFile Open(Stream stream, DicomReadOptions? options = null) => DicomReader.ReadFile(stream, options);

    public static DicomFile Open(ReadOnlyMemory<byte> bytes, DicomReadOptions? options = null) => DicomReader.ReadFile(bytes, options);

    public void Save(string path) 
    {
        using var stream = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16);
        Save(stream);
    }

    public void Save(Stream stream) => DicomWriter.WriteFile(stream, this);

    public byte[] ToBytes()
    {
        using var ms = new MemoryStream();
        Save(ms);
        return ms.ToArray();
    }

    /// <summary>
    /// Fills in the meta group for the current data set and syntax (PS3.10 §7.1): version, SOP class and instance
    /// from the data set, the transfer syntax, and our implementation class UID and version name.
    /// </summary>
    public void UpdateFileMetaInfo(string? sourceAet = null)
    {
        var meta = FileMetaInfo;
        meta.AddBytes(DicomTags.FileMetaInformationVersion, DicomVR.OB, new byte[] { 0, 1 });
        meta.Add(DicomTags.MediaStorageSOPClassUID, DicomVR.UI, Dataset.GetStringOrEmpty(DicomTags.SOPClassUID));
        meta.Add(DicomTags.MediaStorageSOPInstanceUID, DicomVR.UI, Dataset.GetStringOrEmpty(DicomTags.SOPInstanceUID));
        meta.Add(DicomTags.TransferSyntaxUID, DicomVR.UI, TransferSyntax.Uid);
        meta.Add(DicomTags.ImplementationClassUID, DicomVR.UI, DicomUids.ImplementationClassUid);
        meta.Add(DicomTags.ImplementationVersionName, DicomVR.SH, DicomUids.ImplementationVersionName);
        if (sourceAet is not null)
            meta.Add(DicomTags.SourceApplicationEntityTitle, DicomVR.AE, sourceAet);
    }
}
