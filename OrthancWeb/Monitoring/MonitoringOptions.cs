namespace OrthancWeb.Monitoring;

public sealed class MonitoringOptions
{
    /// <summary>
    /// Orthanc's MetricsEnabled: /tools/metrics-prometheus answers the figures (when off, an empty answer, as
    /// Orthanc's). PUT /tools/metrics changes it until the server stops.
    /// </summary>
    public bool MetricsEnabled { get; set; } = true;
}
