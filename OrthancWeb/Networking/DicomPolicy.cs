using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
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
/// <remarks>
/// A calling AE title is only a claim (PS3.8 §7.1.1.2 authenticates nothing): with DicomCheckModalityHost, a known
/// AE title from an address other than its modality's Host is an unknown peer, which gets what unknown AEs get
/// (echo and store per DicomAlwaysAllow*, never find, move or get).
/// </remarks>
public sealed class DicomPolicy(IOptionsMonitor<DicomOptions> options, ModalityRegistry registry, DicomAcceptance acceptance, TimeProvider time) : IAssociationPolicy
{
    private static readonly HashSet<string> StorageClasses = SopClasses.Storage.ToHashSet(StringComparer.Ordinal);
    private static readonly HashSet<string> Uncompressed = SopClasses.Uncompressed.ToHashSet(StringComparer.Ordinal);

    /// <summary>How long a Host name's addresses are trusted before it is resolved again.</summary>
    private static readonly TimeSpan ResolutionLifetime = TimeSpan.FromMinutes(1);

    private readonly ConcurrentDictionary<string, (IPAddress[] Addresses, DateTimeOffset Expires)> _resolved = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>A modality by AE title alone, e.g. a C-MOVE destination (where we connect to its Host, so no check is needed).</summary>
    public ModalityOptions? FindModality(string aet) => registry.FindByAet(aet, options.CurrentValue.StrictAetComparison);

    /// <summary>The modality a peer is: its AE title, from its Host's address when DicomCheckModalityHost; null for an unknown peer.</summary>
    public ModalityOptions? FindPeer(string aet, IPAddress? address)
    {
        var o = options.CurrentValue;
        if (!o.DicomCheckModalityHost) return registry.FindByAet(aet, o.StrictAetComparison);
        if (address is null) return null;
        return registry.FindByAet(aet, o.StrictAetComparison, m => HostMatches(m.Host, address));
    }

    private ModalityOptions? FindPeer(AssociationParameters request) => FindPeer(request.CallingAE, request.RemoteEndPoint?.Address);

    public bool IsKnownPeer(AssociationParameters request) => FindPeer(request) is not null;

    /// <summary>
    /// Whether a peer at <paramref name="peer"/> is the host <paramref name="host"/>. A loopback peer is only a loopback
    /// Host (an address or "localhost"): a name that happens to resolve to 127.0.x.x on this machine (Debian maps its
    /// own host name so) must not turn every local process into that modality.
    /// </summary>
    internal bool HostMatches(string host, IPAddress peer)
    {
        if (peer.IsIPv4MappedToIPv6) peer = peer.MapToIPv4();
        host = host.Trim();
        if (IPAddress.TryParse(host, out var literal))
        {
            if (literal.IsIPv4MappedToIPv6) literal = literal.MapToIPv4();
            return IPAddress.IsLoopback(peer) ? IPAddress.IsLoopback(literal) : literal.Equals(peer);
        }
        if (IPAddress.IsLoopback(peer)) return string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase);
        foreach (var a in Resolve(host))
            if ((a.IsIPv4MappedToIPv6 ? a.MapToIPv4() : a).Equals(peer)) return true;
        return false;
    }

    /// <summary>A Host name's addresses, kept a minute (associations come in bursts; DNS need not be asked for each).</summary>
    private IPAddress[] Resolve(string host)
    {
        var now = time.GetUtcNow();
        if (_resolved.TryGetValue(host, out var known) && known.Expires > now) return known.Addresses;
        IPAddress[] addresses;
        try { addresses = Dns.GetHostAddresses(host); }
        catch (SocketException) { addresses = []; } // unknown name: matches no one
        catch (ArgumentException) { addresses = []; }
        _resolved[host] = (addresses, now + ResolutionLifetime);
        return addresses;
    }

    public AssociateReject? Check(AssociationParameters request)
    {
        var o = options.CurrentValue;
        if (o.DicomCheckCalledAet && !string.Equals(request.CalledAE.Trim(), o.DicomAet, o.StrictAetComparison ? StringComparison.Ordinal : StringComparison.OrdinalIgnoreCase))
            return AssociateReject.CalledAENotRecognized;
        if (!o.DicomAlwaysAllowEcho && !o.DicomAlwaysAllowStore && FindPeer(request) is null)
            return AssociateReject.CallingAENotRecognized;
        return null;
    }

    public IReadOnlyCollection<string>? AcceptableTransferSyntaxes(AssociationParameters request, string abstractSyntax)
    {
        var o = options.CurrentValue;
        var modality = FindPeer(request);
        if (abstractSyntax == SopClasses.Verification)
            return modality?.AllowEcho ?? o.DicomAlwaysAllowEcho ? Uncompressed : null;
        // A SOP class the dictionary does not know at all is taken as storage when UnknownSopClassAccepted (Orthanc's).
        if (StorageClasses.Contains(abstractSyntax) || (acceptance.UnknownSopClassAccepted && DicomUids.Find(abstractSyntax) is null))
        {
            // Storage is accepted from the SCU (C-STORE) and, for C-GET, towards it; both need the permission.
            var allowed = modality is not null ? modality.AllowStore || modality.AllowGet : o.DicomAlwaysAllowStore;
            return allowed ? acceptance.Accepted : null;
        }
        if (modality is null) return null; // query/retrieve only for known modalities
        if (SopClasses.IsFind(abstractSyntax)) return modality.AllowFind ? Uncompressed : null;
        // Accepted whatever AllowFindWorklist says: a modality refused worklists gets a failure status for its query
        // (and the refusal is in the audit trail), not a silent "abstract syntax not supported".
        if (abstractSyntax == SopClasses.ModalityWorklistFind) return Uncompressed;
        if (SopClasses.IsMove(abstractSyntax)) return modality.AllowMove ? Uncompressed : null;
        if (SopClasses.IsGet(abstractSyntax)) return modality.AllowGet ? Uncompressed : null;
        // Storage commitment: requests from a modality allowed them (AllowStorageCommitment), and the reports of the
        // commitments we asked for, which come on an association where the peer takes the SCP role (PS3.4 J.3.3.1).
        if (abstractSyntax == SopClasses.StorageCommitmentPushModel)
            return modality.AllowStorageCommitment || request.RoleSelections.Any(r => r.SopClassUid == abstractSyntax && r.ScpRole) ? Uncompressed : null;
        return null;
    }
}
