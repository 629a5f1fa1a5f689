using System.Net;
using OrthancWeb.Dicom.Data;
using OrthancWeb.Dicom.IO;
using OrthancWeb.Dicom.Network.Association;
using OrthancWeb.Dicom.Network.Dimse;
using OrthancWeb.Dicom.Network.Pdu;

namespace OrthancWeb.Dicom.Network.Services;

/// <summary>What a service handler knows of the association it serves.</summary>
public sealed record DimseContext(DicomAssociation Association, DimseChannel Channel)
{
    public string CallingAE => Association.CallingAE;
    public string CalledAE => Association.CalledAE;
    public string? RemoteHost => Association.RemoteHost;
    /// <summary>The peer's address and port (IPv4-mapped addresses given as IPv4).</summary>
    public IPEndPoint? RemoteEndPoint => Association.Request.RemoteEndPoint;
    /// <summary>Whether the association runs over TLS (PS3.15 Annex B.1).</summary>
    public bool IsTls { get; init; }
}

/// <summary>
/// A failure status for a request (PS3.7 Annex C) with its Error Comment (0000,0902): thrown by a service handler to
/// answer it, and by the SCU client when the peer answered it.
/// </summary>
public sealed class DimseFailureException(ushort status, string comment) : DicomNetworkException(comment)
{
    public ushort Status { get; } = status;
    public string ErrorComment { get; } = comment;
}

/// <summary>Who may associate, and which presentation contexts are accepted (PS3.8 §9.3.2).</summary>
public interface IAssociationPolicy
{
    /// <summary>Null to go on, or the A-ASSOCIATE-RJ to answer (called AE unknown, calling AE refused, full...).</summary>
    AssociateReject? Check(AssociationParameters request);

    /// <summary>The transfer syntaxes we accept for an abstract syntax, or null if we do not support it.</summary>
    IReadOnlyCollection<string>? AcceptableTransferSyntaxes(AssociationParameters request, string abstractSyntax);

    /// <summary>
    /// A peer the configuration knows (its AE title from its address): it may take the association slots kept for known
    /// peers and is not held to the per-address limit. Unknown by default.
    /// </summary>
    bool IsKnownPeer(AssociationParameters request) => false;
}

/// <summary>What the server tells the application about each connection: for an audit trail and the ambient actor.</summary>
public interface IAssociationObserver
{
    /// <summary>
    /// An association was accepted. Called in the association's own flow before its first request: the returned
    /// scope (an ambient actor, say) lasts until the association ends, when it is disposed.
    /// </summary>
    IDisposable? OnAccepted(DimseContext context);

    /// <summary>A connection or association was refused or closed before any request: <paramref name="request"/> is null before A-ASSOCIATE-RQ.</summary>
    void OnRefused(IPEndPoint? remote, AssociationParameters? request, string reason);
}

public interface ICEchoProvider
{
    Task<ushort> OnEchoAsync(DimseContext context, CancellationToken ct);
}

public interface ICStoreProvider
{
    /// <summary>
    /// Stores the data set of a C-STORE-RQ (bytes in <see cref="DimseMessage.DataSyntax"/>). The returned status is
    /// sent only when this completes, so success must mean durably stored.
    /// </summary>
    Task<(ushort Status, string? Comment)> OnStoreAsync(DimseContext context, DimseMessage request, CancellationToken ct);
}

public interface ICFindProvider
{
    /// <summary>The matches of a C-FIND identifier, each sent as a pending response (PS3.4 §C.4.1).</summary>
    IAsyncEnumerable<DicomDataset> OnFindAsync(DimseContext context, string sopClassUid, DicomDataset identifier, CancellationToken ct);
}

/// <summary>One instance to send as a C-STORE sub-operation of a C-MOVE or C-GET.</summary>
public sealed record StoreSubOperation(string SopClassUid, string SopInstanceUid, TransferSyntax Syntax, Func<CancellationToken, Task<ReadOnlyMemory<byte>>> LoadDataSet);

/// <summary>Where a C-MOVE destination AE lives, and whether it is reached over TLS (with the server's client options).</summary>
public sealed record MoveDestination(string AET, string Host, int Port, bool UseTls = false);

/// <summary>
/// How a C-MOVE or C-GET ended: what was asked for (its SOP class and identifier) and how many instances matched, its
/// final status and sub-operation counts (PS3.4 C.4.2.1.4, C.4.3.1.4), where the instances went (a C-MOVE's
/// destination AE; a C-GET's go back to the caller), and why it failed if it did.
/// </summary>
public sealed record RetrieveOutcome(string SopClassUid, DicomDataset Identifier, int Matched, ushort Status, int Completed, int Failed, int Warning,
    string? DestinationAet, string? Error);

