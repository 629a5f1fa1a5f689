using OrthancWeb.Dicom.Data;
using OrthancWeb.Dicom.IO;

namespace OrthancWeb.Dicom.Network.Dimse;

/// <summary>Command Field values (PS3.7 Table E.1-1).</summary>
public enum CommandField : ushort
{
    CStoreRequest = 0x0001,
    CStoreResponse = 0x8001,
    CGetRequest = 0x0010,
    CGetResponse = 0x8010,
    CFindRequest = 0x0020,
    CFindResponse = 0x8020,
    CMoveRequest = 0x0021,
    CMoveResponse = 0x8021,
    CEchoRequest = 0x0030,
    CEchoResponse = 0x8030,
    CCancelRequest = 0x0FFF,
    NEventReportRequest = 0x0100,
    NEventReportResponse = 0x8100,
    NActionRequest = 0x0130,
    NActionResponse = 0x8130,
}

/// <summary>Status codes used by the C-services (PS3.7 Annex C, PS3.4 Annexes B and C).</summary>
public static class DimseStatus
{
    public const ushort Success = 0x0000;
    public const ushort Pending = 0xFF00;
    public const ushort PendingWarning = 0xFF01;
    public const ushort Cancel = 0xFE00;
    public const ushort SubOperationsCompleteWithFailures = 0xB000;
    public const ushort OutOfResources = 0xA700;
    public const ushort OutOfResourcesNumberOfMatches = 0xA701;
    public const ushort OutOfResourcesSubOperations = 0xA702;
    public const ushort MoveDestinationUnknown = 0xA801;
    public const ushort DataSetDoesNotMatchSopClass = 0xA900;
    public const ushort CannotUnderstand = 0xC000;
    public const ushort IdentifierDoesNotMatchSopClass = 0xC001;
    public const ushort UnableToProcess = 0xC002;
    public const ushort ProcessingFailure = 0x0110;
    public const ushort SopClassNotSupported = 0x0122;
    public const ushort DuplicateSopInstance = 0x0111;
    public const ushort UnrecognizedOperation = 0x0211;
    public const ushort NotAuthorized = 0x0124;
    // DIMSE-N statuses (PS3.7 §10.1.1.1.8, Annex C).
    public const ushort NoSuchObjectInstance = 0x0112;
    public const ushort NoSuchEventType = 0x0113;
    public const ushort InvalidArgumentValue = 0x0115;
    public const ushort NoSuchSopClass = 0x0118;
    public const ushort ClassInstanceConflict = 0x0119;
    public const ushort MissingAttribute = 0x0120;
    public const ushort NoSuchActionType = 0x0123;

    public static bool IsPending(ushort s) => s is Pending or PendingWarning;
    public static bool IsSuccess(ushort s) => s == Success;
    public static bool IsWarning(ushort s) => s is 0x0001 or 0x0107 or 0x0116 or SubOperationsCompleteWithFailures || (s & 0xF000) == 0xB000;
    public static bool IsFailure(ushort s) => !IsPending(s) && !IsSuccess(s) && !IsWarning(s) && s != Cancel;
}

/// <summary>
/// A DIMSE message: the command set (group 0000, always implicit VR little endian, PS3.7 §6.3.1) and an optional
/// data set kept as the bytes that came over the wire, in the presentation context's transfer syntax, so a C-STORE
/// can be written to disk without being decoded and encoded again.
/// </summary>
public sealed class DimseMessage
{
    public DimseMessage(DicomDataset command, byte presentationContextId = 0, ReadOnlyMemory<byte>? data = null)
    {
        Command = command;
        PresentationContextId = presentationContextId;
        Data = data;
    }

    public DicomDataset Command { get; }
    public byte PresentationContextId { get; set; }
    public ReadOnlyMemory<byte>? Data { get; set; }

    /// <summary>
    /// A received data set too large to be kept in memory, written to the association's <see cref="IDataSetSpool"/>
    /// instead (then <see cref="Data"/> is null); the handler of the message disposes it.
    /// </summary>
    public IDataSetSink? SpooledData { get; set; }

    /// <summary>The transfer syntax of <see cref="Data"/> (the accepted one of the presentation context).</summary>
    public TransferSyntax DataSyntax { get; set; } = TransferSyntax.ImplicitVRLittleEndian;

