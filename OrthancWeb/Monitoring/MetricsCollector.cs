using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text;

namespace OrthancWeb.Monitoring;

/// <summary>
/// Listens to the server's own meters (every capability publishes on a System.Diagnostics.Metrics meter named
/// "OrthancWeb...", the toolkit's network on "OrthancWeb.Dicom.Network") and to ASP.NET Core's (HTTP requests,
/// Kestrel connections), and keeps what a scrape needs: a sum per counter and label set, and a fixed-bucket histogram
/// per histogram. Publishing costs an instrument call when nothing listens; here one listener aggregates in memory.
/// </summary>
public sealed class MetricsCollector : IDisposable
{
    /// <summary>The meters listened to: ours, and the two of ASP.NET Core that say how the web side is doing.</summary>
    private static bool Wanted(Meter meter) =>
        meter.Name.StartsWith("OrthancWeb", StringComparison.Ordinal)
        || meter.Name is "Microsoft.AspNetCore.Hosting" or "Microsoft.AspNetCore.Server.Kestrel";

    /// <summary>Upper bounds of the histogram buckets, in the instrument's own unit (ms or s): 1 ms to 60 s.</summary>
    private static readonly double[] MillisecondBounds = [1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 60000];
    private static readonly double[] SecondBounds = [.. MillisecondBounds.Select(b => b / 1000)];

    private readonly MeterListener _listener = new();
    private readonly ConcurrentDictionary<(Instrument Instrument, string Labels), Series> _series = new();

    public MetricsCollector()
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (Wanted(instrument.Meter)) listener.EnableMeasurementEvents(instrument);
        };
        _listener.SetMeasurementEventCallback<long>((i, value, tags, _) => Record(i, value, tags));
        _listener.SetMeasurementEventCallback<int>((i, value, tags, _) => Record(i, value, tags));
        _listener.SetMeasurementEventCallback<double>((i, value, tags, _) => Record(i, value, tags));
        _listener.Start();
    }

    public void Dispose() => _listener.Dispose();

    private void Record(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var series = _series.GetOrAdd((instrument, Labels(tags)), static key => new Series(key.Instrument));
        series.Add(value);
    }

    /// <summary>Prometheus label text for a measurement's tags, in a fixed order so that one set is one series.</summary>
    private static string Labels(ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        if (tags.Length == 0) return "";
        var pairs = new List<(string Key, string Value)>(tags.Length);
        foreach (var (key, value) in tags)
        {
            // ASP.NET Core tags each request with its route template and more: keep what stays few (method, status,
            // scheme); a label per URL would make a series per resource.
            if (key is "url.scheme" or "server.address" or "server.port" or "network.protocol.version" or "network.transport" or "network.type" or "http.route") continue;
            pairs.Add((PrometheusText.Name(key), Convert.ToString(value, CultureInfo.InvariantCulture) ?? ""));
        }
        pairs.Sort((a, b) => string.CompareOrdinal(a.Key, b.Key));
        return string.Join(",", pairs.Select(p => $"{p.Key}=\"{PrometheusText.Escape(p.Value)}\""));
    }

    /// <summary>The current value of an up-down counter or counter, summed over its label sets (0 when never used).</summary>
    public double Sum(string meter, string instrument) =>
        _series.Where(s => s.Key.Instrument.Meter.Name == meter && s.Key.Instrument.Name == instrument).Sum(s => s.Value.Total);

    /// <summary>
    /// The last value a histogram recorded, of the series with the label given if any (Orthanc's "duration" metrics
    /// are the last one seen).
    /// </summary>
    public double Last(string meter, string instrument, string? label = null, string? value = null) =>
        _series.Where(s => s.Key.Instrument.Meter.Name == meter && s.Key.Instrument.Name == instrument
                           && (label is null || s.Key.Labels.Split(',').Contains($"{PrometheusText.Name(label)}=\"{value}\"")))
            .Select(s => s.Value).MaxBy(s => s.LastAt)?.LastValue ?? 0;

    /// <summary>Every series in Prometheus' text exposition format 0.0.4, one family per instrument.</summary>
    public void WriteTo(StringBuilder text)
    {
        foreach (var family in _series.GroupBy(s => s.Key.Instrument).OrderBy(g => g.Key.Meter.Name, StringComparer.Ordinal).ThenBy(g => g.Key.Name, StringComparer.Ordinal))
        {
            var instrument = family.Key;
            var name = PrometheusText.Name(instrument.Name) + PrometheusText.UnitSuffix(instrument.Unit);
            var kind = instrument switch
            {
                Histogram<double> or Histogram<long> or Histogram<int> => "histogram",
                Counter<long> or Counter<int> or Counter<double> => "counter",
                _ => "gauge",
            };
            if (kind == "counter") name += "_total";
            text.Append("# HELP ").Append(name).Append(' ').Append(PrometheusText.Escape(instrument.Description ?? instrument.Name)).Append('\n');
            text.Append("# TYPE ").Append(name).Append(' ').Append(kind).Append('\n');
            foreach (var ((_, labels), series) in family.OrderBy(s => s.Key.Labels, StringComparer.Ordinal))
            {
                if (kind != "histogram")
                {
                    PrometheusText.Line(text, name, labels, series.Total);
                    continue;
                }
                var (counts, sum, count) = series.Histogram();
                var bounds = series.Bounds;
                long cumulative = 0;
                for (var b = 0; b < bounds.Length; b++)
                {
                    cumulative += counts[b];
                    PrometheusText.Line(text, name + "_bucket", PrometheusText.With(labels, $"le=\"{bounds[b].ToString(CultureInfo.InvariantCulture)}\""), cumulative);
                }
                PrometheusText.Line(text, name + "_bucket", PrometheusText.With(labels, "le=\"+Inf\""), count);
                PrometheusText.Line(text, name + "_sum", labels, sum);
                PrometheusText.Line(text, name + "_count", labels, count);
            }
        }
    }

    /// <summary>One instrument with one label set: its running total, or its histogram.</summary>
    private sealed class Series(Instrument instrument)
    {
        private readonly Lock _lock = new();
        private double _total, _sum, _last;
        private long _count, _lastAt;
        private readonly long[] _buckets = new long[(instrument.Unit == "s" ? SecondBounds : MillisecondBounds).Length];

        public double[] Bounds { get; } = instrument.Unit == "s" ? SecondBounds : MillisecondBounds;
        private readonly bool _isHistogram = instrument is Histogram<double> or Histogram<long> or Histogram<int>;

        public double Total { get { lock (_lock) return _total; } }
        public double LastValue { get { lock (_lock) return _last; } }
        public long LastAt { get { lock (_lock) return _lastAt; } }

        public void Add(double value)
        {
            lock (_lock)
            {
                _last = value;
                _lastAt = System.Diagnostics.Stopwatch.GetTimestamp();
                if (!_isHistogram) { _total += value; return; }
                _sum += value;
                _count++;
                var b = Array.FindIndex(Bounds, bound => value <= bound);
                if (b >= 0) _buckets[b]++;
            }
        }

        public (long[] Counts, double Sum, long Count) Histogram()
        {
            lock (_lock) return ((long[])_buckets.Clone(), _sum, _count);
        }
    }
}
