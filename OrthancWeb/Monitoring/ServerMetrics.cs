using System.Globalization;
using System.Text;
using Microsoft.Extensions.Options;
using OrthancWeb.Index;
using OrthancWeb.Ingest;
using OrthancWeb.Jobs;
using OrthancWeb.Storage;

namespace OrthancWeb.Monitoring;

/// <summary>
/// What /tools/metrics-prometheus answers: first the figures Orthanc publishes under its own names (so that a
/// dashboard built for Orthanc keeps working), then ours from <see cref="MetricsCollector"/>.
/// </summary>
public sealed class ServerMetrics(MetricsCollector collector, IndexQueries index, JobEngine jobs, TimeProvider time, IOptions<MonitoringOptions> options)
{
    private volatile bool _enabled = options.Value.MetricsEnabled;

    /// <summary>Whether the figures are published (Orthanc's MetricsEnabled, changed by PUT /tools/metrics).</summary>
    public bool Enabled { get => _enabled; set => _enabled = value; }

    public async Task<string> ScrapeAsync(CancellationToken ct)
    {
        if (!Enabled) return "";
        var text = new StringBuilder();
        var stats = await index.StatisticsAsync(ct);
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var states = jobs.List().GroupBy(j => j.State).ToDictionary(g => g.Key, g => g.Count());
        int Jobs(JobState s) => states.GetValueOrDefault(s);
        const double MB = 1024 * 1024;
        // Orthanc 1.10's names, values and millisecond timestamps: gauges, as it publishes them.
        (string Name, double Value)[] orthanc =
        [
            ("orthanc_count_instances", stats.CountInstances),
            ("orthanc_count_patients", stats.CountPatients),
            ("orthanc_count_series", stats.CountSeries),
            ("orthanc_count_studies", stats.CountStudies),
            ("orthanc_disk_size_mb", stats.TotalDiskSize / MB),
            ("orthanc_jobs_completed", Jobs(JobState.Success) + Jobs(JobState.Failure)),
            ("orthanc_jobs_failed", Jobs(JobState.Failure)),
            ("orthanc_jobs_pending", Jobs(JobState.Pending) + Jobs(JobState.Retry) + Jobs(JobState.Paused)),
            ("orthanc_jobs_running", Jobs(JobState.Running)),
            ("orthanc_jobs_success", Jobs(JobState.Success)),
            ("orthanc_rest_api_active_requests", collector.Sum("Microsoft.AspNetCore.Hosting", "http.server.active_requests")),
            ("orthanc_rest_api_duration_ms", collector.Last("Microsoft.AspNetCore.Hosting", "http.server.request.duration") * 1000),
            ("orthanc_storage_create_duration_ms", collector.Last(StorageMetrics.MeterName, StorageMetrics.DurationName, "operation", "create")),
            ("orthanc_storage_read_duration_ms", collector.Last(StorageMetrics.MeterName, StorageMetrics.DurationName, "operation", "read")),
            ("orthanc_storage_remove_duration_ms", collector.Last(StorageMetrics.MeterName, StorageMetrics.DurationName, "operation", "remove")),
            ("orthanc_store_dicom_duration_ms", collector.Last(IngestMetrics.MeterName, IngestMetrics.DurationName)),
            ("orthanc_uncompressed_size_mb", stats.TotalUncompressedSize / MB),
        ];
        // Nine significant digits, as Orthanc prints them (a dashboard comparing servers sees the same figures).
        foreach (var (name, value) in orthanc)
            PrometheusText.Line(text, name, "", double.Parse(value.ToString("G9", CultureInfo.InvariantCulture), CultureInfo.InvariantCulture), now);
        collector.WriteTo(text);
        return text.ToString();
    }
}
