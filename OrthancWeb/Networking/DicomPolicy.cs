using Microsoft.Extensions.Options;
using OrthancWeb.Dicom.Data;
using OrthancWeb.Dicom.Network.Pdu;
using OrthancWeb.Dicom.Network.Services;

namespace OrthancWeb.Networking;

/// <summary>
/// Who may do what over DICOM: called AE check, known modalities with per-service permissions, and the always-allow
/// switches for echo and store from unknown AEs. Services an AE may not use are refused at negotiation, so the peer
/// sees "abstract syntax not supported" for them rather than a late failure.
/// </summary>
public sealed class DicomPolicy(IOptionsMonitor<DicomOptions> options, ModalityRegistry registry) : IAssociationPolicy
{
    /// <summary>Every transfer syntax we can store as received (all of PS3.5 that the dictionary knows).</summary>
    private static readonly HashSet<string> StorableSyntaxes =
        DicomUids.All.Where(u => u.IsTransferSyntax).Select(u => u.Uid).ToHashSet(StringComparer.Ordinal);

    private static readonly HashSet<string> StorageClasses = SopClasses.Storage.ToHashSet(StringComparer.Ordinal);
    private static readonly HashSet<string> Uncompressed = SopClasses.Uncompressed.ToHashSet(StringComparer.Ordinal);

    public ModalityOptions? FindModality(string aet) => registry.FindByAet(aet);

    public AssociateReject? Check(AssociationParameters request)
    {
        var o = options.CurrentValue;
        if (o.DicomCheckCalledAet && !string.Equals(request.CalledAE, o.DicomAet, StringComparison.Ordinal))
            return AssociateReject.CalledAENotRecognized;
        if (FindModality(request.CallingAE) is null && !o.DicomAlwaysAllowEcho && !o.DicomAlwaysAllowStore)
            return AssociateReject.CallingAENotRecognized;
        return null;
    }

    public IReadOnlyCollection<string>? AcceptableTransferSyntaxes(AssociationParameters request, string abstractSyntax)
    {
        var o = options.CurrentValue;
        var modality = FindModality(request.CallingAE);
        if (abstractSyntax == SopClasses.Verification)
            return modality?.AllowEcho ?? o.DicomAlwaysAllowEcho ? Uncompressed : null;
        if (StorageClasses.Contains(abstractSyntax))
        {
            // Storage is accepted from the SCU (C-STORE) and, for C-GET, towards it; both need the permission.
            var allowed = modality is not null ? modality.AllowStore || modality.AllowGet : o.DicomAlwaysAllowStore;
            return allowed ? StorableSyntaxes : null;
        }
        if (modality is null) return null; // query/retrieve only for known modalities
        if (SopClasses.IsFind(abstractSyntax)) return modality.AllowFind ? Uncompressed : null;
        if (SopClasses.IsMove(abstractSyntax)) return modality.AllowMove ? Uncompressed : null;
        if (SopClasses.IsGet(abstractSyntax)) return modality.AllowGet ? Uncompressed : null;
        return null;
    }
}
