using System.Numerics;
using OrthancWeb.Dicom.Data;
using OrthancWeb.Dicom.IO;
using OrthancWeb.Dicom.Network.Dimse;

namespace OrthancWeb.Dicom.Network.Services;

/// <summary>One SOP instance named in a storage commitment (an item of the Referenced SOP Sequence, PS3.3 C.14.1).</summary>
public sealed record SopReference(string SopClassUid, string SopInstanceUid);

/// <summary>An instance the SCP does not commit to, with its Failure Reason (PS3.3 C.14.1.1).</summary>
public sealed record StorageCommitmentFailure(string SopClassUid, string SopInstanceUid, ushort Reason)
{
    public string Description => StorageCommitment.Describe(Reason);
}

/// <summary>The Action Information of a Request Storage Commitment N-ACTION (PS3.4 Table J.3-1).</summary>
public sealed record StorageCommitmentRequest(string TransactionUid, IReadOnlyList<SopReference> References)
{
    public DicomDataset ToDataset() => new DicomDataset()
        .Add(DicomTags.TransactionUID, DicomVR.UI, TransactionUid)
        .AddSequence(DicomTags.ReferencedSOPSequence, References.Select(StorageCommitment.Item).ToArray());

    /// <summary>Reads an N-ACTION's data set; a missing Transaction UID or reference is a failure status (PS3.7 C.4.16, C.4.17).</summary>
    public static StorageCommitmentRequest FromDataset(DicomDataset data)
    {
        var uid = data.GetString(DicomTags.TransactionUID)?.Trim();
        if (string.IsNullOrEmpty(uid)) throw new DimseFailureException(DimseStatus.MissingAttribute, "no Transaction UID (0008,1195)");
        var references = StorageCommitment.References(data.GetSequence(DicomTags.ReferencedSOPSequence))
            .Select(r => new SopReference(r.SopClassUid, r.SopInstanceUid)).ToList();
        if (references.Count == 0) throw new DimseFailureException(DimseStatus.MissingAttribute, "empty Referenced SOP Sequence (0008,1199)");
        if (references.Any(r => r.SopClassUid.Length == 0 || r.SopInstanceUid.Length == 0))
            throw new DimseFailureException(DimseStatus.InvalidArgumentValue, "a referenced SOP instance without its class or instance UID");
        return new StorageCommitmentRequest(uid, references);
    }
}

/// <summary>
/// The Event Information of a storage commitment report (PS3.4 Table J.3-2): instances committed to, and those that are
/// not with a reason. Event Type 1 when all are, 2 when failures exist (PS3.4 J.3.3.1).
/// </summary>
public sealed record StorageCommitmentReport(string TransactionUid, IReadOnlyList<SopReference> Committed, IReadOnlyList<StorageCommitmentFailure> Failed)
{
    public ushort EventTypeId => Failed.Count == 0 ? StorageCommitment.EventSuccessful : StorageCommitment.EventFailuresExist;

    public DicomDataset ToDataset()
    {
        var ds = new DicomDataset().Add(DicomTags.TransactionUID, DicomVR.UI, TransactionUid);
        // The Referenced SOP Sequence is required when any instance is committed to (PS3.4 Table J.3-2); DCMTK-based
        // peers expect it even empty, as Orthanc sends it.
        ds.AddSequence(DicomTags.ReferencedSOPSequence, Committed.Select(StorageCommitment.Item).ToArray());
        if (Failed.Count > 0)
            ds.AddSequence(DicomTags.FailedSOPSequence, Failed.Select(f => StorageCommitment.Item(new SopReference(f.SopClassUid, f.SopInstanceUid))
                .Add(DicomTags.FailureReason, DicomVR.US, f.Reason)).ToArray());
        return ds;
    }

