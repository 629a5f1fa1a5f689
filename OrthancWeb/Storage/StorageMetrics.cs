using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace OrthancWeb.Storage;

/// <summary>
/// How long the storage area takes to create (move into place, or compress), read and remove a file, by operation:
/// the figures behind Orthanc's orthanc_storage_*_duration_ms.
/// </summary>
public static class StorageMetrics
{
    public const string MeterName = "OrthancWeb.Storage";
    public const string DurationName = "orthancweb.storage.duration";

    private static readonly Meter Meter = new(MeterName);
    private static readonly Histogram<double> Duration = Meter.CreateHistogram<double>(DurationName, "ms", "Time of one storage area operation (create, read, remove)");

    internal static void Record(string operation, long started) =>
        Duration.Record(Stopwatch.GetElapsedTime(started).TotalMilliseconds, new KeyValuePair<string, object?>("operation", operation));
}
