namespace OrthancWeb.Index;

/// <summary>
/// How an instance arrived, as the index records it: Orthanc's instance metadata Origin, RemoteIP, RemoteAET and
/// CalledAET, and any more the caller adds (ModifiedFrom, AnonymizedFrom).
/// </summary>
/// <param name="Origin">Orthanc's request origin: RestApi, DicomProtocol, WebUI, ...</param>
/// <param name="Overwrite">Replace a stored copy of the same instance, whatever OverwriteInstances says (modification in place).</param>
public readonly record struct InstanceArrival(
    string Origin,
    string? RemoteIp,
    string? RemoteAet,
    string? CalledAet,
    IReadOnlyList<(string Name, string Value)> Metadata,
    bool Overwrite)
{
    /// <summary>Metadata for the parents the instance creates (see <c>IngestSource.ParentMetadata</c>); null for none.</summary>
    public IReadOnlyList<(ResourceLevel Level, string Name, string Value)>? ParentMetadata { get; init; }
}

/// <summary>What the index did with an instance (Orthanc's StoreStatus).</summary>
public enum StoreStatus
{
    Success,
    AlreadyStored,
    /// <summary>A storage limit is reached and no patient can be recycled: nothing was changed for the instance.</summary>
    StorageFull,
}

public readonly record struct StoreOutcome(StoreStatus Status, string? Reason = null);
