using System.Globalization;
using System.Text;

namespace OrthancWeb.Monitoring;

/// <summary>
/// Prometheus' text exposition format, version 0.0.4 (prometheus.io/docs/instrumenting/exposition_formats): a metric
/// name of [a-zA-Z_:][a-zA-Z0-9_:]*, labels in braces, a float value, optionally a timestamp in milliseconds.
/// </summary>
public static class PrometheusText
{
    public const string ContentType = "text/plain; version=0.0.4";

    /// <summary>An OpenTelemetry-style name (dots, dashes) as a Prometheus name (underscores).</summary>
    public static string Name(string name)
    {
        var chars = name.ToCharArray();
        for (var i = 0; i < chars.Length; i++)
            if (!(char.IsAsciiLetterOrDigit(chars[i]) || chars[i] is '_' or ':')) chars[i] = '_';
        return chars.Length > 0 && char.IsAsciiDigit(chars[0]) ? "_" + new string(chars) : new string(chars);
    }

    /// <summary>The unit as Prometheus names carry it (base units spelled out).</summary>
    public static string UnitSuffix(string? unit) => unit switch
    {
        "s" => "_seconds",
        "ms" => "_milliseconds",
        "By" => "_bytes",
        _ => "",
    };

    /// <summary>A label value or help text with its backslashes, quotes and line breaks escaped.</summary>
    public static string Escape(string value) => value.Replace("\\", "\\\\", StringComparison.Ordinal)
        .Replace("\"", "\\\"", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);

    public static string With(string labels, string more) => labels.Length == 0 ? more : labels + "," + more;

    public static void Line(StringBuilder text, string name, string labels, double value, long? timestampMs = null)
    {
        text.Append(name);
        if (labels.Length > 0) text.Append('{').Append(labels).Append('}');
        text.Append(' ').Append(double.IsPositiveInfinity(value) ? "+Inf" : value.ToString("R", CultureInfo.InvariantCulture));
        if (timestampMs is { } t) text.Append(' ').Append(t.ToString(CultureInfo.InvariantCulture));
        text.Append('\n');
    }
}
