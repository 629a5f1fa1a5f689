namespace OrthancWeb.Dicom.Data;

/// <summary>
/// The one exception every malformed input raises: where the reader was (byte offset in the stream it was given)
/// and why it stopped.
/// </summary>
public sealed class DicomReadException(long offset, string reason, Exception? inner = null)
    : DicomException($"Invalid DICOM data at byte {offset}: {reason}", inner)
{
    public long Offset { get; } = offset;
    public string Reason { get; } = reason;
}