    public CommandField CommandField => (CommandField)Command.GetValueOrDefault<ushort>(DicomTags.CommandField, 0, 0);
    public ushort MessageId => Command.GetValueOrDefault<ushort>(DicomTags.MessageID, 0, 0);
    public ushort MessageIdBeingRespondedTo => Command.GetValueOrDefault<ushort>(DicomTags.MessageIDBeingRespondedTo, 0, 0);
    public ushort Status => Command.GetValueOrDefault<ushort>(DicomTags.Status, 0, 0);
    public string AffectedSopClassUid => Command.GetString(DicomTags.AffectedSOPClassUID) ?? Command.GetString(DicomTags.RequestedSOPClassUID) ?? "";
    public string AffectedSopInstanceUid => Command.GetString(DicomTags.AffectedSOPInstanceUID) ?? "";
    /// <summary>The SOP instance a DIMSE-N request acts on: Requested (N-ACTION) or Affected (N-EVENT-REPORT) SOP Instance UID.</summary>
    public string SopInstanceUid => Command.GetString(DicomTags.RequestedSOPInstanceUID) ?? AffectedSopInstanceUid;
    /// <summary>Action Type ID (0000,1008) of an N-ACTION.</summary>
    public ushort ActionTypeId => Command.GetValueOrDefault<ushort>(DicomTags.ActionTypeID, 0, 0);
    /// <summary>Event Type ID (0000,1002) of an N-EVENT-REPORT.</summary>
    public ushort EventTypeId => Command.GetValueOrDefault<ushort>(DicomTags.EventTypeID, 0, 0);
    public bool HasDataSet => Command.GetValueOrDefault<ushort>(DicomTags.CommandDataSetType, 0, 0x0101) != 0x0101;
    public bool IsRequest => ((ushort)CommandField & 0x8000) == 0;

    /// <summary>The data set decoded (identifiers of C-FIND/MOVE/GET are small; C-STORE data is better kept as bytes).</summary>
    public DicomDataset? DecodeData() => Data is { } d ? DicomReader.ReadDataset(d, DataSyntax) : null;

    public byte[] EncodeCommand()
    {
        // (0000,0000) is written with its true value by the writer (PS3.7 §E.1: required, first in the command).
        Command.AddOrUpdate(new DicomElement(DicomTags.CommandGroupLength, DicomVR.UL, DicomBuffer.From(new byte[4])));
        Command.Add(DicomTags.CommandDataSetType, DicomVR.US, Data is null ? (ushort)0x0101 : (ushort)0x0000);
        return DicomWriter.ToBytes(Command, TransferSyntax.ImplicitVRLittleEndian);
    }

    public override string ToString() => $"{CommandField} id={MessageId} status=0x{Status:X4}";

    // ---- requests and responses (PS3.7 §9.3) ----

    private static DicomDataset NewCommand(CommandField field) =>
        new DicomDataset().Add(DicomTags.CommandField, DicomVR.US, (ushort)field);

    public static DimseMessage EchoRequest(ushort messageId) => new(NewCommand(CommandField.CEchoRequest)
        .Add(DicomTags.AffectedSOPClassUID, DicomVR.UI, "1.2.840.10008.1.1")
        .Add(DicomTags.MessageID, DicomVR.US, messageId));

    public static DimseMessage StoreRequest(ushort messageId, string sopClass, string sopInstance, ReadOnlyMemory<byte> data,
        string? moveOriginatorAet = null, ushort moveOriginatorId = 0, ushort priority = 0)
    {
        var c = NewCommand(CommandField.CStoreRequest)
            .Add(DicomTags.AffectedSOPClassUID, DicomVR.UI, sopClass)
            .Add(DicomTags.MessageID, DicomVR.US, messageId)
            .Add(DicomTags.Priority, DicomVR.US, priority)
            .Add(DicomTags.AffectedSOPInstanceUID, DicomVR.UI, sopInstance);
        if (moveOriginatorAet is not null)
        {
            c.Add(DicomTags.MoveOriginatorApplicationEntityTitle, DicomVR.AE, moveOriginatorAet);
            c.Add(DicomTags.MoveOriginatorMessageID, DicomVR.US, moveOriginatorId);
        }
        return new DimseMessage(c, data: data);
    }

    /// <summary>C-FIND, C-MOVE or C-GET request with its identifier.</summary>
    public static DimseMessage QueryRequest(CommandField field, ushort messageId, string sopClass, ReadOnlyMemory<byte> identifier, string? moveDestination = null)
    {
        var c = NewCommand(field)
            .Add(DicomTags.AffectedSOPClassUID, DicomVR.UI, sopClass)
            .Add(DicomTags.MessageID, DicomVR.US, messageId)
            .Add(DicomTags.Priority, DicomVR.US, (ushort)0);
        if (moveDestination is not null) c.Add(DicomTags.MoveDestination, DicomVR.AE, moveDestination);
        return new DimseMessage(c, data: identifier);
    }