    public static StorageCommitmentReport FromDataset(DicomDataset data)
    {
        var uid = data.GetString(DicomTags.TransactionUID)?.Trim();
        if (string.IsNullOrEmpty(uid)) throw new DimseFailureException(DimseStatus.MissingAttribute, "no Transaction UID (0008,1195)");
        var committed = StorageCommitment.References(data.GetSequence(DicomTags.ReferencedSOPSequence))
            .Select(r => new SopReference(r.SopClassUid, r.SopInstanceUid)).ToList();
        var failed = StorageCommitment.References(data.GetSequence(DicomTags.FailedSOPSequence))
            .Select(r => new StorageCommitmentFailure(r.SopClassUid, r.SopInstanceUid, r.Reason)).ToList();
        return new StorageCommitmentReport(uid, committed, failed);
    }
}

/// <summary>Constants and helpers of the Storage Commitment Push Model (PS3.4 Annex J, PS3.3 C.14.1.1).</summary>
public static class StorageCommitment
{
    /// <summary>Action Type ID of "Request Storage Commitment" (PS3.4 Table J.3-1).</summary>
    public const ushort RequestStorageCommitmentAction = 1;
    /// <summary>Event Type IDs (PS3.4 Table J.3-2).</summary>
    public const ushort EventSuccessful = 1;
    public const ushort EventFailuresExist = 2;

    // Failure Reason (0008,1197) values, PS3.3 C.14.1.1.
    public const ushort ProcessingFailure = 0x0110;
    public const ushort NoSuchObjectInstance = 0x0112;
    public const ushort ResourceLimitation = 0x0213;
    public const ushort ReferencedSopClassNotSupported = 0x0122;
    public const ushort ClassInstanceConflict = 0x0119;
    public const ushort DuplicateTransactionUid = 0x0131;

    /// <summary>The meaning of a Failure Reason, in PS3.3 C.14.1.1's words (as Orthanc shows them).</summary>
    public static string Describe(ushort reason) => reason switch
    {
        ProcessingFailure => "A general failure in processing the operation was encountered",
        NoSuchObjectInstance => "One or more of the elements in the Referenced SOP Instance Sequence was not available",
        ResourceLimitation => "The SCP does not currently have enough resources to store the requested SOP Instance(s)",
        ReferencedSopClassNotSupported => "Storage Commitment has been requested for a SOP Instance with a SOP Class that is not supported by the SCP",
        ClassInstanceConflict => "The SOP Class of an element in the Referenced SOP Instance Sequence did not correspond to the SOP class registered for this SOP Instance at the SCP",
        DuplicateTransactionUid => "The Transaction UID of the Storage Commitment Request is already in use",
        _ => $"Failure reason 0x{reason:X4}",
    };

    /// <summary>A new Transaction UID under the 2.25 root (PS3.5 B.2), as Orthanc makes them.</summary>
    public static string NewTransactionUid() =>
        "2.25." + new BigInteger(Guid.NewGuid().ToByteArray(), isUnsigned: true, isBigEndian: true).ToString(System.Globalization.CultureInfo.InvariantCulture);

    internal static DicomDataset Item(SopReference r) => new DicomDataset()
        .Add(DicomTags.ReferencedSOPClassUID, DicomVR.UI, r.SopClassUid)
        .Add(DicomTags.ReferencedSOPInstanceUID, DicomVR.UI, r.SopInstanceUid);

    internal static IEnumerable<(string SopClassUid, string SopInstanceUid, ushort Reason)> References(DicomSequence? sequence) =>
        (sequence?.Items ?? []).Select(i => (
            i.GetString(DicomTags.ReferencedSOPClassUID)?.Trim() ?? "",
            i.GetString(DicomTags.ReferencedSOPInstanceUID)?.Trim() ?? "",
            i.GetValueOrDefault<ushort>(DicomTags.FailureReason, 0, ProcessingFailure)));

    /// <summary>The N-ACTION-RQ of a request, its data set in the presentation context's syntax.</summary>
    public static DimseMessage ActionRequest(ushort messageId, StorageCommitmentRequest request, byte contextId, TransferSyntax syntax)
    {
        var message = DimseMessage.ActionRequest(messageId, SopClasses.StorageCommitmentPushModel, SopClasses.StorageCommitmentPushModelInstance,
            RequestStorageCommitmentAction, DicomWriter.ToBytes(request.ToDataset(), syntax));
        message.PresentationContextId = contextId;
        return message;
    }