public interface ICMoveProvider
{
    Task<MoveDestination?> ResolveDestinationAsync(DimseContext context, string aet, CancellationToken ct);
    Task<IReadOnlyList<StoreSubOperation>> ResolveAsync(DimseContext context, string sopClassUid, DicomDataset identifier, CancellationToken ct);

    /// <summary>Called once the final response is sent (an audit trail records what was actually delivered).</summary>
    Task OnRetrieveCompletedAsync(DimseContext context, RetrieveOutcome outcome) => Task.CompletedTask;
}

public interface ICGetProvider
{
    Task<IReadOnlyList<StoreSubOperation>> ResolveAsync(DimseContext context, string sopClassUid, DicomDataset identifier, CancellationToken ct);

    /// <summary>Called once the final response is sent (an audit trail records what was actually delivered).</summary>
    Task OnRetrieveCompletedAsync(DimseContext context, RetrieveOutcome outcome) => Task.CompletedTask;
}

/// <summary>
/// Storage Commitment Push Model SCP (PS3.4 J.3.2): the N-ACTION that asks us to commit to instances. The framework
/// answers the N-ACTION with the status of <see cref="OnRequestAsync"/>, then calls <see cref="OnRequestAnsweredAsync"/>,
/// which sends the report (N-EVENT-REPORT, PS3.4 J.3.3) on this association or on a new one.
/// </summary>
public interface IStorageCommitmentProvider
{
    /// <summary>Whether the request is taken (Success), or a failure status for the N-ACTION-RSP (PS3.4 J.3.2.1.1).</summary>
    Task<ushort> OnRequestAsync(DimseContext context, StorageCommitmentRequest request, CancellationToken ct);

    /// <summary>Called once the N-ACTION-RSP of an accepted request is sent: checks the instances and reports.</summary>
    Task OnRequestAnsweredAsync(DimseContext context, StorageCommitmentRequest request, byte presentationContextId, CancellationToken ct);
}

/// <summary>
/// Storage Commitment Push Model SCU receiving a report (PS3.4 J.3.3): an N-EVENT-REPORT from the SCP we asked, on the
/// association of our N-ACTION or on a new one the SCP opened to us (taking the SCP role, PS3.4 J.3.3.1, PS3.7 D.3.3.4).
/// </summary>
public interface IStorageCommitmentReportProvider
{
    /// <summary>The status of the N-EVENT-REPORT-RSP: Success once the report is taken.</summary>
    Task<ushort> OnReportAsync(DimseContext context, StorageCommitmentReport report, CancellationToken ct);
}

/// <summary>Well-known abstract syntaxes of the query/retrieve and verification services (PS3.4 Annexes A and C).</summary>
public static class SopClasses
{
    public const string Verification = "1.2.840.10008.1.1";
    public const string PatientRootFind = "1.2.840.10008.5.1.4.1.2.1.1";
    public const string PatientRootMove = "1.2.840.10008.5.1.4.1.2.1.2";
    public const string PatientRootGet = "1.2.840.10008.5.1.4.1.2.1.3";
    public const string StudyRootFind = "1.2.840.10008.5.1.4.1.2.2.1";
    public const string StudyRootMove = "1.2.840.10008.5.1.4.1.2.2.2";
    public const string StudyRootGet = "1.2.840.10008.5.1.4.1.2.2.3";
    public const string ModalityWorklistFind = "1.2.840.10008.5.1.4.31";
    /// <summary>Storage Commitment Push Model SOP Class and its well-known SOP Instance (PS3.4 J.3, PS3.6 Annex A).</summary>
    public const string StorageCommitmentPushModel = "1.2.840.10008.1.20.1";
    public const string StorageCommitmentPushModelInstance = "1.2.840.10008.1.20.1.1";

    public static bool IsFind(string uid) => uid is PatientRootFind or StudyRootFind;
    public static bool IsMove(string uid) => uid is PatientRootMove or StudyRootMove;
    public static bool IsGet(string uid) => uid is PatientRootGet or StudyRootGet;

    /// <summary>Every storage SOP class of the dictionary (PS3.4 Annex B), for a C-STORE SCP and for C-GET roles.</summary>
    public static IReadOnlyList<string> Storage { get; } =
        DicomUids.All.Where(u => u.IsStorageSopClass).Select(u => u.Uid).ToArray();

    /// <summary>The uncompressed syntaxes every implementation supports, preferred first.</summary>
    public static IReadOnlyList<string> Uncompressed { get; } =
    [
        TransferSyntax.ExplicitVRLittleEndian.Uid, TransferSyntax.ImplicitVRLittleEndian.Uid,
        TransferSyntax.ExplicitVRBigEndian.Uid,
    ];
}
