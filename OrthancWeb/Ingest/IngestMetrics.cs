using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace OrthancWeb.Ingest;

/// <summary>
/// The ingest path's figures, published on a System.Diagnostics.Metrics meter: what was stored, by which way and with
/// what outcome, and how long the store took from received bytes to the answer (the file durable and indexed).
/// </summary>
public static class IngestMetrics
{
    public const string MeterName = "OrthancWeb.Ingest";
    public const string DurationName = "orthancweb.ingest.duration";

    private static readonly Meter Meter = new(MeterName);
    private static readonly Counter<long> Instances = Meter.CreateCounter<long>("orthancweb.ingest.instances", description: "Instances received, by origin and outcome");
    private static readonly Counter<long> Bytes = Meter.CreateCounter<long>("orthancweb.ingest.stored", "By", "Bytes of instances stored, by origin");
    private static readonly Histogram<double> Duration = Meter.CreateHistogram<double>(DurationName, "ms", "Time to store one instance durably, by origin");

    internal static long Start() => Stopwatch.GetTimestamp();

    internal static void Record(IngestSource source, IngestStatus status, long bytes, long started)
    {
        var origin = new KeyValuePair<string, object?>("origin", source.Origin.ToString());
        Instances.Add(1, origin, new KeyValuePair<string, object?>("outcome", status.ToString()));
        if (status != IngestStatus.Success) return;
        Bytes.Add(bytes, origin);
        Duration.Record(Stopwatch.GetElapsedTime(started).TotalMilliseconds, origin);
    }
}
