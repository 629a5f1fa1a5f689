namespace OrthancWeb.DicomWeb.Ohif;

/// <summary>The OHIF viewer's settings, in the "OrthancWeb" section of appsettings.json.</summary>
public sealed class OhifOptions
{
    /// <summary>False hides OHIF (no /ohif/, no Open in OHIF buttons) even when the build fetched it.</summary>
    public bool OhifEnabled { get; set; } = true;

    /// <summary>
    /// The folder of OHIF's built viewer (its dist/, with index.html), relative to the configuration file's folder.
    /// Empty: ohif/ next to the server (a published server), else the bundle the build fetched (under obj/).
    /// </summary>
    public string OhifPath { get; set; } = "";

    /// <summary>Null when valid, else what is wrong (checked at start-up).</summary>
    internal string? Problem() =>
        OhifPath.IndexOfAny(Path.GetInvalidPathChars()) >= 0 || OhifPath.Contains('\0', StringComparison.Ordinal)
            ? $"OrthancWeb:OhifPath is not a path: '{OhifPath}'"
            : null;
}
