using System.Globalization;

namespace OrthancWeb.Index;

/// <summary>Orthanc writes times as local ISO basic format, "20240131T235959".</summary>
public static class OrthancTime
{
    public static string Format(DateTime utc) =>
        DateTime.SpecifyKind(utc, DateTimeKind.Utc).ToLocalTime().ToString("yyyyMMdd'T'HHmmss", CultureInfo.InvariantCulture);
}
