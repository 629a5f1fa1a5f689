using OrthancWeb.Dicom.Data;

namespace OrthancWeb.Networking;

/// <summary>
/// A chance to rewrite a C-FIND identifier (Orthanc's Lua IncomingFindRequestFilter and OutgoingFindRequestFilter):
/// one a modality sent us, before the index is searched, and one we send a modality. Provided by Scripting; null
/// leaves the identifier as it was.
/// </summary>
public interface IFindRequestFilter
{
    Task<DicomDataset?> FilterIncomingAsync(DicomDataset identifier, string remoteAet, string? remoteIp, string calledAet, CancellationToken ct);

    Task<DicomDataset?> FilterOutgoingAsync(DicomDataset identifier, ModalityOptions modality, CancellationToken ct);
}
