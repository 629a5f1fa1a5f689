using OrthancWeb.Audit;
using OrthancWeb.Dicom.Network.Pdu;
using OrthancWeb.Dicom.Network.Services;
using System.Net;

namespace OrthancWeb.Networking;

/// <summary>
/// Every association in the audit trail (calling AE, address, accepted or refused and why), and the ambient actor set
/// for its duration: records made deeper down (ingest, jobs) name the peer (PS3.15 A.5.3.1, Application Activity /
/// Association; the calling AE stands as the user, as DICOM has no other).
/// </summary>
public sealed class DicomAudit(IAuditTrail trail) : IAssociationObserver
{
    public IDisposable? OnAccepted(DimseContext context)
    {
        var address = context.RemoteEndPoint?.Address.ToString();
        trail.Record(new AuditEvent(AuditActions.Association, AuditOutcome.Success)
        {
            User = context.CallingAE,
            Address = address,
            Source = AuditSources.Dicom,
            Details = context.IsTls ? $"to {context.CalledAE}, TLS" : $"to {context.CalledAE}",
        });
        return AuditActor.Enter(new AuditActor(context.CallingAE, address, AuditSources.Dicom));
    }

    public void OnRefused(IPEndPoint? remote, AssociationParameters? request, string reason) =>
        trail.Record(new AuditEvent(AuditActions.AssociationRejected, AuditOutcome.MinorFailure)
        {
            User = request?.CallingAE,
            Address = remote?.Address.ToString(),
            Source = AuditSources.Dicom,
            Details = request is null ? reason : $"to {request.CalledAE}: {reason}",
        });
}