    /// <summary>The N-EVENT-REPORT-RQ of a report, its data set in the presentation context's syntax.</summary>
    public static DimseMessage EventReportRequest(ushort messageId, StorageCommitmentReport report, byte contextId, TransferSyntax syntax)
    {
        var data = DicomWriter.ToBytes(report.ToDataset(), syntax);
        var message = DimseMessage.EventReportRequest(messageId, SopClasses.StorageCommitmentPushModel, SopClasses.StorageCommitmentPushModelInstance, report.EventTypeId, data);
        message.PresentationContextId = contextId;
        return message;
    }

    /// <summary>
    /// Sends a report on an association where the Storage Commitment context is accepted (the requester's own
    /// association, or one we opened with the SCP role) and returns the N-EVENT-REPORT-RSP status.
    /// </summary>
    public static async Task<ushort> SendReportAsync(DimseChannel channel, StorageCommitmentReport report, byte? contextId, CancellationToken ct)
    {
        var context = contextId is { } id ? channel.Association.Context(id) : channel.Association.FindContext(SopClasses.StorageCommitmentPushModel);
        if (context is not { IsAccepted: true })
            throw new DimseFailureException(DimseStatus.SopClassNotSupported, "the peer accepted no Storage Commitment presentation context");
        var rq = EventReportRequest(channel.NextMessageId(), report, context.Id, TransferSyntax.Lookup(context.AcceptedTransferSyntax!));
        return (await channel.RequestAsync(rq, ct)).Status;
    }

    /// <summary>
    /// Reads a report sent on <paramref name="channel"/> (the SCU's side of its own association, PS3.4 J.3.3), answers
    /// its N-EVENT-REPORT and hands it to <paramref name="onReport"/>; any other request is refused. Returns when the
    /// peer releases or aborts, or <paramref name="ct"/> is cancelled.
    /// </summary>
    public static async Task ReceiveReportsAsync(DimseChannel channel, Func<StorageCommitmentReport, Task<ushort>> onReport, CancellationToken ct)
    {
        try
        {
            await foreach (var rq in channel.IncomingRequests.ReadAllAsync(ct))
            {
                ushort status;
                string? comment = null;
                if (rq.CommandField != CommandField.NEventReportRequest)
                    (status, comment) = (DimseStatus.UnrecognizedOperation, $"{rq.CommandField} is not expected here");
                else
                {
                    try { status = await onReport(ReadReport(rq)); }
                    catch (DimseFailureException ex) { (status, comment) = (ex.Status, ex.ErrorComment); }
                    catch (DicomReadException ex) { (status, comment) = (DimseStatus.CannotUnderstand, ex.Reason); }
                }
                // Answered whatever happens to ct meanwhile: the SCP waits for its N-EVENT-REPORT-RSP (PS3.7 10.1.1).
                await channel.SendAsync(DimseMessage.ResponseTo(rq, status, errorComment: comment), CancellationToken.None);
            }
        }
        catch (DicomNetworkException) { } // the association ended; a report may still come on a new one
        catch (System.Threading.Channels.ChannelClosedException) { }
        catch (OperationCanceledException) when (ct.IsCancellationRequested) { }
    }

    /// <summary>The report of an N-EVENT-REPORT-RQ, its SOP class, instance and event type checked (PS3.4 J.3.3).</summary>
    public static StorageCommitmentReport ReadReport(DimseMessage rq)
    {
        if (rq.AffectedSopClassUid != SopClasses.StorageCommitmentPushModel)
            throw new DimseFailureException(DimseStatus.NoSuchSopClass, $"N-EVENT-REPORT of SOP class {rq.AffectedSopClassUid}");
        if (rq.EventTypeId is not (EventSuccessful or EventFailuresExist))
            throw new DimseFailureException(DimseStatus.NoSuchEventType, $"Event Type ID {rq.EventTypeId} is not a storage commitment report");
        var data = rq.DecodeData() ?? throw new DimseFailureException(DimseStatus.MissingAttribute, "N-EVENT-REPORT without Event Information");
        return StorageCommitmentReport.FromDataset(data);
    }
}
