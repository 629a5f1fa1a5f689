using System.Diagnostics.Metrics;

namespace OrthancWeb.Dicom.Network.Services;

/// <summary>
/// The SCP's association figures, published on a System.Diagnostics.Metrics meter (free when nothing listens): how
/// many associations are open now, and how many were accepted or refused (by policy, limits, TLS or a bad request).
/// </summary>
public static class DicomServerMetrics
{
    public const string MeterName = "OrthancWeb.Dicom.Network";
    public const string ActiveName = "dicom.associations.active";

    private static readonly Meter Meter = new(MeterName);
    private static readonly UpDownCounter<long> Active = Meter.CreateUpDownCounter<long>(ActiveName, description: "Associations open now");
    private static readonly Counter<long> Associations = Meter.CreateCounter<long>("dicom.associations", description: "Associations requested, by outcome");

    internal static void Accepted()
    {
        Associations.Add(1, new KeyValuePair<string, object?>("outcome", "accepted"));
        Active.Add(1);
    }

    internal static void Ended() => Active.Add(-1);

    internal static void Refused() => Associations.Add(1, new KeyValuePair<string, object?>("outcome", "refused"));
}
