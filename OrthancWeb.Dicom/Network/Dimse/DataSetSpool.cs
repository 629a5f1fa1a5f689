using OrthancWeb.Dicom.Network.Association;

namespace OrthancWeb.Dicom.Network.Dimse;

/// <summary>
/// Where an incoming data set goes once it is larger than <see cref="Threshold"/>, instead of memory: the C-STORE SCP
/// writes it straight to the file it will be stored as. Without a spool, each association could hold a data set of up
/// to <see cref="AssociationOptions.MaxMessageLength"/> in memory, and every association at once.
/// </summary>
public interface IDataSetSpool
{
    /// <summary>Bytes of a data set kept in memory; past this its fragments go to the sink of <see cref="Open"/>.</summary>
    long Threshold { get; }

    /// <summary>
    /// A sink for the data set of <paramref name="request"/> (its command set and presentation context known), or null
    /// when this request's data set is not one to spool: the association is then aborted, since a data set past the
    /// threshold may not be held in memory either.
    /// </summary>
    IDataSetSink? Open(DicomAssociation association, DimseMessage request);
}

/// <summary>
/// Receives one data set's fragments in order, then <see cref="Complete"/>. The message handed on carries it as
/// <see cref="DimseMessage.SpooledData"/>, and whoever handles the message disposes it; disposing a sink that was never
/// handed on (the association aborted half way) must throw its bytes away.
/// </summary>
public interface IDataSetSink : IDisposable
{
    void Write(ReadOnlySpan<byte> fragment);

    void Complete();
}
