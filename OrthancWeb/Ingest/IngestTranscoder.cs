using Microsoft.Extensions.Options;
using OrthancWeb.Dicom;
using OrthancWeb.Dicom.Data;
using OrthancWeb.Dicom.Imaging;
using OrthancWeb.Dicom.IO;
using OrthancWeb.Storage;

namespace OrthancWeb.Ingest;

/// <summary>An arriving instance re-encoded into its own incoming file, and the header the index takes from it.</summary>
internal sealed record TranscodedIncoming(IncomingFile Incoming, long Size, string? Checksum, DicomFile Header);

/// <summary>
/// IngestTranscoding (Orthanc's option): an arriving instance is stored in the configured transfer syntax when it can be
/// transcoded to it, else as received with a warning. Called by <see cref="IngestService"/> between the header's
/// validation and the storage commit, so every path (C-STORE, REST, browser, STOW-RS) goes through it, and the sender is
/// still answered only once the new file and the index are durable.
/// </summary>
public sealed partial class IngestTranscoder(StorageArea storage, IOptionsMonitor<StorageOptions> options, ILogger<IngestTranscoder> logger)
{
    private const long MB = 1024 * 1024;

    /// <summary>
    /// The syntax an instance with this header is to be stored in, or null to store it as received: the option is off,
    /// the instance is already in it, it has no pixel data, or IngestTranscodingOf(Un)compressed says to leave its kind.
    /// </summary>
    internal TransferSyntax? TargetFor(DicomFile header)
    {
        var o = options.CurrentValue;
        if (string.IsNullOrWhiteSpace(o.IngestTranscoding)) return null;
        var target = Transcoder.ParseTarget(o.IngestTranscoding); // checked at start-up: it parses
        var from = header.TransferSyntax;
        // A header read stops before the pixel data; one that did not stop has none (SR, RT structure sets...): there
        // is nothing to compress, and re-labelling it would only change what the sender sent.
        if (from.Equals(target) || !header.StoppedBeforeTag) return null;
        // Orthanc counts implicit/explicit little/big endian as uncompressed; deflated data is compressed.
        var uncompressed = !from.IsEncapsulated && !from.IsDeflated;
        return (uncompressed ? o.IngestTranscodingOfUncompressed : o.IngestTranscodingOfCompressed) ? target : null;
    }

    /// <summary>
    /// The received file (<paramref name="incoming"/>, complete once <paramref name="waitForFile"/> returns) transcoded to
    /// <paramref name="target"/> into a new incoming file, written and on its way to the disk (the index writer's sync
    /// makes it durable with the batch, as for any received file); null, with a warning, when it is to be stored as
    /// received. The caller deletes the new file if it does not commit it.
    /// </summary>
    internal TranscodedIncoming? Transcode(IncomingFile incoming, long size, DicomFile header, TransferSyntax target,
        Action? waitForFile, DicomReadOptions readOptions, bool compress)
    {
        var sop = header.Dataset.GetString(DicomTags.SOPInstanceUID) ?? "";
        var limit = options.CurrentValue.IngestTranscodingMaximumSize * MB;
        var info = PixelDataInfo.From(header.Dataset);
        var decoded = info.Rows * (long)info.Columns * info.SamplesPerPixel * Math.Max(1, info.BytesPerSample) * info.NumberOfFrames;
        if (size > limit || decoded > limit)
        {
            LeftAsReceived(sop, header.TransferSyntax, target,
                $"{Math.Max(size, decoded) / MB} MB is past IngestTranscodingMaximumSize ({limit / MB} MB)");
            return null;
        }
        byte[] bytes;
        DicomFile converted;
        try
        {
            waitForFile?.Invoke();
            var received = DicomFile.Open(incoming.Path, readOptions with { LazyThreshold = long.MaxValue });
            var transcoded = Transcoder.TranscodeFile(received, target);
            // Only (7FE0,0010) is encoded: float pixel data, or none, would only be relabelled (PS3.5 §A.4).
            if (target.IsEncapsulated && transcoded.Dataset[DicomTags.PixelData] is not DicomFragmentSequence)
            {
                LeftAsReceived(sop, header.TransferSyntax, target, "it has no integer Pixel Data (7FE0,0010) to encode");
                return null;
            }
            bytes = transcoded.ToBytes();
            converted = DicomFile.Open(bytes.AsMemory(), readOptions with { StopBeforeTag = DicomTags.PixelData });
        }
        catch (Exception ex) when (ex is DicomException or InvalidDataException or ArgumentException or InvalidOperationException
                                       or IndexOutOfRangeException or NotSupportedException or OverflowException)
        {
            LeftAsReceived(sop, header.TransferSyntax, target, ex.Message);
            return null;
        }
        // The pixel data's encoding changes, never what the index files the instance under (PS3.5 §8.2).
        if (converted.Dataset.GetString(DicomTags.SOPInstanceUID) != sop)
            throw new InvalidOperationException("transcoding changed the SOP Instance UID");

        var next = storage.CreateIncoming();
        try
        {
            // Direct (past the page cache) unless it is to be compressed, which reads it straight back.
            using (var writer = storage.OpenWriter(next, direct: !compress))
            {
                writer.Write(bytes);
                writer.Complete();
            }
            IngestService.FinishWrite(next.Handle);
            next.Handle.Dispose();
            return new TranscodedIncoming(next, bytes.Length, compress ? null : FileChecksum.Of(bytes, default), converted);
        }
        catch
        {
            next.Handle.Dispose();
            File.Delete(next.Path);
            throw;
        }
    }

    private void LeftAsReceived(string sop, TransferSyntax from, TransferSyntax to, string reason) =>
        LogLeftAsReceived(logger, sop, from.Name, from.Uid, to.Name, to.Uid, reason);

    [LoggerMessage(LogLevel.Warning, "IngestTranscoding: instance {Sop} is stored as received in {From} ({FromUid}), not transcoded to {To} ({ToUid}): {Reason}")]
    private static partial void LogLeftAsReceived(ILogger logger, string sop, string from, string fromUid, string to, string toUid, string reason);
}

/// <summary>IngestTranscoding checked at start-up: an unknown UID, or a syntax this server cannot write, stops it with the reason.</summary>
internal sealed class IngestTranscodingValidation : IValidateOptions<StorageOptions>
{
    public ValidateOptionsResult Validate(string? name, StorageOptions options)
    {
        if (string.IsNullOrWhiteSpace(options.IngestTranscoding)) return ValidateOptionsResult.Success;
        try
        {
            var target = Transcoder.ParseTarget(options.IngestTranscoding);
            // An encoder may be registered and still unable to run (JPEG-LS without libcharls2): one tiny frame tells.
            if (target.IsEncapsulated)
            {
                var info = new PixelDataInfo(2, 2, 1, 8, 8, 7, false, 0, "MONOCHROME2", 1);
                CodecRegistry.Default.FindEncoder(target).Encode(new DecodedFrame([0, 64, 128, 255], info, "MONOCHROME2"), target, EncodeOptions.Default);
            }
            return ValidateOptionsResult.Success;
        }
        catch (ImagingException ex)
        {
            return ValidateOptionsResult.Fail($"IngestTranscoding: {ex.Message}");
        }
    }
}
