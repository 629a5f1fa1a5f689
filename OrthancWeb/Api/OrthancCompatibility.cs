namespace OrthancWeb.Api;

/// <summary>
/// The Orthanc release whose REST API ours answers like, as /system reports it to scripts that compare versions:
/// Debian's orthanc, the reference of the differential tests.
/// </summary>
public static class OrthancCompatibility
{
    public const string Version = "1.10.1";
    public const int ApiVersion = 16;
    public const int DatabaseVersion = 6;
}