    /// <summary>N-ACTION-RQ (PS3.7 §10.1.4.1): an action on a SOP instance, with its Action Information.</summary>
    public static DimseMessage ActionRequest(ushort messageId, string sopClass, string sopInstance, ushort actionTypeId, ReadOnlyMemory<byte>? actionInformation) =>
        new(NewCommand(CommandField.NActionRequest)
            .Add(DicomTags.MessageID, DicomVR.US, messageId)
            .Add(DicomTags.RequestedSOPClassUID, DicomVR.UI, sopClass)
            .Add(DicomTags.RequestedSOPInstanceUID, DicomVR.UI, sopInstance)
            .Add(DicomTags.ActionTypeID, DicomVR.US, actionTypeId), data: actionInformation);

    /// <summary>N-EVENT-REPORT-RQ (PS3.7 §10.1.1.1): an event on a SOP instance, with its Event Information.</summary>
    public static DimseMessage EventReportRequest(ushort messageId, string sopClass, string sopInstance, ushort eventTypeId, ReadOnlyMemory<byte>? eventInformation) =>
        new(NewCommand(CommandField.NEventReportRequest)
            .Add(DicomTags.MessageID, DicomVR.US, messageId)
            .Add(DicomTags.AffectedSOPClassUID, DicomVR.UI, sopClass)
            .Add(DicomTags.AffectedSOPInstanceUID, DicomVR.UI, sopInstance)
            .Add(DicomTags.EventTypeID, DicomVR.US, eventTypeId), data: eventInformation);

    public static DimseMessage CancelRequest(ushort messageIdBeingCancelled) => new(NewCommand(CommandField.CCancelRequest)
        .Add(DicomTags.MessageIDBeingRespondedTo, DicomVR.US, messageIdBeingCancelled));

    /// <summary>The response to a request: same SOP class (and instance for C-STORE), with a status.</summary>
    public static DimseMessage ResponseTo(DimseMessage request, ushort status, ReadOnlyMemory<byte>? data = null, string? errorComment = null)
    {
        var field = (CommandField)((ushort)request.CommandField | 0x8000);
        var c = NewCommand(field)
            .Add(DicomTags.MessageIDBeingRespondedTo, DicomVR.US, request.MessageId)
            .Add(DicomTags.Status, DicomVR.US, status);
        if (request.AffectedSopClassUid.Length > 0) c.Add(DicomTags.AffectedSOPClassUID, DicomVR.UI, request.AffectedSopClassUid);
        if (request.CommandField == CommandField.CStoreRequest) c.Add(DicomTags.AffectedSOPInstanceUID, DicomVR.UI, request.AffectedSopInstanceUid);
        // DIMSE-N responses name the instance and echo the action or event type (PS3.7 Tables 10.1-1 and 10.1-4);
        // DCMTK-based peers such as Orthanc reject a response without the Affected SOP Instance UID.
        if (request.CommandField is CommandField.NActionRequest or CommandField.NEventReportRequest && request.SopInstanceUid.Length > 0)
            c.Add(DicomTags.AffectedSOPInstanceUID, DicomVR.UI, request.SopInstanceUid);
        if (request.CommandField == CommandField.NActionRequest) c.Add(DicomTags.ActionTypeID, DicomVR.US, request.ActionTypeId);
        if (request.CommandField == CommandField.NEventReportRequest) c.Add(DicomTags.EventTypeID, DicomVR.US, request.EventTypeId);
        if (errorComment is not null) c.Add(DicomTags.ErrorComment, DicomVR.LO, errorComment.Length > 64 ? errorComment[..64] : errorComment);
        return new DimseMessage(c, request.PresentationContextId, data);
    }

    /// <summary>Sub-operation counters of C-MOVE and C-GET responses (PS3.7 §9.3.4.2).</summary>
    public DimseMessage WithSubOperations(int remaining, int completed, int failed, int warning)
    {
        if (remaining >= 0) Command.Add(DicomTags.NumberOfRemainingSuboperations, DicomVR.US, (ushort)remaining);
        Command.Add(DicomTags.NumberOfCompletedSuboperations, DicomVR.US, (ushort)completed);
        Command.Add(DicomTags.NumberOfFailedSuboperations, DicomVR.US, (ushort)failed);
        Command.Add(DicomTags.NumberOfWarningSuboperations, DicomVR.US, (ushort)warning);
        return this;
    }
}
