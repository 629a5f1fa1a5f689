using OrthancWeb.Dicom.Network.Pdu;

namespace OrthancWeb.Dicom.Network.Association;

/// <summary>The peer refused the association with an A-ASSOCIATE-RJ (PS3.8 §9.3.4): result, source and reason as sent.</summary>
public sealed class AssociationRejectedException(AssociateReject reject)
    : DicomNetworkException("association rejected: " + reject.Describe())
{
    public AssociateReject Reject { get; } = reject;
}

/// <summary>Who aborted (A-ABORT source, PS3.8 Table 9-26).</summary>
public enum AbortSource : byte
{
    ServiceUser = 0,
    ServiceProvider = 2,
}

/// <summary>Why the service provider aborted (A-ABORT reason/diag., PS3.8 Table 9-26); significant only for the provider.</summary>
public enum AbortReason : byte
{
    NotSpecified = 0,
    UnrecognizedPdu = 1,
    UnexpectedPdu = 2,
    UnrecognizedPduParameter = 4,
    UnexpectedPduParameter = 5,
    InvalidPduParameterValue = 6,
}

/// <summary>
/// The association ended before its work was done: the peer sent A-ABORT (PS3.8 §9.3.8), or the connection broke
/// (the upper layer's A-P-ABORT, PS3.8 §9.2 action AA-4: source service provider, reason not specified), or we aborted
/// on a protocol violation. The socket or protocol error behind it, if any, is the inner exception.
/// </summary>
public sealed class AssociationAbortedException(string message, Exception? inner = null,
    AbortSource source = AbortSource.ServiceProvider, AbortReason reason = AbortReason.NotSpecified)
    : DicomNetworkException(message, inner)
{
    public AbortSource AbortSource { get; } = source;
    public AbortReason AbortReason { get; } = reason;

    /// <summary>The A-ABORT the peer sent, decoded from the PDU's body (bytes 3 and 4 are source and reason).</summary>
    internal static AssociationAbortedException FromPeer(ReadOnlySpan<byte> body)
    {
        var source = body.Length >= 4 && body[2] == (byte)AbortSource.ServiceUser ? AbortSource.ServiceUser : AbortSource.ServiceProvider;
        var reason = source == AbortSource.ServiceProvider && body.Length >= 4 && Enum.IsDefined((AbortReason)body[3]) ? (AbortReason)body[3] : AbortReason.NotSpecified;
        var why = source == AbortSource.ServiceUser ? "the peer aborted the association"
            : reason == AbortReason.NotSpecified ? "the peer's DICOM service provider aborted the association"
            : $"the peer's DICOM service provider aborted the association ({Describe(reason)})";
        return new AssociationAbortedException(why, null, source, reason);
    }

    private static string Describe(AbortReason reason) => reason switch
    {
        AbortReason.UnrecognizedPdu => "unrecognized PDU",
        AbortReason.UnexpectedPdu => "unexpected PDU",
        AbortReason.UnrecognizedPduParameter => "unrecognized PDU parameter",
        AbortReason.UnexpectedPduParameter => "unexpected PDU parameter",
        AbortReason.InvalidPduParameterValue => "invalid PDU parameter value",
        _ => "reason not specified",
    };
}
