using Microsoft.Extensions.Options;
using OrthancWeb.Audit;
using OrthancWeb.Dicom.Network;
using OrthancWeb.Dicom.Network.Association;
using OrthancWeb.Dicom.Network.Dimse;
using OrthancWeb.Dicom.Network.Pdu;
using OrthancWeb.Dicom.Network.Services;
using OrthancWeb.Index;
using StorageCommitmentService = OrthancWeb.Dicom.Network.Services.StorageCommitment;

namespace OrthancWeb.Networking;

/// <summary>
/// Storage Commitment Push Model SCP (PS3.4 J.3): a modality allowed it (AllowStorageCommitment) asks whether we hold
/// the instances it sent; each is committed when the index has it with the same SOP class, else failed with No such
/// object instance (0x0112) or Class/instance conflict (0x0119), as Orthanc's own SCP. The report goes on the
/// requester's association if it keeps it open past <see cref="DicomOptions.DicomStorageCommitmentReleaseWindow"/>,
/// else on a new association to the modality where we take the SCP role (PS3.4 J.3.3, PS3.7 D.3.3.4): Orthanc releases
/// at once and always expects the latter.
/// </summary>
public sealed partial class StorageCommitmentScp(DicomPolicy policy, IndexQueries queries, IOptionsMonitor<DicomOptions> options, DicomTls tls,
    IAuditTrail audit, TimeProvider time, ILogger<StorageCommitmentScp> logger) : IStorageCommitmentProvider
{
    public Task<ushort> OnRequestAsync(DimseContext context, StorageCommitmentRequest request, CancellationToken ct)
    {
        if (policy.FindPeer(context.CallingAE, context.RemoteEndPoint?.Address) is not { AllowStorageCommitment: true })
        {
            var refusal = $"{context.CallingAE} may not request storage commitment here";
            audit.Record(new AuditEvent(AuditActions.StorageCommitment, AuditOutcome.MinorFailure) { ResourceLevel = "Transaction", ResourceId = request.TransactionUid, Details = refusal });
            throw new DimseFailureException(DimseStatus.NotAuthorized, refusal);
        }
        audit.Record(new AuditEvent(AuditActions.StorageCommitment, AuditOutcome.Success)
        {
            ResourceLevel = "Transaction",
            ResourceId = request.TransactionUid,
            Details = $"asked of us: {request.References.Count} instance(s)",
        });
        return Task.FromResult(DimseStatus.Success);
    }

    public async Task OnRequestAnsweredAsync(DimseContext context, StorageCommitmentRequest request, byte presentationContextId, CancellationToken ct)
    {
        var report = await CheckAsync(request, ct);
        var window = TimeSpan.FromMilliseconds(options.CurrentValue.DicomStorageCommitmentReleaseWindow);
        // Does the requester keep its association for the report? A release within the window says it does not.
        if (window > TimeSpan.Zero && !context.Channel.Completion.IsCompleted)
        {
            using var waited = CancellationTokenSource.CreateLinkedTokenSource(ct);
            await Task.WhenAny(context.Channel.Completion, Task.Delay(window, time, waited.Token));
            await waited.CancelAsync();
        }
        string how;
        ushort status;
        try
        {
            if (!context.Channel.Completion.IsCompleted)
            {
                how = "on the requester's association";
                status = await StorageCommitmentService.SendReportAsync(context.Channel, report, presentationContextId, ct);
            }
            else if (policy.FindPeer(context.CallingAE, context.RemoteEndPoint?.Address) is { } m)
            {
                how = $"on a new association to {m.Host}:{m.Port}";
                status = await ReportOnNewAssociationAsync(m, report, ct);
            }
            else
            {
                // Removed from the modalities since it asked: nowhere to open an association to.
                audit.Record(new AuditEvent(AuditActions.StorageCommitmentReport, AuditOutcome.SeriousFailure)
                {
                    ResourceLevel = "Transaction", ResourceId = request.TransactionUid,
                    Details = $"report to {context.CallingAE} not delivered: it released its association and is no longer a known modality",
                });
                return;
            }
        }
        catch (DicomNetworkException ex)
        {
            LogReportFailed(logger, request.TransactionUid, context.CallingAE, ex.Message);
            audit.Record(new AuditEvent(AuditActions.StorageCommitmentReport, AuditOutcome.SeriousFailure)
            {
                ResourceLevel = "Transaction", ResourceId = request.TransactionUid,
                Details = $"report to {context.CallingAE} not delivered: {ex.Message}",
            });
            return;
        }
        audit.Record(new AuditEvent(AuditActions.StorageCommitmentReport, DimseStatus.IsSuccess(status) ? AuditOutcome.Success : AuditOutcome.MinorFailure)
        {
            ResourceLevel = "Transaction",
            ResourceId = request.TransactionUid,
            Details = $"to {context.CallingAE} {how}: {report.Committed.Count} committed, {report.Failed.Count} failed; answered 0x{status:X4}",
        });
    }

    /// <summary>
    /// The report on an association of our own, proposing Storage Commitment with the SCP role for us, the requester
    /// of this association (PS3.4 J.3.3.1: the SCU must accept it in the SCU role).
    /// </summary>
    private async Task<ushort> ReportOnNewAssociationAsync(ModalityOptions m, StorageCommitmentReport report, CancellationToken ct)
    {
        var o = options.CurrentValue;
        var timeout = TimeSpan.FromSeconds(m.Timeout > 0 ? m.Timeout : o.DicomScuTimeout);
        var local = string.IsNullOrWhiteSpace(m.LocalAet) ? o.DicomAet : m.LocalAet.Trim();
        await using var client = await DicomClient.ConnectAsync(m.Host, m.Port, local, m.AET,
            [(SopClasses.StorageCommitmentPushModel, SopClasses.Uncompressed)],
            new AssociationOptions { ArtimTimeout = timeout, IdleTimeout = timeout },
            roles: [new RoleSelection(SopClasses.StorageCommitmentPushModel, ScuRole: false, ScpRole: true)], tls: tls.For(m), ct: ct);
        return await client.ReportStorageCommitmentAsync(report, ct);
    }

    /// <summary>Each referenced instance against the index: held with the same SOP class, or the reason it is not (PS3.3 C.14.1.1).</summary>
    private async Task<StorageCommitmentReport> CheckAsync(StorageCommitmentRequest request, CancellationToken ct)
    {
        var committed = new List<SopReference>();
        var failed = new List<StorageCommitmentFailure>();
        foreach (var r in request.References)
        {
            var ids = await queries.FindAsync(new FindRequest(ResourceLevel.Instance, [new FindConstraint(Dicom.Data.DicomTags.SOPInstanceUID, r.SopInstanceUid)]), ct);
            var info = ids.Count == 0 ? null : await queries.GetAsync(ids[0], ResourceLevel.Instance, ct);
            if (info is null)
                failed.Add(new StorageCommitmentFailure(r.SopClassUid, r.SopInstanceUid, StorageCommitmentService.NoSuchObjectInstance));
            else if (!string.Equals(info.Metadata.GetValueOrDefault("SopClassUid"), r.SopClassUid, StringComparison.Ordinal))
                failed.Add(new StorageCommitmentFailure(r.SopClassUid, r.SopInstanceUid, StorageCommitmentService.ClassInstanceConflict));
            else
                committed.Add(r);
        }
        return new StorageCommitmentReport(request.TransactionUid, committed, failed);
    }

    [LoggerMessage(LogLevel.Warning, "Storage commitment report {Transaction} to {AET} not delivered: {Reason}")]
    private static partial void LogReportFailed(ILogger logger, string transaction, string aet, string reason);
}
