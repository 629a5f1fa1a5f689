namespace OrthancWeb.Dicom.Network;

/// <summary>
/// Talking to a peer failed: no connection, the association was rejected or aborted, the peer went silent, or it
/// answered a request with a failure status. Socket and I/O errors met on the way are wrapped in one of these kinds
/// (the original kept as the inner exception), so that a caller catches this one type.
/// </summary>
public abstract class DicomNetworkException(string message, Exception? inner = null) : DicomException(message, inner)
{
    /// <summary>The AE title we were talking to, when known: set by the SCU client on the failure's way out.</summary>
    public string? CalledAE { get; set; }

    public override string Message => CalledAE is null ? base.Message : $"AET \"{CalledAE}\": {base.Message}";
}

/// <summary>The TCP connection to the peer could not be opened (nothing listens there, unknown host, no route).</summary>
public sealed class DicomConnectionException(string host, int port, Exception inner)
    : DicomNetworkException($"cannot connect to {host}:{port}: {inner.Message}", inner)
{
    public string Host { get; } = host;
    public int Port { get; } = port;
}

/// <summary>Which wait ran out.</summary>
public enum DicomTimeout
{
    /// <summary>Opening the TCP connection.</summary>
    Connect,
    /// <summary>The ARTIM timer (PS3.8 §9.1.5): waiting for A-ASSOCIATE-AC/RJ, or for A-ASSOCIATE-RQ on a new connection.</summary>
    Artim,
    /// <summary>Waiting for the next PDU of an established association (a DIMSE response, the rest of a message).</summary>
    Dimse,
    /// <summary>Waiting for a storage commitment report (N-EVENT-REPORT, PS3.4 J.3.3) after its request was accepted.</summary>
    Report,
}

/// <summary>The peer did not answer in time; the connection is closed (an established association is aborted first).</summary>
public sealed class DicomTimeoutException(DicomTimeout kind, TimeSpan after)
    : DicomNetworkException(kind switch
    {
        DicomTimeout.Connect => FormattableString.Invariant($"no TCP connection after {after.TotalSeconds:0.#} s"),
        DicomTimeout.Artim => FormattableString.Invariant($"no answer to the association request after {after.TotalSeconds:0.#} s"),
        DicomTimeout.Report => FormattableString.Invariant($"no storage commitment report (N-EVENT-REPORT) within {after.TotalSeconds:0.#} s of the request"),
        _ => FormattableString.Invariant($"no message from the peer for {after.TotalSeconds:0.#} s"),
    })
{
    public DicomTimeout Kind { get; } = kind;
    public TimeSpan After { get; } = after;
}
