namespace OrthancWeb.Dicom;

/// <summary>
/// The root of the toolkit's failures, so that a caller can tell "the DICOM side said no" from a bug in one catch:
/// malformed data (<see cref="Data.DicomReadException"/>), pixel data that cannot be decoded
/// (<see cref="Imaging.ImagingException"/>), a request that breaks a rule (<see cref="DicomValidationException"/>), and
/// every failure of talking to a peer (<see cref="Network.DicomNetworkException"/> and its kinds).
/// </summary>
public abstract class DicomException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// A request that breaks a rule before anything is done (an unknown tag, a value out of range, a forbidden change): the
/// caller's mistake, to be told back with the reason (HTTP 400), never a server failure.
/// </summary>
public class DicomValidationException(string message, Exception? inner = null) : DicomException(message, inner);
